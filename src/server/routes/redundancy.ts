// GET /api/redundancy: sources × repositories, latest snapshot ages and the 3-2-1 verdict per source.
import type { Hono } from "hono";
import type { ServerContext } from "../app.js";
import { sendJson } from "../http.js";
import { computeRedundancy } from "../redundancy.js";

export function registerRedundancyRoutes(app: Hono, ctx: ServerContext): void {
  app.get("/api/redundancy", async (c) =>
    sendJson(c, ctx.redactor, await computeRedundancy(ctx.config, ctx.store, ctx.now())),
  );
}
