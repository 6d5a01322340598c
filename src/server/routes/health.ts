// GET /healthz: for load balancers and monitors — 200 `ok` when the history can be read, else 503.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendText } from "../http.js";

export function healthRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    try {
      await ctx.store.countRuns();
      return sendText(c, ctx.redactor, "ok\n");
    } catch (err) {
      return sendText(c, ctx.redactor, `history unreadable: ${(err as Error).message}\n`, 503);
    }
  });
  return app;
}
