// GET /api/config: the effective config as `holdfast config show --json` prints it, secrets masked.
import type { Hono } from "hono";
import type { ServerContext } from "../app.js";
import { sendJson } from "../http.js";
import { maskConfig } from "../../config/mask.js";

export function registerConfigRoutes(app: Hono, ctx: ServerContext): void {
  app.get("/api/config", (c) => sendJson(c, ctx.redactor, maskConfig(ctx.config)));
}
