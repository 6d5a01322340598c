// ntfy: a POST of the text to the topic URL, with Title, Priority and Tags by event.
import { z } from "zod";
import type { NotifyEvent } from "../config/types.js";
import { defineNotifierKind, type NotifyMessage } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { headerSafe, postHttp } from "./http.js";
import { truncateEnd } from "./truncate.js";

/** ntfy turns longer messages into attachments; keep the text a message. */
export const NTFY_BODY_LIMIT = 4096;

const STYLE: Record<NotifyEvent, { priority: number; tags: string }> = {
  start: { priority: 2, tags: "arrow_forward" },
  success: { priority: 2, tags: "white_check_mark" },
  warning: { priority: 3, tags: "warning" },
  failure: { priority: 5, tags: "rotating_light" },
  stale: { priority: 5, tags: "hourglass" },
  recovered: { priority: 3, tags: "tada" },
};

export const ntfyNotifier = defineNotifierKind({
  type: "ntfy",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: {
    url: z.url().optional().describe("the topic URL, e.g. https://ntfy.sh/my-backups"),
    url_file: pathSchema
      .optional()
      .describe("file holding the topic URL (a topic name is a credential on ntfy.sh)"),
    token_file: pathSchema.optional().describe("access token, sent as Authorization: Bearer"),
  },
  async send(ctx, message) {
    const url = ctx.options.url ?? (ctx.options.url_file ? await ctx.readSecret(ctx.options.url_file) : "");
    if (!url) throw new Error("no topic URL (url or url_file)");
    const headers = ntfyHeaders(message);
    if (ctx.options.token_file)
      headers.Authorization = `Bearer ${await ctx.readSecret(ctx.options.token_file)}`;
    await postHttp(url, { headers, body: truncateEnd(message.text, NTFY_BODY_LIMIT), signal: ctx.signal });
  },
});

export function ntfyHeaders(message: NotifyMessage): Record<string, string> {
  const style = STYLE[message.event];
  return {
    "Content-Type": "text/plain; charset=utf-8",
    "User-Agent": "holdfast",
    Title: headerSafe(message.title),
    Priority: String(style.priority),
    Tags: `${style.tags},holdfast,${message.event}`,
  };
}
