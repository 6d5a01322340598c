import { z } from "zod";
import { defineNotifierKind } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { notBuiltSender } from "./not-built.js";

export const webhookNotifier = defineNotifierKind({
  type: "webhook",
  defaultEvents: ["success", "warning", "failure", "stale", "recovered"],
  options: {
    url: z.url().optional(),
    url_file: pathSchema.optional(),
    secret_file: pathSchema.optional(),
    headers: z.record(z.string(), z.string()).default({}),
  },
  send: notBuiltSender("webhook"),
});
