// The one HTTP door of the notifiers (healthchecks, webhook, ntfy): fetch with the attempt's
// AbortSignal, any non-2xx answer is a failure. Errors never name the URL: a healthchecks ping URL or
// a webhook URL with a token in it is a credential (S1).
export class NotifyHttpError extends Error {
  readonly status: number | null;
  readonly code: string | null;
  constructor(
    message: string,
    fields: { status?: number | null; code?: string | null; cause?: unknown } = {},
  ) {
    super(message, fields.cause !== undefined ? { cause: fields.cause } : undefined);
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

export async function postHttp(url: string, options: PostOptions): Promise<{ status: number; body: string }> {
  let response: Response;
  try {
    const { target, headers } = moveCredentialsToHeader(url, options.headers);
    response = await fetch(target, {
      method: options.method ?? "POST",
      headers,
      body: options.body,
      signal: options.signal,
      redirect: "follow",
    });
  } catch (err) {
    throw describeFetchError(err, options.signal);
  }
  let body = "";
  try {
    body = await response.text();
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
