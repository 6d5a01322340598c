// GET /api/status: the JSON of `holdfast status --json`.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import { computeJobStatuses } from "../../engine/job-status.js";
import { recoverInterruptedRuns } from "../../engine/recover.js";
import { freshnessOf } from "../freshness.js";

export function statusRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/status", async (c) => {
    await recoverInterruptedRuns(ctx.store, { host: ctx.config.host, now: ctx.now });
    const now = ctx.now();
    const jobs = (await computeJobStatuses(ctx.config, ctx.store, now)).map((j) => {
      const job = ctx.config.jobs[j.name];
      return job ? { ...j, ...freshnessOf(job, j, now) } : j;
    });
    // stale_for_ms counts up at every call; for the ETag it counts in minutes, so a dashboard that
    // polls an overdue job gets 304s, its "overdue for" at most a minute behind.
    const basis = {
      jobs: jobs.map((j) => ({
        ...j,
        stale_for_ms: j.stale_for_ms === null ? null : Math.floor(j.stale_for_ms / 60_000),
      })),
    };
    return sendJson(c, ctx.redactor, { jobs }, 200, basis);
  });
  return app;
}
