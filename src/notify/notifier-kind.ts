// The contract of a notifier kind: one file per kind in src/notify/, same define/registry shape as steps.
// A notifier that fails is logged and recorded on the run; it never changes the run's result.
import type { z } from "zod";
import type { NotifyEvent } from "../config/types.js";
import type { RunRecord } from "../store/types.js";

export interface NotifyMessage {
  event: NotifyEvent;
  job: string;
  host: string;
  /** When the event happened (ISO-8601 UTC). */
  at: string;
  /** The run the event is about; null for `stale` (a run that never happened). */
  run: RunRecord | null;
  /** One line for titles and subjects. */
  title: string;
  /** A short plain-text body: the step table and the error, secrets already redacted. */
  text: string;
  /** The tail of the run's logs (redacted), for notifiers that carry it (healthchecks). */
  logTail: string;
  /** Extra figures (stale age, anomaly statistics). */
  details: Record<string, unknown>;
}

export interface NotifierContext<Opts> {
  name: string;
  options: Opts;
  /** Aborts the attempt when the notifier's timeout passes. */
  signal: AbortSignal;
  /** The notifier's timeout, for clients that take a number rather than a signal (SMTP). */
  timeoutMs: number;
  /** Reads a secret file (url_file, secret_file, password_file) — trimmed of its trailing newline. */
  readSecret(path: string): Promise<string>;
}

export interface NotifierKind<Shape extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  defaultEvents: readonly NotifyEvent[];
  options: Shape;
  send(ctx: NotifierContext<z.output<z.ZodObject<Shape>>>, message: NotifyMessage): Promise<void>;
}

export function defineNotifierKind<Shape extends z.ZodRawShape>(
  kind: NotifierKind<Shape>,
): NotifierKind<Shape> {
  return kind;
}
