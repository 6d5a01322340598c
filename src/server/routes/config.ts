// GET /api/config: the effective config as `holdfast config show --json` prints it, secrets masked.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import { maskConfig } from "../../config/mask.js";

export function configRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/config", (c) => sendJson(c, ctx.redactor, maskConfig(ctx.config)));
  return app;
}
