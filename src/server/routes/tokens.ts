// GET /api/tokens (operator only, auth.ts): the named tokens that exist — names, roles, dates, never a
// value or a hash. They are made and removed with `holdfast serve token add|remove`, not over HTTP.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { sendJson } from "../http.js";
import type { TokensResponse } from "../api-types.js";

export function tokenRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/api/tokens", (c) =>
    sendJson(c, ctx.redactor, { tokens: ctx.tokens.list() } satisfies TokensResponse),
  );
  return app;
}
