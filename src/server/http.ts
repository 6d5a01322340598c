// Response helpers shared by the routes: every body leaves through the redactor (S1), and every error
// has the same shape, {error: {kind, message, hint}}.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Redactor } from "../util/redact.js";
import { HoldfastError } from "../errors.js";

export type ApiErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "busy"
  | "not_implemented"
  | "unavailable"
  | "internal";

/** Thrown by a route for an expected failure; app.ts turns it into the JSON error body. */
export class ApiError extends HoldfastError {
  readonly status: ContentfulStatusCode;
  declare readonly kind: ApiErrorKind;
  readonly extra: Record<string, unknown>;
  /** Response headers that go with the error (Retry-After of a 429). */
  readonly headers: Record<string, string>;
  constructor(
    status: ContentfulStatusCode,
    kind: ApiErrorKind,
    message: string,
    hint: string | null = null,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message, { kind, hint });
    this.name = "ApiError";
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
}

/** Redacts every string (keys included) of a JSON-able value. Done before serialising, because a
 * secret with a quote or backslash in it would be escaped in JSON text and slip past a text search. */
export function redactDeep(value: unknown, redactor: Redactor): unknown {
  if (typeof value === "string") return redactor.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redactor));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [redactor.redact(k), redactDeep(v, redactor)]),
    );
  }
  return value;
}

/**
 * JSON text with every string (keys included) redacted, as redactDeep does, but in one pass inside
 * JSON.stringify — a 50-run history page is ~10k strings, and copying the whole tree first cost more
 * than reading it from the store.
 */
export function redactedJson(value: unknown, redactor: Redactor, space?: number): string {
  return JSON.stringify(
    value,
    (_key, val: unknown) => {
      if (typeof val === "string") return redactor.redact(val);
      if (val !== null && typeof val === "object" && !Array.isArray(val)) {
        const keys = Object.keys(val);
        if (keys.some((k) => redactor.redact(k) !== k)) {
          return Object.fromEntries(Object.entries(val).map(([k, v]) => [redactor.redact(k), v]));
        }
      }
      return val;
    },
    space,
  );
}

export function sendJson(
  c: Context,
  redactor: Redactor,
  value: unknown,
  status: ContentfulStatusCode = 200,
): Response {
  return c.body(`${redactedJson(value, redactor, 2)}\n`, status, {
    "Content-Type": "application/json; charset=utf-8",
  });
}

export function sendError(c: Context, redactor: Redactor, error: ApiError): Response {
  if (error.status === 401) c.header("WWW-Authenticate", 'Bearer realm="holdfast"');
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return sendJson(
    c,
    redactor,
    { error: { kind: error.kind, message: error.message, hint: error.hint }, ...error.extra },
    error.status,
  );
}

export function sendText(
  c: Context,
  redactor: Redactor,
  text: string,
  status: ContentfulStatusCode = 200,
): Response {
  return c.body(redactor.redact(text), status, { "Content-Type": "text/plain; charset=utf-8" });
}
