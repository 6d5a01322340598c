import { z } from "zod";
import { defineNotifierKind } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { notBuiltSender } from "./not-built.js";

export const ntfyNotifier = defineNotifierKind({
  type: "ntfy",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: {
    url: z.url().optional(),
    url_file: pathSchema.optional(),
    token_file: pathSchema.optional(),
  },
  send: notBuiltSender("ntfy"),
});
