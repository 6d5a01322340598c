import { defineNotifierKind } from "./notifier-kind.js";
import { argvSchema } from "../config/values.js";
import { notBuiltSender } from "./not-built.js";

export const commandNotifier = defineNotifierKind({
  type: "command",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: { command: argvSchema },
  send: notBuiltSender("command"),
});
