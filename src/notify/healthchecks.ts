// healthchecks.io (or a self-hosted Healthchecks): start → <url>/start, success → <url>, failure →
// <url>/fail, with the run summary and log tail as the body and ?rid= so overlapping runs pair up.
import { createHash } from "node:crypto";
import { z } from "zod";
import { defineNotifierKind, type NotifyMessage } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { postHttp } from "./http.js";
import { truncateEnd } from "./truncate.js";

/** Healthchecks keeps at most 100 KB of a ping body (its default PING_BODY_LIMIT). */
export const HEALTHCHECKS_BODY_LIMIT = 100_000;

type Ping = "start" | "success" | "fail" | "log";

export const healthchecksNotifier = defineNotifierKind({
  type: "healthchecks",
  defaultEvents: ["start", "success", "warning", "failure"],
  options: {
    url: z.url().optional().describe("the check's ping URL (https://hc-ping.com/UUID); or url_file"),
    url_file: pathSchema.optional().describe("file holding the ping URL (it works as a credential)"),
    warning_ping: z
      .enum(["auto", "success", "fail", "log"])
      .default("auto")
      .describe(
        "which ping a warning sends: auto = /fail when the job's `warnings: fail` makes the run exit 1, the success ping otherwise (the warning in the body); anomaly warnings of a succeeded run go to /log",
      ),
  },
  async send(ctx, message) {
    const base = ctx.options.url ?? (ctx.options.url_file ? await ctx.readSecret(ctx.options.url_file) : "");
    if (!base) throw new Error("no ping URL (url or url_file)");
    const ping = choosePing(message, ctx.options.warning_ping);
    await postHttp(pingUrl(base, ping, message.run?.id ?? null), {
      headers: { "Content-Type": "text/plain; charset=utf-8", "User-Agent": "holdfast" },
      body: healthchecksBody(message),
      signal: ctx.signal,
    });
  },
});

export function choosePing(message: NotifyMessage, warningPing: "auto" | Exclude<Ping, "start">): Ping {
  switch (message.event) {
    case "start":
      return "start";
    case "success":
      return "success";
    case "failure":
    case "stale":
      return "fail";
    // The success ping that ended the failure already told Healthchecks; this only adds to its log.
    case "recovered":
      return "log";
    case "warning":
      if (warningPing !== "auto") return warningPing;
      if (message.run?.status === "succeeded") return "log";
      return message.run?.exit_code === 1 ? "fail" : "success";
  }
}

export function pingUrl(base: string, ping: Ping, runId: string | null): string {
  const url = new URL(base.trim());
  const suffix = ping === "success" ? "" : `/${ping}`;
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${suffix}`;
  if (runId) url.searchParams.set("rid", runUuid(runId));
  return url.toString();
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The run id as a UUID: a ULID's 128 bits as they are (so it maps back), anything else hashed. */
export function runUuid(runId: string): string {
  let hex: string;
  if (/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i.test(runId)) {
    let n = 0n;
    for (const ch of runId.toUpperCase()) n = (n << 5n) | BigInt(CROCKFORD.indexOf(ch));
    hex = n.toString(16).padStart(32, "0");
  } else {
    hex = createHash("sha256").update(runId).digest("hex").slice(0, 32);
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Title and summary first, then as much of the log tail as fits (its end is what matters). */
export function healthchecksBody(message: NotifyMessage, limit = HEALTHCHECKS_BODY_LIMIT): string {
  const head = truncateEnd(`${message.title}\n\n${message.text}\n`, Math.floor(limit / 4));
  if (!message.logTail) return head;
  const separator = "\n--- log tail ---\n";
  const room = limit - Buffer.byteLength(head) - Buffer.byteLength(separator);
  if (room <= 0) return head;
  const tail = Buffer.from(message.logTail, "utf8");
  const kept =
    tail.length <= room
      ? message.logTail
      : tail
          .subarray(tail.length - room)
          .toString("utf8")
          .replace(/^\uFFFD+/, "");
  return truncateEnd(`${head}${separator}${kept}`, limit);
}
