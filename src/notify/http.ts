// The one HTTP door of the notifiers (healthchecks, webhook, ntfy): fetch with the attempt's
// AbortSignal, any non-2xx answer is a failure. Errors never name the URL: a healthchecks ping URL or
// a webhook URL with a token in it is a credential (S1).
//
// What a receiver answers is never trusted (S10): at most ANSWER_LIMIT bytes of it are read, then the
// connection is closed, so a 1 GiB answer costs 64 KiB. Redirects are not left to fetch: fetch turns
// a 302 into a GET without the payload (a "delivered" that delivered nothing) and sends the configured
// headers and the HMAC signature on to whatever host the answer names. A redirect within the
// configured origin is followed by sending the same method, headers and body again (a bounded number
// of times); a redirect to another origin is a failure that names that host and sends it nothing.
import { HoldfastError } from "../errors.js";

export class NotifyHttpError extends HoldfastError {
  readonly status: number | null;
  readonly code: string | null;
  constructor(
    message: string,
    fields: { status?: number | null; code?: string | null; cause?: unknown } = {},
  ) {
    super(message, { kind: "network", cause: fields.cause });
    this.name = "NotifyHttpError";
    this.status = fields.status ?? null;
    this.code = fields.code ?? null;
  }
}

export interface PostOptions {
  headers: Record<string, string>;
  body: string | Buffer;
  signal: AbortSignal;
  method?: "POST" | "PUT";
}

/** How much of an answer is read (the rest is never received: the connection is closed). */
export const ANSWER_LIMIT = 64 * 1024;
/** Same-origin redirects followed before the send counts as failed. */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function postHttp(url: string, options: PostOptions): Promise<{ status: number; body: string }> {
  const { target, headers } = moveCredentialsToHeader(url, options.headers);
  let current = new URL(target);
  const origin = current.origin;
  for (let redirects = 0; ; redirects++) {
    let response: Response;
    try {
      response = await fetch(current, {
        method: options.method ?? "POST",
        headers,
        // A copy per send: fetch may take over (detach) the bytes it is given, and a redirect sends again.
        body: typeof options.body === "string" ? options.body : new Uint8Array(options.body),
        signal: options.signal,
        redirect: "manual",
      });
    } catch (err) {
      throw describeFetchError(err, options.signal);
    }
    if (REDIRECTS.has(response.status)) {
      await discardAnswer(response);
      const next = redirectTarget(response, current);
      if (next.origin !== origin) {
        throw new NotifyHttpError(
          `HTTP ${response.status}: the receiver redirects to another origin (${next.origin}); not followed, ` +
            `so the notifier's headers and signature were not sent there — set the notifier's URL to the address it redirects to`,
          { status: response.status, code: "redirect" },
        );
      }
      if (redirects >= MAX_REDIRECTS) {
        throw new NotifyHttpError(`more than ${MAX_REDIRECTS} redirects within ${current.host}`, {
          status: response.status,
          code: "redirect",
        });
      }
      current = next;
      continue;
    }
    let body = "";
    try {
      body = await readAnswer(response, ANSWER_LIMIT);
    } catch (err) {
      if (options.signal.aborted) throw describeFetchError(err, options.signal);
    }
    if (!response.ok) {
      const excerpt = body.replace(/\s+/g, " ").trim().slice(0, 200);
      throw new NotifyHttpError(
        `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${excerpt ? `: ${excerpt}` : ""}`,
        {
          status: response.status,
        },
      );
    }
    return { status: response.status, body };
  }
}

/** Where a redirect points, resolved against the URL that answered it. */
function redirectTarget(response: Response, from: URL): URL {
  const location = response.headers.get("location");
  if (location === null || location.trim() === "") {
    throw new NotifyHttpError(`HTTP ${response.status}: a redirect without a Location`, {
      status: response.status,
      code: "redirect",
    });
  }
  try {
    return new URL(location, from);
  } catch {
    throw new NotifyHttpError(`HTTP ${response.status}: a redirect to an address that is not a URL`, {
      status: response.status,
      code: "redirect",
    });
  }
}

/**
 * The first `limit` bytes of an answer as text. Reading stops there and the stream is cancelled,
 * which closes the connection: the rest is never received, however much the receiver sends.
 */
export async function readAnswer(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let finished = false;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8");
}

async function discardAnswer(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** fetch refuses URLs with user:password@; they become a Basic Authorization header instead. */
function moveCredentialsToHeader(
  url: string,
  headers: Record<string, string>,
): { target: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return { target: url, headers };
  const basic = Buffer.from(
    `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`,
  ).toString("base64");
  parsed.username = "";
  parsed.password = "";
  const hasAuth = Object.keys(headers).some((h) => h.toLowerCase() === "authorization");
  return {
    target: parsed.toString(),
    headers: hasAuth ? headers : { ...headers, Authorization: `Basic ${basic}` },
  };
}

function describeFetchError(err: unknown, signal: AbortSignal): NotifyHttpError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === "TimeoutError";
    return new NotifyHttpError(timedOut ? "no answer before the notifier's timeout" : "aborted", {
      code: timedOut ? "timeout" : "aborted",
      cause: err,
    });
  }
  // undici reports network failures as TypeError("fetch failed") with the socket error as its cause.
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? null;
  // The cause's message never carries the URL's path, but keep a URL out in any case (S1).
  const detail = cause?.message && !cause.message.includes("://") ? cause.message : null;
  const message = code ? `${code}${detail ? ` (${detail})` : ""}` : (detail ?? (err as Error).message);
  return new NotifyHttpError(`request failed: ${message}`, { code, cause: err });
}

/** Header values must be Latin-1 for fetch; anything else goes as an RFC 2047 encoded word (ntfy reads it). */
export function headerSafe(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(oneLine)) return oneLine;
  return `=?UTF-8?B?${Buffer.from(oneLine, "utf8").toString("base64")}?=`;
}
