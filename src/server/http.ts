// Response helpers shared by the routes: every body leaves through the redactor (S1), and every error
// has the same shape, {error: {kind, message, hint}}.
import crypto from "node:crypto";
import zlib from "node:zlib";
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

/** Bodies smaller than this go as they are (compression would add more than it saves). */
const COMPRESS_MIN = 1024;
/** Bodies larger than this go as they are too: compressing them in the request would stall the server. */
const COMPRESS_MAX = 8 * 1024 * 1024;

/** A weak validator of a body: equal bodies, equal ETag (the JSON of a poll that changed nothing). */
export function etagOf(body: string): string {
  return `W/"${crypto.createHash("sha256").update(body, "utf8").digest("base64url").slice(0, 27)}"`;
}

function ifNoneMatch(c: Context, etag: string): boolean {
  const header = c.req.header("If-None-Match");
  if (!header) return false;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag.replace(/^W\//, "") === bare;
  });
}

/**
 * A text body, brotli- or gzip-compressed when the client takes it (the API's JSON compresses ~10×:
 * an idle dashboard's polls cost a few hundred bytes, not tens of kilobytes). Brotli at quality 5 is
 * about as fast as gzip -6 and a fifth smaller on this JSON.
 */
export function sendBody(
  c: Context,
  body: string,
  status: ContentfulStatusCode,
  headers: Record<string, string>,
): Response {
  const accept = c.req.header("Accept-Encoding") ?? "";
  const size = Buffer.byteLength(body, "utf8");
  if (size < COMPRESS_MIN || size > COMPRESS_MAX) return c.body(body, status, headers);
  const vary = { ...headers, Vary: "Accept-Encoding" };
  if (/\bbr\b/.test(accept)) {
    const br = zlib.brotliCompressSync(body, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      },
    });
    return c.body(new Uint8Array(br), status, { ...vary, "Content-Encoding": "br" });
  }
  if (/\bgzip\b/.test(accept)) {
    return c.body(new Uint8Array(zlib.gzipSync(body, { level: 6 })), status, {
      ...vary,
      "Content-Encoding": "gzip",
    });
  }
  return c.body(body, status, vary);
}

/**
 * JSON, redacted; a 200 to a GET carries an ETag, and the same request with If-None-Match of an
 * unchanged answer gets a body-less 304.
 */
export function sendJson(
  c: Context,
  redactor: Redactor,
  value: unknown,
  status: ContentfulStatusCode = 200,
  /** What the ETag is made of when not the body itself: an equivalent value without the parts that
   * change at every call but do not matter to a poller (a duration counting up). */
  etagBasis?: unknown,
): Response {
  const body = `${redactedJson(value, redactor, 2)}\n`;
  const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8" };
  if (status === 200 && c.req.method === "GET") {
    const etag = etagOf(etagBasis === undefined ? body : redactedJson(etagBasis, redactor));
    headers.ETag = etag;
    if (ifNoneMatch(c, etag)) return c.body(null, 304, { ETag: etag, Vary: "Accept-Encoding" });
  }
  return sendBody(c, body, status, headers);
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
  return sendBody(c, redactor.redact(text), status, { "Content-Type": "text/plain; charset=utf-8" });
}
