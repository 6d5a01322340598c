// GET /api/redundancy: sources × repositories, latest snapshot ages and the 3-2-1 verdict per source.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import { computeRedundancy } from "../redundancy.js";

export function redundancyRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/redundancy", async (c) =>
    sendJson(c, ctx.redactor, await computeRedundancy(ctx.config, ctx.store, ctx.now())),
  );
  return app;
}
