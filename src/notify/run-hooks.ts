// What happens around every run: `start` before it; after it `success`, `warning` or `failure`,
// anomaly warnings, `recovered` after a failure or a stale period; and the metrics textfile. Every
// part is guarded on its own: nothing here can change the run's result or throw out of a hook.
import type { Config, JobConfig, NotifyEvent } from "../config/types.js";
import type { RunHooks } from "../engine/run-job.js";
import { redactorForConfig } from "../engine/secrets.js";
import type { RunRecord, RunStore } from "../store/types.js";
import type { Redactor } from "../util/redact.js";
import { writeMetricsTextfile } from "../metrics/textfile.js";
import { collectRunAnomalies, type AnomalyOptions } from "./anomaly.js";
import { dispatchEvent, notifiersFor, type DispatchDeps } from "./dispatch.js";
import { closeStaleEpisode, readOutcome, readStaleEpisode, writeOutcome } from "./episodes.js";
import { readRunLogTail } from "./message.js";

export interface MonitoringHookOptions {
  config: Config;
  store: RunStore;
  redactor?: Redactor;
  now?: () => Date;
  log?: (line: string) => void;
  retryDelayMs?: number;
  anomalyOptions?: AnomalyOptions;
  findKind?: DispatchDeps["findKind"];
}

export function runEvent(
  run: Pick<RunRecord, "status">,
): Exclude<NotifyEvent, "start" | "stale" | "recovered"> {
  if (run.status === "succeeded") return "success";
  if (run.status === "warning") return "warning";
  return "failure";
}

export function createMonitoringHooks(options: MonitoringHookOptions): RunHooks {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let redactor = options.redactor;
  const deps = (config: Config): DispatchDeps => {
    redactor ??= redactorForConfig(config);
    return {
      config,
      store: options.store,
      redactor,
      log,
      ...(options.now ? { now: options.now } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      ...(options.findKind ? { findKind: options.findKind } : {}),
    };
  };
  const guard = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`holdfast: ${what} failed: ${(redactor ?? redactorForConfig(options.config)).redact(message)}`);
    }
  };
  const now = () => options.now?.() ?? new Date();
  const pendingStarts = new Map<string, Promise<void>>();

  return {
    async runStarted(run, config = options.config) {
      const job = config.jobs[run.job];
      // Sent alongside the first steps rather than before them: a hung receiver (up to two timeouts
      // and a pause) must not hold the backup back. runFinished waits for it, so `start` still
      // arrives before the run's outcome.
      if (job)
        pendingStarts.set(
          run.id,
          guard("the start notification", () => dispatchEvent(deps(config), { event: "start", job, run })),
        );
      await guard("writing the metrics textfile", () => writeMetricsTextfile(config, options.store, now()));
    },

    async runFinished(run, config = options.config) {
      const started = pendingStarts.get(run.id);
      pendingStarts.delete(run.id);
      await started;
      const job = config.jobs[run.job];
      if (job)
        await guard("the run's notifications", () =>
          notifyFinished(deps(config), job, run, options.anomalyOptions),
        );
      await guard("writing the metrics textfile", () => writeMetricsTextfile(config, options.store, now()));
    },
  };
}

async function notifyFinished(
  deps: DispatchDeps,
  job: JobConfig,
  run: RunRecord,
  anomalyOptions?: AnomalyOptions,
): Promise<void> {
  const { store } = deps;
  // The stored record is what `show --json` prints (with the start notifications); the in-memory one is the fallback.
  const full = (await store.getRun(run.id).catch(() => null)) ?? run;
  const event = runEvent(full);
  const succeeded = event !== "failure";

  const anomalies = succeeded ? await collectRunAnomalies(store, full, anomalyOptions).catch(() => []) : [];
  const wantsTail = notifiersFor(deps.config, job, event).length > 0;
  const logTail = wantsTail ? await readRunLogTail(deps.config.state_dir, full).catch(() => "") : "";
  await dispatchEvent(deps, {
    event,
    job,
    run: full,
    logTail,
    ...(event === "warning" && anomalies.length ? { details: { anomalies } } : {}),
  });
  if (event === "success" && anomalies.length > 0) {
    await dispatchEvent(deps, { event: "warning", job, run: full, details: { anomalies } });
  }

  const previous = await readOutcome(store, job.name);
  const episode = await readStaleEpisode(store, job.name);
  if (succeeded) {
    if (previous === "failure" || previous === "stale" || episode !== null) {
      await dispatchEvent(deps, {
        event: "recovered",
        job,
        run: full,
        details: {
          previous: previous === "failure" ? "failure" : "stale",
          ...(episode ? { stale_since: episode } : {}),
        },
      });
    }
    await closeStaleEpisode(store, job.name);
    await writeOutcome(store, job.name, "success");
  } else if (previous !== "stale") {
    // A failure during a stale episode keeps it stale: the recovery is from being stale.
    await writeOutcome(store, job.name, "failure");
  }
}
