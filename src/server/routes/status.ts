// GET /api/status: the JSON of `holdfast status --json`.
import type { Hono } from "hono";
import type { ServerContext } from "../app.js";
import { sendJson } from "../http.js";
import { computeJobStatuses } from "../../engine/job-status.js";
import { recoverInterruptedRuns } from "../../engine/recover.js";

export function registerStatusRoutes(app: Hono, ctx: ServerContext): void {
  app.get("/api/status", async (c) => {
    await recoverInterruptedRuns(ctx.store, { host: ctx.config.host, now: ctx.now });
    const jobs = await computeJobStatuses(ctx.config, ctx.store, ctx.now());
    return sendJson(c, ctx.redactor, { jobs });
  });
}
