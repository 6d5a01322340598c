// POST /api/jobs/:job/run: starts `holdfast run JOB --trigger api` as a detached child and answers 202.
// The server never takes a job's lock itself (that could make a scheduled run exit 4): it reads the
// holder the lock leaves behind, and the child's own exit 4 covers a run that started in between.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import { readLockHolder } from "../../engine/job-lock.js";
import { isHoldfastProcessAlive } from "../../engine/recover.js";
import { own } from "../../util/own.js";

const EXIT_BUSY = 4;
const EXIT_USAGE = 2;

export function jobRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.post("/api/jobs/:job/run", async (c) => {
    const name = c.req.param("job");
    if (!own(ctx.config.jobs, name)) {
      throw new ApiError(
        404,
        "not_found",
        `no job named "${name}"`,
        `jobs in the config: ${Object.keys(ctx.config.jobs).join(", ")}`,
      );
    }
    // Optional body {steps: [...]}: Run now of some steps only (`holdfast run JOB --step NAME`).
    let steps: string[] = [];
    const text = await c.req.text();
    if (text.trim() !== "") {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, "bad_request", "the body is not JSON", '{"steps": ["home"]} or no body');
      }
      const list = (body as { steps?: unknown } | null)?.steps;
      const known = ctx.config.jobs[name]?.steps.map((s) => s.name) ?? [];
      if (
        list !== undefined &&
        (!Array.isArray(list) || list.some((s) => typeof s !== "string" || !known.includes(s)))
      ) {
        throw new ApiError(
          400,
          "bad_request",
          "steps must be a list of step names of the job",
          `steps of ${name}: ${known.join(", ")}`,
        );
      }
      steps = (list as string[] | undefined) ?? [];
    }
    const runJob = ctx.deps.runJob;
    if (!runJob)
      throw new ApiError(
        501,
        "not_implemented",
        "this server cannot start runs",
        "run `holdfast run` on the host",
      );

    const holder = readLockHolder(ctx.config.state_dir, name);
    // The holder file outlives a SIGKILLed holder, so it only counts with a live holdfast pid — and never
    // our own pid: this process holds no job locks, so such a file is a stale one from a reused pid.
    if (holder && holder.pid !== process.pid && isHoldfastProcessAlive(holder.pid)) {
      throw new ApiError(
        409,
        "conflict",
        `job "${name}" is already running (pid ${holder.pid} since ${holder.since})`,
        "wait for it to finish; its progress is in the history",
        { holder: { pid: holder.pid, since: holder.since } },
      );
    }

    const started = await runJob(name, steps);
    if (started.exit_code === EXIT_BUSY) {
      const now = readLockHolder(ctx.config.state_dir, name);
      throw new ApiError(
        409,
        "conflict",
        `job "${name}" is already running${now ? ` (pid ${now.pid} since ${now.since})` : ""}`,
        "wait for it to finish; its progress is in the history",
        { holder: now ? { pid: now.pid, since: now.since } : null },
      );
    }
    if (started.exit_code === EXIT_USAGE) {
      throw new ApiError(
        500,
        "internal",
        `holdfast run ${name} refused to start: ${lastLine(started.output_tail)}`,
        "check the config with `holdfast config validate` (serve keeps the config it started with)",
      );
    }
    return sendJson(
      c,
      ctx.redactor,
      {
        job: name,
        pid: started.pid,
        run_id: started.run_id,
        // null while the run goes on; set when it already ended within the wait.
        exit_code: started.exit_code,
        state: started.exit_code === null ? "started" : "finished",
        ...(steps.length ? { steps } : {}),
      },
      202,
    );
  });
  return app;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter(Boolean);
  return lines.slice(-3).join(" / ") || "no output";
}
