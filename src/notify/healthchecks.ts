import { z } from "zod";
import { defineNotifierKind } from "./notifier-kind.js";
import { pathSchema } from "../config/values.js";
import { notBuiltSender } from "./not-built.js";

export const healthchecksNotifier = defineNotifierKind({
  type: "healthchecks",
  defaultEvents: ["start", "success", "warning", "failure"],
  options: { url: z.url().optional(), url_file: pathSchema.optional() },
  send: notBuiltSender("healthchecks"),
});
