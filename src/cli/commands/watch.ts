import { recoverInterruptedRuns } from "../../engine/recover.js";
import { redactorForConfig } from "../../engine/secrets.js";
import { writeMetricsTextfile } from "../../metrics/textfile.js";
import { checkFreshness, type FreshnessResult } from "../../notify/freshness.js";
import { formatDuration } from "../../util/units.js";
import { loadCliConfig, openStore, type GlobalOptions } from "../context.js";
import { age, formatTable, printJson, statusColor } from "../output.js";

/** watch's exit codes: 0 every job is fresh, 2 at least one is stale (Nagios CRITICAL). */
export const WATCH_EXIT = { fresh: 0, stale: 2 } as const;

export default async function watch(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const store = openStore(config);
  let results: FreshnessResult[];
  const redactor = redactorForConfig(config);
  try {
    await recoverInterruptedRuns(store, { host: config.host });
    const now = new Date();
    results = await checkFreshness({ config, store, redactor }, now);
    try {
      await writeMetricsTextfile(config, store, now);
    } catch (err) {
      process.stderr.write(`holdfast: ${redactor.redact((err as Error).message)}\n`);
    }
  } finally {
    await store.close();
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
  }
  return anyStale ? WATCH_EXIT.stale : WATCH_EXIT.fresh;
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
