import { z } from "zod";
import { defineNotifierKind } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { notBuiltSender } from "./not-built.js";

export const emailNotifier = defineNotifierKind({
  type: "email",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: {
    smtp: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(587),
      starttls: z.boolean().default(true),
      tls: z.boolean().default(false).describe("implicit TLS (port 465)"),
      username: z.string().optional(),
      password_file: pathSchema.optional(),
      cacert: pathSchema.optional(),
    }),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
  },
  send: notBuiltSender("email"),
});
