// GET /api/status: the JSON of `holdfast status --json`.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import { computeJobStatuses } from "../../engine/job-status.js";
import { recoverInterruptedRuns } from "../../engine/recover.js";

export function statusRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/status", async (c) => {
    await recoverInterruptedRuns(ctx.store, { host: ctx.config.host, now: ctx.now });
    const jobs = await computeJobStatuses(ctx.config, ctx.store, ctx.now());
    return sendJson(c, ctx.redactor, { jobs });
  });
  return app;
}
