// GET /metrics: the Prometheus text exposition, when this build has the metrics module.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError } from "../http.js";

export function metricsRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const render = ctx.deps.renderMetrics;
    if (!render) {
      throw new ApiError(
        404,
        "not_found",
        "metrics are not available in this build of holdfast",
        "use `holdfast status --json` or the metrics textfile (metrics.textfile) meanwhile",
      );
    }
    const text = await render();
    return c.body(ctx.redactor.redact(text), 200, {
      "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  return app;
}
