// E-mail over SMTP (nodemailer): STARTTLS required when `starttls` is on (the default), implicit TLS
// with `tls`, a private CA with `cacert`. The body is plain text: the step table, then the log tail.
import fs from "node:fs";
import { z } from "zod";
import { defineNotifierKind, type NotifyMessage } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { truncateStart } from "./truncate.js";

const EMAIL_LOG_TAIL_LIMIT = 32 * 1024;

export const emailNotifier = defineNotifierKind({
  type: "email",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: {
    smtp: z
      .strictObject({
        host: z.string().min(1).describe("the SMTP server"),
        port: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .default(587)
          .describe("its port (587: submission with STARTTLS; 465: implicit TLS)"),
        starttls: z.boolean().default(true).describe("require STARTTLS (refuse to send in clear)"),
        tls: z.boolean().default(false).describe("implicit TLS (port 465)"),
        username: z.string().optional().describe("the SMTP user, when the server wants a login"),
        password_file: pathSchema.optional().describe("file holding the SMTP password"),
        cacert: pathSchema.optional().describe("PEM file of the CA that signed the server's certificate"),
      })
      .describe("the mail server"),
    from: z.string().min(3).describe("the From: address"),
    to: z.array(z.string().min(3)).min(1).describe("the recipients"),
  },
  async send(ctx, message) {
    const { smtp } = ctx.options;
    // Loaded only when an e-mail goes out, so every other command does not pay for nodemailer.
    const { createTransport } = await import("nodemailer");
    const transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.tls,
      requireTLS: smtp.starttls && !smtp.tls,
      ignoreTLS: !smtp.starttls && !smtp.tls,
      connectionTimeout: ctx.timeoutMs,
      greetingTimeout: ctx.timeoutMs,
      socketTimeout: ctx.timeoutMs,
      ...(smtp.username !== undefined
        ? {
            auth: {
              user: smtp.username,
              pass: smtp.password_file ? await ctx.readSecret(smtp.password_file) : "",
            },
          }
        : {}),
      ...(smtp.cacert !== undefined ? { tls: { ca: await fs.promises.readFile(smtp.cacert) } } : {}),
    });
    const abort = new Promise<never>((_resolve, reject) => {
      const onAbort = () => {
        transport.close();
        reject(new Error("no answer from the SMTP server before the notifier's timeout"));
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([
        transport.sendMail({
          from: ctx.options.from,
          to: ctx.options.to,
          subject: message.title,
          text: emailText(message),
          headers: { "X-Holdfast-Event": message.event, "X-Holdfast-Job": message.job },
        }),
        abort,
      ]);
    } finally {
      transport.close();
    }
  },
});

export function emailText(message: NotifyMessage): string {
  const parts = [message.text];
  if (message.logTail)
    parts.push("", "--- log tail ---", truncateStart(message.logTail, EMAIL_LOG_TAIL_LIMIT));
  parts.push("", `-- holdfast on ${message.host}, ${message.at}`);
  return `${parts.join("\n")}\n`;
}
