// Access control (S4). No cookies anywhere, so there is nothing for another site to ride on (no CSRF):
// - with a token (server.token_file, or named tokens of `holdfast serve token add`), every /api call
//   and /metrics needs `Authorization: Bearer <token>`; a viewer token may read, only an operator token
//   (or token_file's) may change anything — run, cancel, restore, download;
// - without one (loopback only), state-changing calls still need `X-Holdfast-Request: 1`, a header a
//   cross-site form or no-CORS fetch cannot set, and the Host must be a loopback name, so a DNS-rebinding
//   page that resolves its own name to 127.0.0.1 cannot read or drive the API.
import crypto from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "./http.js";
import { isLoopbackHost } from "./listen.js";
import type { Caller, TokenRegistry } from "./tokens.js";

export const REQUEST_HEADER = "X-Holdfast-Request";

const callers = new WeakMap<Request, Caller>();

/** Who made a request, for the history: the token's role and name ("operator:laptop", "operator" for
 * server.token_file), or "loopback" without tokens. */
export function whoIs(c: Context): string {
  const caller = callers.get(c.req.raw);
  if (!caller) return "loopback";
  return caller.name ? `${caller.role}:${caller.name}` : caller.role;
}

/** The role of a request's caller (operator on loopback without tokens). */
export function roleOf(c: Context): Caller["role"] {
  return callers.get(c.req.raw)?.role ?? "operator";
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

/** GETs that only an operator may make (the list of tokens). */
const OPERATOR_READS = new Set(["/api/tokens"]);

export function accessControl(tokens: TokenRegistry): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    // The path the router matches (Hono decodes %XX in it: /%61pi/status is routed as /api/status),
    // not url.pathname as sent — deciding on the encoded form let such a request past the token.
    const pathname = c.req.path;
    const required = tokens.required;
    if (!required && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""))) {
      throw new ApiError(
        403,
        "forbidden",
        `requests for host "${url.hostname}" are refused: without a token the dashboard only answers to loopback names`,
        "open it as http://127.0.0.1:PORT/, or set server.token_file to serve it under another name",
      );
    }
    const changing = STATE_CHANGING.has(c.req.method);
    const needsToken = isProtected(pathname) || changing;
    if (required && needsToken) {
      const given = bearerToken(c.req.header("Authorization"));
      const caller = given === null ? null : tokens.identify(given);
      if (caller === null) {
        throw new ApiError(
          401,
          "unauthorized",
          given === null ? "this call needs the API token" : "the API token is wrong",
          given === null
            ? "send `Authorization: Bearer <token>`: the content of server.token_file, or a token made by `holdfast serve token add`"
            : "the token is not (or no longer) one this server knows: check it was copied whole, or make a new one with `holdfast serve token add NAME --role viewer|operator`",
          { reason: given === null ? "missing" : "wrong" },
        );
      }
      callers.set(c.req.raw, caller);
      if (caller.role !== "operator" && (changing || OPERATOR_READS.has(pathname))) {
        throw new ApiError(
          403,
          "forbidden",
          `the token${caller.name ? ` "${caller.name}"` : ""} is a ${caller.role} token: it may look, but ${changing ? `not ${c.req.method} ${pathname} (run, cancel, restore and download need an operator token)` : `not read ${pathname}`}`,
          "use an operator token (`holdfast serve token add NAME --role operator` makes one)",
          { needs_role: "operator" },
        );
      }
    }
    if (!required && changing && c.req.header(REQUEST_HEADER) !== "1") {
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
