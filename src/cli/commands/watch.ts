import { recoverInterruptedRuns } from "../../engine/recover.js";
import { redactorForConfig } from "../../engine/secrets.js";
import { writeMetricsTextfile } from "../../metrics/textfile.js";
import { checkFreshness, type FreshnessResult } from "../../notify/freshness.js";
import { formatDuration } from "../../util/units.js";
import { loadCliConfig, openStore, type GlobalOptions } from "../context.js";
import { addPendingRecordsQuietly } from "../open-store.js";
import { StoreError } from "../../errors.js";
import type { Config } from "../../config/types.js";
import type { RunStore } from "../../store/types.js";
import type { Redactor } from "../../util/redact.js";
import { createMemoryStore } from "../../store/memory/memory-store.js";
import { dispatchEvent, notifiersFor } from "../../notify/dispatch.js";
import { age, formatTable, printJson, statusColor } from "../output.js";

/** watch's exit codes: 0 every job is fresh, 2 at least one is stale (Nagios CRITICAL). */
export const WATCH_EXIT = { fresh: 0, stale: 2 } as const;

export default async function watch(
  global: GlobalOptions,
  flags: { json?: boolean; fleet?: boolean },
): Promise<number> {
  if (flags.fleet) return (await import("./watch-fleet.js")).default(global, flags);
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const redactor = redactorForConfig(config);
  let results: FreshnessResult[];
  await addPendingRecordsQuietly(config);
  let store: RunStore | null = null;
  try {
    store = openStore(config);
    await recoverInterruptedRuns(store, { host: config.host });
    const now = new Date();
    results = await checkFreshness({ config, store, redactor }, now);
    try {
      await writeMetricsTextfile(config, store, now);
    } catch (err) {
      process.stderr.write(`holdfast: ${redactor.redact((err as Error).message)}\n`);
    }
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    // The dead man's switch must not go quiet when the history is what broke (issue 12 item 7):
    // nothing can be known fresh, so every job with a max_age is stale and its notifiers hear it.
    process.stderr.write(
      `holdfast: error: ${redactor.redact(err.message)}\nholdfast: no job can be shown fresh: every job with max_age counts as stale\n`,
    );
    results = await staleForUnreadableHistory(config, redactor, err);
  } finally {
    await store?.close();
  }
  const anyStale = results.some((r) => r.stale);
  if (flags.json) printJson({ jobs: results, stale: anyStale });
  else {
    const rows = [["JOB", "STATE", "FRESH", "LAST SUCCESS", "STALE FOR", "MAX AGE", "STALE NOTICE"]];
    for (const r of results) {
      rows.push([
        r.job,
        statusColor(r.state),
        r.max_age_ms === null ? "no max_age" : r.stale ? statusColor("stale") : statusColor("ok"),
        age(r.last_success_at),
        r.stale_for_ms !== null ? formatDuration(r.stale_for_ms) : "-",
        r.max_age_ms !== null ? formatDuration(r.max_age_ms) : "-",
        describeNotice(r),
      ]);
    }
    process.stdout.write(`${formatTable(rows)}\n`);
    for (const r of results) {
      if (r.clock_warning !== undefined) process.stdout.write(`${r.job}: clock: ${r.clock_warning}\n`);
    }
  }
  return anyStale ? WATCH_EXIT.stale : WATCH_EXIT.fresh;
}

async function staleForUnreadableHistory(
  config: Config,
  redactor: Redactor,
  problem: StoreError,
): Promise<FreshnessResult[]> {
  // No run is involved, so nothing is recorded on one; the episode cannot be remembered either, so
  // `stale` is sent at every check until the history is readable again.
  const store = createMemoryStore();
  const results: FreshnessResult[] = [];
  for (const job of Object.values(config.jobs)) {
    const maxAge = job.max_age ?? null;
    const result: FreshnessResult = {
      job: job.name,
      state: maxAge === null ? "never" : "stale",
      stale: maxAge !== null,
      stale_for_ms: null,
      max_age_ms: maxAge,
      last_success_at: null,
      stale_since: null,
      notice: null,
      notifications: [],
      history_error: problem.message,
    };
    if (maxAge !== null) {
      const listening = notifiersFor(config, job, "stale").length > 0;
      const records = await dispatchEvent(
        { config, store, redactor },
        {
          event: "stale",
          job,
          run: null,
          details: {
            max_age_ms: maxAge,
            stale_for_ms: null,
            last_success_at: null,
            history_error: problem.message,
          },
        },
      );
      result.notifications = records;
      result.notice = !listening ? "no_notifiers" : records.some((r) => r.ok) ? "sent" : "failed";
    }
    results.push(result);
  }
  return results;
}

function describeNotice(r: FreshnessResult): string {
  switch (r.notice) {
    case "sent":
      return "sent now";
    case "already_sent":
      return `sent ${age(r.stale_since)}`;
    case "failed":
      return "failed; retried at the next check";
    case "no_notifiers":
      return "no notifier listens for stale";
    default:
      return "-";
  }
}
