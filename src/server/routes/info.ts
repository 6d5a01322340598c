// GET /api/info: what this server can do, so the dashboard shows only what works.
import { Hono } from "hono";
import { packageVersion, type ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import type { InfoResponse } from "../api-types.js";
import { restoreRootOf } from "../restore-target.js";
import { roleOf } from "../auth.js";

export function infoRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/info", (c) =>
    sendJson(c, ctx.redactor, {
      role: roleOf(c),
      version: packageVersion(),
      host: ctx.config.host,
      now: ctx.now().toISOString(),
      token_required: ctx.tokens.required,
      restore_root: restoreRootOf(ctx.config),
      capabilities: {
        run: ctx.deps.runJob !== undefined,
        // Served by the server itself when it has restic (operations), else by a launcher (route tests).
        restore: ctx.operations !== null,
        metrics: ctx.deps.renderMetrics !== undefined,
        snapshots: ctx.deps.snapshots !== undefined,
        browse: ctx.snapshots !== null,
        download: ctx.operations !== null,
        events: true,
        cancel: true,
        follow_logs: true,
      },
      endpoints: [
        "GET /healthz",
        "GET /metrics",
        "GET /api/info",
        "GET /api/status",
        "GET /api/runs?job=&limit=&before=&before_run=",
        "GET /api/runs/:id",
        "POST /api/runs/:id/cancel",
        "GET /api/runs/:id/logs?step=",
        "GET /api/runs/:id/logs/follow?step=&from=",
        "GET /api/events",
        "GET /api/config",
        "GET /api/tokens",
        "GET /api/redundancy",
        ...(ctx.deps.snapshots ? ["GET /api/snapshots?repo=&source="] : []),
        "GET /api/repositories",
        "GET /api/repositories/:repo/snapshots?source=&host=&tag=&path=&q=&limit=&offset=&refresh=",
        "GET /api/repositories/:repo/snapshots/:id?source=",
        "GET /api/repositories/:repo/snapshots/:id/ls?path=",
        "POST /api/jobs/:job/run",
        "POST /api/restore",
        "GET /api/restores/:id",
        ...(ctx.operations ? ["POST /api/downloads", "GET /api/downloads/:ticket"] : []),
      ],
    } satisfies InfoResponse),
  );
  return app;
}
