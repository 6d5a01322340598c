// The notifier kinds of config.md. A new kind is one file in this folder plus one line here.
import type { NotifierKind } from "./notifier-kind.js";
import { commandNotifier } from "./command.js";
import { emailNotifier } from "./email.js";
import { healthchecksNotifier } from "./healthchecks.js";
import { ntfyNotifier } from "./ntfy.js";
import { webhookNotifier } from "./webhook.js";

export const notifierKinds: readonly NotifierKind[] = [
  healthchecksNotifier,
  webhookNotifier,
  ntfyNotifier,
  emailNotifier,
  commandNotifier,
];

export function findNotifierKind(type: string): NotifierKind | undefined {
  return notifierKinds.find((kind) => kind.type === type);
}
