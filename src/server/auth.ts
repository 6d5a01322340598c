// Access control (S4). No cookies anywhere, so there is nothing for another site to ride on (no CSRF):
// - with a token, every /api call and /metrics needs `Authorization: Bearer <token>`;
// - without one (loopback only), state-changing calls still need `X-Holdfast-Request: 1`, a header a
//   cross-site form or no-CORS fetch cannot set, and the Host must be a loopback name, so a DNS-rebinding
//   page that resolves its own name to 127.0.0.1 cannot read or drive the API.
import crypto from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "./http.js";
import { isLoopbackHost } from "./listen.js";

export const REQUEST_HEADER = "X-Holdfast-Request";

const callers = new WeakMap<Request, string>();

/** Who made a request, for the history: the token's role (and name), or "loopback" without tokens. */
export function whoIs(c: Context): string {
  return callers.get(c.req.raw) ?? "loopback";
}

/** Compares without leaking, through timing, how much of the token matched or how long it is. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = crypto.createHash("sha256").update(given, "utf8").digest();
  const b = crypto.createHash("sha256").update(expected, "utf8").digest();
  return crypto.timingSafeEqual(a, b);
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1] ?? null;
}

/** A one-time download link carries its own credential (routes/download.ts). */
const DOWNLOAD_LINK = /^\/api\/downloads\/[0-9a-f]{48}$/;

function isProtected(pathname: string): boolean {
  if (DOWNLOAD_LINK.test(pathname)) return false;
  return pathname === "/metrics" || pathname === "/api" || pathname.startsWith("/api/");
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function accessControl(token: string | null): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (token === null && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""))) {
      throw new ApiError(
        403,
        "forbidden",
        `requests for host "${url.hostname}" are refused: without a token the dashboard only answers to loopback names`,
        "open it as http://127.0.0.1:PORT/, or set server.token_file to serve it under another name",
      );
    }
    const needsToken = isProtected(url.pathname) || STATE_CHANGING.has(c.req.method);
    if (token !== null && needsToken) {
      const given = bearerToken(c.req.header("Authorization"));
      if (given !== null && tokensEqual(given, token)) callers.set(c.req.raw, "operator");
      if (given === null || !tokensEqual(given, token)) {
        throw new ApiError(
          401,
          "unauthorized",
          given === null ? "this call needs the API token" : "the API token is wrong",
          "send `Authorization: Bearer <token>` with the token from server.token_file",
        );
      }
    }
    if (token === null && STATE_CHANGING.has(c.req.method) && c.req.header(REQUEST_HEADER) !== "1") {
      throw new ApiError(
        403,
        "forbidden",
        `state-changing calls need the header ${REQUEST_HEADER}: 1`,
        `add -H '${REQUEST_HEADER}: 1' (it keeps other web sites from triggering runs through your browser)`,
      );
    }
    await next();
  };
}
