import { unknownNameError } from "../unknown-name.js";
import { UsageError } from "../../errors.js";
import { formatDuration } from "../../util/units.js";
import { recoverInterruptedRunsQuietly } from "../../engine/recover.js";
import { addPendingRecordsQuietly, openStore } from "../open-store.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { formatTable, printJson, statusColor } from "../output.js";
import { own } from "../../util/own.js";

export default async function history(
  global: GlobalOptions,
  job: string | undefined,
  flags: { limit?: string; json?: boolean },
): Promise<number> {
  const limit = Number(flags.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new UsageError(`--limit ${flags.limit} is not a number from 1 to 10000`);
  }
  const { config } = await loadConfigForReading(global, { allowEmbedded: true });
  if (job !== undefined && !own(config.jobs, job)) {
    throw unknownNameError("job", job, Object.keys(config.jobs), {
      listed: "jobs in the config",
      none: "the config has no jobs",
    });
  }
  await addPendingRecordsQuietly(config);
  const store = openStore(config);
  try {
    await recoverInterruptedRunsQuietly(store, { host: config.host });
    const runs = await store.listRuns({ limit, ...(job !== undefined ? { job } : {}) });
    if (flags.json) {
      printJson({ runs });
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write("no runs yet\n");
      return 0;
    }
    const rows = [["RUN", "JOB", "STATUS", "STARTED", "DURATION", "STEPS"]];
    for (const run of runs) {
      rows.push([
        run.id,
        run.job,
        statusColor(run.status),
        run.started_at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
        run.duration_ms !== null ? formatDuration(run.duration_ms) : "-",
        run.steps
          .map(
            (s) =>
              `${s.name}:${statusColor(s.status)}${s.duration_ms !== null ? `(${formatDuration(s.duration_ms)})` : ""}`,
          )
          .join(" "),
      ]);
    }
    process.stdout.write(`${formatTable(rows)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
