// GET /api/runs (as `history --json`), GET /api/runs/:id (as `show --json`), a run's logs as text (and
// one step's as it is written: GET /api/runs/:id/logs/follow, server/log-follow.ts), and
// POST /api/runs/:id/cancel: SIGTERM to the run's own process (as `systemctl stop` would), which
// stops the current step, skips the rest but the always steps, and records the run `cancelled`.
import fs from "node:fs";
import readline from "node:readline";
import { createGunzip } from "node:zlib";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import { isHoldfastProcessAlive, recoverInterruptedRuns } from "../../engine/recover.js";
import { readLockHolder } from "../../engine/job-lock.js";
import { findStepLog, stepLogRefusal } from "../../engine/step-log.js";
import { READ_NO_FOLLOW } from "../../util/trusted-dir.js";
import type { RunRecord, RunStore, StepRecord } from "../../store/types.js";
import type { CancelResponse } from "../api-types.js";
import { followOffset, followStepLog } from "../log-follow.js";
import { own } from "../../util/own.js";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 10_000;

/** A run by full id, unique prefix, or `latest` — the same references as `holdfast show`. */
export async function findRun(store: RunStore, ref: string): Promise<RunRecord> {
  if (!/^[0-9A-Za-z]{1,64}$/.test(ref)) {
    throw new ApiError(
      400,
      "bad_request",
      `"${ref}" is not a run id`,
      "use an id, a unique prefix of it, or `latest`",
    );
  }
  if (ref === "latest" || ref === "last") {
    const [run] = await store.listRuns({ limit: 1 });
    if (!run) throw new ApiError(404, "not_found", "there are no runs yet", "start one with `holdfast run`");
    return run;
  }
  const exact = await store.getRun(ref);
  if (exact) return exact;
  const ids = await store.findRunIds(ref.toUpperCase(), 2);
  if (ids.length === 1 && ids[0]) {
    const run = await store.getRun(ids[0]);
    if (run) return run;
  }
  if (ids.length > 1)
    throw new ApiError(
      400,
      "bad_request",
      `run id prefix "${ref}" is ambiguous`,
      "give more characters of the id",
    );
  throw new ApiError(404, "not_found", `no run "${ref}"`, "see the ids in GET /api/runs");
}

async function cursorRun(store: RunStore, id: string): Promise<string> {
  if ((await store.getRun(id)) === null)
    throw new ApiError(
      400,
      "bad_request",
      `before_run=${id} is no run in the history`,
      "use next_before_run of the previous page",
    );
  return id;
}

