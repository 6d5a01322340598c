// A JSON POST: {"event", "job", "run": <the run object of `show --json`>, …}. With secret_file, the
// header X-Holdfast-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes> lets the receiver
// check that the message is from this holdfast and unchanged.
import { createHmac } from "node:crypto";
import { z } from "zod";
import { defineNotifierKind, type NotifyMessage } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { headerSafe, postHttp } from "./http.js";

export const SIGNATURE_HEADER = "X-Holdfast-Signature";

export const webhookNotifier = defineNotifierKind({
  type: "webhook",
  defaultEvents: ["success", "warning", "failure", "stale", "recovered"],
  options: {
    url: z
      .url()
      .optional()
      .describe("the URL the event's JSON is POSTed to (docs/cli.md#notifications); or url_file"),
    url_file: pathSchema.optional().describe("file holding the URL (when it carries a token)"),
    secret_file: pathSchema.optional().describe("HMAC-SHA256 key for the X-Holdfast-Signature header"),
    headers: z.record(z.string(), z.string()).default({}).describe("extra HTTP headers"),
  },
  async send(ctx, message) {
    const url = ctx.options.url ?? (ctx.options.url_file ? await ctx.readSecret(ctx.options.url_file) : "");
    if (!url) throw new Error("no URL (url or url_file)");
    const body = Buffer.from(webhookBody(message), "utf8");
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.options.headers)) headers[name] = headerSafe(value);
    headers["Content-Type"] = "application/json";
    headers["User-Agent"] = "holdfast";
    headers["X-Holdfast-Event"] = message.event;
    if (ctx.options.secret_file) {
      headers[SIGNATURE_HEADER] = signBody(body, await ctx.readSecret(ctx.options.secret_file));
    }
    await postHttp(url, { headers, body, signal: ctx.signal });
  },
});

/** The body: the documented fields first; extra fields may be added, never renamed (cli.md). */
export function webhookBody(message: NotifyMessage): string {
  return JSON.stringify({
    event: message.event,
    job: message.job,
    run: message.run,
    host: message.host,
    at: message.at,
    title: message.title,
    details: message.details,
  });
}

export function signBody(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
