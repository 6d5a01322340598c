// Sends one event to the job's notifiers that listen for it. Each send has the notifier's timeout and
// one retry after a pause; every attempt is recorded on the run (when there is one) and logged. A
// notifier that fails, hangs or throws never reaches the caller: dispatchEvent does not reject.
import fs from "node:fs";
import type { Config, JobConfig, NotifierConfig, NotifyEvent } from "../config/types.js";
import type { NotificationRecord, RunRecord, RunStore } from "../store/types.js";
import type { Redactor } from "../util/redact.js";
import { findNotifierKind } from "./index.js";
import type { NotifyMessage } from "./notifier-kind.js";
import { createNotifyMessage } from "./message.js";

export interface DispatchDeps {
  config: Config;
  store: RunStore;
  redactor: Redactor;
  now?: () => Date;
  /** Where the attempt lines go (default: stderr). */
  log?: (line: string) => void;
  /** Pause before the retry (default 1 s). */
  retryDelayMs?: number;
  /** How long past its timeout a notifier that ignores its AbortSignal is waited for (default 2 s). */
  abandonAfterMs?: number;
  /** Looks up a notifier kind (tests swap in fakes). */
  findKind?: typeof findNotifierKind;
}

export interface DispatchInput {
  event: NotifyEvent;
  job: JobConfig;
  run: RunRecord | null;
  details?: Record<string, unknown>;
  logTail?: string;
}

export const DEFAULT_RETRY_DELAY_MS = 1_000;

/** The notifiers of a job that listen for an event, in the job's order. */
export function notifiersFor(
  config: Config,
  job: JobConfig,
  event: NotifyEvent,
): Array<NotifierConfig & { name: string }> {
  const out: Array<NotifierConfig & { name: string }> = [];
  for (const name of job.notify) {
    const notifier = config.notifications[name];
    if (notifier && notifier.events.includes(event)) out.push(notifier);
  }
  return out;
}

/** Sends the event and returns the outcome of every attempt; never rejects. */
export async function dispatchEvent(deps: DispatchDeps, input: DispatchInput): Promise<NotificationRecord[]> {
  const notifiers = notifiersFor(deps.config, input.job, input.event);
  if (notifiers.length === 0) return [];
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const message = createNotifyMessage(
    {
      event: input.event,
      job: input.job.name,
      host: deps.config.host,
      run: input.run,
      at: now(),
      ...(input.details ? { details: input.details } : {}),
      ...(input.logTail !== undefined ? { logTail: input.logTail } : {}),
    },
    deps.redactor,
  );
  const results = await Promise.all(notifiers.map((n) => sendWithRetry(deps, n, message, now, log)));
  return results.flat();
}

async function sendWithRetry(
  deps: DispatchDeps,
  notifier: NotifierConfig & { name: string },
  message: NotifyMessage,
  now: () => Date,
  log: (line: string) => void,
): Promise<NotificationRecord[]> {
  const records: NotificationRecord[] = [];
  const maxAttempts = 2;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const error = await attemptSend(deps, notifier, message);
    const record: NotificationRecord = {
      notifier: notifier.name,
      event: message.event,
      ok: error === null,
      at: now().toISOString(),
      attempts: attempt,
      error: error === null ? null : deps.redactor.redact(error),
    };
    records.push(record);
    const about = `${message.job}${message.run ? ` run ${message.run.id}` : ""}`;
    if (record.ok)
      log(`holdfast: notified ${notifier.name} (${notifier.type}) of ${message.event} for ${about}`);
    else {
      const next = attempt < maxAttempts ? "; retrying" : "; giving up (the run's result is unchanged)";
      log(
        `holdfast: notifier ${notifier.name} (${notifier.type}) failed to send ${message.event} for ${about}, attempt ${attempt}: ${record.error ?? ""}${next}`,
      );
    }
    if (message.run) {
      try {
        await deps.store.addNotification(message.run.id, record);
      } catch (err) {
        log(
          `holdfast: cannot record the notification on run ${message.run.id}: ${deps.redactor.redact((err as Error).message)}`,
        );
      }
    }
    if (record.ok) break;
    if (attempt < maxAttempts) await sleep(deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
  }
  return records;
}

/** One attempt with the notifier's timeout; returns the error text, or null when it was sent. */
async function attemptSend(
  deps: DispatchDeps,
  notifier: NotifierConfig & { name: string },
  message: NotifyMessage,
): Promise<string | null> {
  const kind = (deps.findKind ?? findNotifierKind)(notifier.type);
  if (!kind) return `unknown notifier type "${notifier.type}"`;
  const timeoutMs = notifier.timeout > 0 ? notifier.timeout : 10_000;
  const signal = AbortSignal.timeout(timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  // A notifier that ignores its signal must not hang the run: stop waiting shortly after the timeout.
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`no answer within ${Math.round(timeoutMs / 1000)}s (timeout)`),
      timeoutMs + (deps.abandonAfterMs ?? 2_000),
    );
  });
  try {
    const sent = kind
      .send(
        {
          name: notifier.name,
          options: notifier,
          signal,
          timeoutMs,
          readSecret: readSecretFile,
        },
        message,
      )
      .then(
        () => null,
        (err: unknown) => describeError(err, signal, timeoutMs),
      );
    return await Promise.race([sent, deadline]);
  } catch (err) {
    return describeError(err, signal, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  const text = err instanceof Error ? err.message : String(err);
  if (signal.aborted && !/timeout/i.test(text)) return `${text} (timeout ${Math.round(timeoutMs / 1000)}s)`;
  return text;
}

export async function readSecretFile(file: string): Promise<string> {
  const text = await fs.promises.readFile(file, "utf8");
  return text.replace(/\r?\n$/, "");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