export function runRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/runs", async (c) => {
    const job = c.req.query("job");
    const limitText = c.req.query("limit");
    const before = c.req.query("before");
    const beforeRun = c.req.query("before_run");
    const limit = limitText === undefined || limitText === "" ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new ApiError(400, "bad_request", `limit=${limitText} is not a number from 1 to ${MAX_LIMIT}`);
    }
    if (
      job !== undefined &&
      job !== "" &&
      !own(ctx.config.jobs, job) &&
      job !== "@restore" &&
      job !== "@download"
    ) {
      throw new ApiError(
        400,
        "bad_request",
        `no job named "${job}"`,
        `jobs in the config: ${Object.keys(ctx.config.jobs).join(", ")}`,
      );
    }
    let beforeIso: string | undefined;
    if (before !== undefined && before !== "") {
      const ms = Date.parse(before);
      if (Number.isNaN(ms))
        throw new ApiError(
          400,
          "bad_request",
          `before=${before} is not an ISO-8601 time`,
          "e.g. before=2026-11-26T03:00:00Z",
        );
      beforeIso = new Date(ms).toISOString();
    }
    await recoverInterruptedRuns(ctx.store, { host: ctx.config.host, now: ctx.now });
    const runs = await ctx.store.listRuns({
      limit,
      ...(job ? { job } : {}),
      ...(beforeIso !== undefined ? { before: beforeIso } : {}),
      ...(beforeRun !== undefined && beforeRun !== ""
        ? { before_run: await cursorRun(ctx.store, beforeRun) }
        : {}),
    });
    const last = runs.at(-1);
    // Extra fields (the contract allows additions): the cursor of the next page. `next_before_run`
    // follows the order the runs were recorded in; `next_before` (a time) skips runs when a clock stepped.
    const more = runs.length === limit && last !== undefined;
    return sendJson(c, ctx.redactor, {
      runs,
      next_before: more ? last.started_at : null,
      next_before_run: more ? last.id : null,
    });
  });

  app.get("/api/runs/:id", async (c) =>
    sendJson(c, ctx.redactor, await findRun(ctx.store, c.req.param("id"))),
  );

  app.get("/api/runs/:id/logs", async (c) => {
    const run = await findRun(ctx.store, c.req.param("id"));
    const stepName = c.req.query("step");
    let steps = run.steps;
    if (stepName !== undefined && stepName !== "") {
      steps = run.steps.filter((s) => s.name === stepName);
      if (steps.length === 0) {
        throw new ApiError(
          404,
          "not_found",
          `run ${run.id} has no step "${stepName}"`,
          `its steps: ${run.steps.map((s) => s.name).join(", ")}`,
        );
      }
    }
    const withHeaders = steps.length > 1 || !stepName;
    c.header("Content-Type", "text/plain; charset=utf-8");
    // Streamed line by line: a step log can be tens of megabytes of restic -v output.
    return stream(c, async (out) => {
      for (const step of steps) {
        if (withHeaders) await out.write(`==> ${step.name} (${step.status})\n`);
        await writeStepLog(ctx.config.state_dir, step, (line) => out.write(`${ctx.redactor.redact(line)}\n`));
      }
    });
  });
  // The log of one step as it is written (server/log-follow.ts): Server-Sent Events from a byte offset.
  app.get("/api/runs/:id/logs/follow", async (c) => {
    const run = await findRun(ctx.store, c.req.param("id"));
    const stepName = c.req.query("step");
    if (stepName === undefined || stepName === "") {
      throw new ApiError(
        400,
        "bad_request",
        "step= is needed: a log stream follows one step",
        `its steps: ${run.steps.map((s) => s.name).join(", ")}`,
      );
    }
    const step = run.steps.find((s) => s.name === stepName);
    if (!step) {
      throw new ApiError(
        404,
        "not_found",
        `run ${run.id} has no step "${stepName}"`,
        `its steps: ${run.steps.map((s) => s.name).join(", ")}`,
      );
    }
    const from = followOffset(c.req.header("Last-Event-ID") ?? c.req.query("from"));
    return followStepLog(ctx, { run, step, from, signal: c.req.raw.signal });
  });
  app.post("/api/runs/:id/cancel", async (c) => {
    const run = await findRun(ctx.store, c.req.param("id"));
    if (run.status !== "running") {
      throw new ApiError(409, "conflict", `run ${run.id} is not running (it ${run.status})`, null);
    }
    // A restore or download this server runs itself: its own cancel.
    const op = ctx.operations?.get(run.id);
    if (op) {
      op.cancel.abort("cancelled");
      const answer: CancelResponse = { run_id: run.id, pid: process.pid, state: "cancelling" };
      return sendJson(c, ctx.redactor, answer, 202);
    }
    if (run.host !== ctx.config.host) {
      throw new ApiError(
        409,
        "conflict",
        `run ${run.id} runs on host ${run.host}, not on this one (${ctx.config.host})`,
        `cancel it there: holdfast serve on ${run.host}, or systemctl stop holdfast@${run.job}`,
      );
    }
    // The pid recorded for the run is signalled only while the job's lock names that run (or that
    // pid) and it is a live holdfast process: a pid reused by another program since is never hit.
    const holder = readLockHolder(ctx.config.state_dir, run.job);
    const holds =
      holder !== null &&
      run.pid !== null &&
      holder.pid === run.pid &&
      (holder.run_id === undefined || holder.run_id === run.id) &&
      run.pid !== process.pid &&
      isHoldfastProcessAlive(run.pid);
    if (!holds || run.pid === null) {
      throw new ApiError(
        409,
        "conflict",
        `run ${run.id} is recorded running, but no live holdfast process of it holds job ${run.job}'s lock`,
        "it ended without recording its end (killed, or the host went down); `holdfast status` marks it interrupted",
      );
    }
    try {
      process.kill(run.pid, "SIGTERM");
    } catch (err) {
      throw new ApiError(
        409,
        "conflict",
        `run ${run.id} (pid ${run.pid}) could not be signalled: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        "the server runs as another user than the run; cancel it with systemctl stop, or as that user",
      );
    }
    const answer: CancelResponse = { run_id: run.id, pid: run.pid, state: "cancelling" };
    return sendJson(c, ctx.redactor, answer, 202);
  });
  return app;
}

async function writeStepLog(
  stateDir: string,
  step: StepRecord,
  write: (line: string) => Promise<unknown>,
): Promise<void> {
  const refusal = step.log_path ? stepLogRefusal(stateDir, step.log_path) : null;
  if (refusal) {
    await write(`(${refusal})`);
    return;
  }
  const file = step.log_path ? findStepLog(stateDir, step.log_path) : null;
  if (!file) {
    if (step.status !== "skipped" && step.status !== "pending") await write("(no output captured)");
    return;
  }
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, READ_NO_FOLLOW);
  } catch (err) {
    await write(`(the log could not be read: ${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return;
  }
  const input = handle.createReadStream();
  const gunzip = file.endsWith(".gz") ? createGunzip() : null;
  // pipe() does not forward errors; readline reports its input's errors through the iterator.
  if (gunzip) input.on("error", (err) => gunzip.destroy(err));
  const lines = readline.createInterface({ input: gunzip ? input.pipe(gunzip) : input, crlfDelay: Infinity });
  try {
    for await (const line of lines) await write(line);
  } catch (err) {
    await write(`(the log could not be read: ${(err as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
    gunzip?.destroy();
  }
}
