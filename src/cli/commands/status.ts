import { StoreError } from "../../errors.js";
import { addPendingRecordsQuietly, openStore } from "../open-store.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { age, formatTable, printJson, statusColor } from "../output.js";
import { formatBytes, formatDuration } from "../../util/units.js";
import { computeJobStatuses, type JobStatus } from "../../engine/job-status.js";
import { recoverInterruptedRunsQuietly } from "../../engine/recover.js";
import type { FleetLag } from "../../fleet/lag.js";
import type { DatabaseStatus } from "../../dump/sources.js";

function describeLag(lag: FleetLag): string {
  const queued =
    lag.pending === 0
      ? "nothing queued"
      : `${lag.pending} change(s) queued, the oldest ${age(lag.oldest_pending_at)}`;
  const last = lag.last_success_at ? `last sync ${age(lag.last_success_at)}` : "never synced";
  const error = lag.last_error ? `; last attempt failed: ${lag.last_error}` : "";
  return `fleet: ${lag.conflict ? "HOST ID CONFLICT; " : ""}${queued}; ${last}${error}`;
}

interface StatusFlags {
  json?: boolean;
  check?: boolean;
  fleet?: boolean;
}

const NAGIOS = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

export default async function status(global: GlobalOptions, flags: StatusFlags): Promise<number> {
  if (flags.fleet) return (await import("./status-fleet.js")).default(global, flags);
  let statuses: JobStatus[];
  let lag: FleetLag | null = null;
  let databases: DatabaseStatus[] = [];
  try {
    const { config } = await loadConfigForReading(global, { allowEmbedded: true });
    await addPendingRecordsQuietly(config);
    const store = openStore(config);
    try {
      await recoverInterruptedRunsQuietly(store, { host: config.host });
      statuses = await computeJobStatuses(config, store, new Date());
      // fleet/ brings the PostgreSQL client: loaded only with a fleet: section (bench P2′).
      if (config.fleet) lag = (await import("../../fleet/lag.js")).fleetLag(config, new Date());
      // Each database the steps' data flows name (dump steps) as a source: its newest dump per
      // repository, its last drill.
      databases = await statusOfDatabases(config, store);
    } finally {
      await store.close();
    }
  } catch (err) {
    if (flags.check) {
      const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
      process.stdout.write(`HOLDFAST UNKNOWN - cannot read the backup history: ${message}\n`);
      return NAGIOS.unknown;
    }
    if (
      err instanceof Error &&
      !(err instanceof StoreError) &&
      (err as { code?: string }).code?.startsWith("SQLITE")
    ) {
      throw new StoreError(`cannot read the history: ${err.message}`, { cause: err });
    }
    throw err;
  }

  if (flags.check) return printCheck(statuses);
  if (flags.json) {
    printJson({
      jobs: statuses,
      ...(lag === null ? {} : { fleet: lag }),
      ...(databases.length === 0 ? {} : { databases }),
    });
    return 0;
  }
  const rows = [["JOB", "STATE", "LAST RUN", "AGE", "DURATION", "NEXT RUN"]];
  for (const s of statuses) {
    rows.push([
      s.name,
      statusColor(s.state),
      s.last_run ? `${s.last_run.status} ${s.last_run.id}` : "-",
      age(s.last_run?.started_at ?? null),
      s.last_run?.duration_ms != null ? formatDuration(s.last_run.duration_ms) : "-",
      s.next_run_at ?? "-",
    ]);
  }
  process.stdout.write(`${formatTable(rows)}\n`);
  if (lag !== null) process.stdout.write(`\n${describeLag(lag)}\n`);
  for (const s of statuses) {
    if (s.clock_warning !== null) process.stdout.write(`\n${s.name}: clock: ${s.clock_warning}\n`);
  }
  for (const s of statuses) {
    if (s.steps.length === 0) continue;
    process.stdout.write(`\n${s.name}:\n`);
    const stepRows = s.steps.map((st) => [
      `  ${st.name}`,
      statusColor(st.status),
      st.duration_ms != null ? formatDuration(st.duration_ms) : "-",
      age(st.finished_at ?? st.started_at),
      st.error ? st.error.message : "",
    ]);
    process.stdout.write(`${formatTable(stepRows)}\n`);
  }
  if (databases.length > 0) {
    const dbRows = [["DATABASE", "REPOSITORY", "NEWEST DUMP", "SIZE", "LAST DRILL"]];
    for (const d of databases)
      dbRows.push([
        `${d.source}/${d.database}`,
        d.repo,
        d.last_dump_at ? age(d.last_dump_at) : "none yet",
        d.size_bytes !== null ? formatBytes(d.size_bytes) : "-",
        d.last_drill_at ? age(d.last_drill_at) : "never",
      ]);
    process.stdout.write(`\ndatabases:\n${formatTable(dbRows)}\n`);
  }
  return 0;
}

function printCheck(statuses: JobStatus[]): number {
  // Staleness drives the check whatever the state (issue 12 item 10): a run that hangs past max_age
  // is `running`, and still no backup has succeeded within max_age.
  const critical = statuses.filter((s) => s.state === "failed" || s.stale);
  // A run recorded in the future is a clock problem even when the job is otherwise fine.
  const warning = statuses.filter(
    (s) =>
      (s.state === "warning" || s.state === "never" || s.clock_warning !== null) && !critical.includes(s),
  );
  const describe = (s: JobStatus) =>
    `${s.name} ${s.state}${s.state !== "stale" && s.stale ? " and stale" : ""}` +
    (s.clock_warning !== null
      ? ` (${s.clock_warning})`
      : s.last_success_at
        ? ` (last success ${age(s.last_success_at)})`
        : "");
  if (critical.length > 0) {
    process.stdout.write(`HOLDFAST CRITICAL - ${[...critical, ...warning].map(describe).join(", ")}\n`);
    return NAGIOS.critical;
  }
  if (warning.length > 0) {
    process.stdout.write(`HOLDFAST WARNING - ${warning.map(describe).join(", ")}\n`);
    return NAGIOS.warning;
  }
  process.stdout.write(`HOLDFAST OK - ${statuses.length} job${statuses.length === 1 ? "" : "s"} ok\n`);
  return NAGIOS.ok;
}

/** The databases of the config's dump steps, found through their declared data flow (none: []). */
async function statusOfDatabases(
  config: Parameters<typeof computeJobStatuses>[0],
  store: Parameters<typeof computeJobStatuses>[1],
): Promise<DatabaseStatus[]> {
  const [{ dataFlowOf }, { databaseFlows, databaseStatuses }] = await Promise.all([
    import("../../registry.js"),
    import("../../dump/sources.js"),
  ]);
  const flows = databaseFlows(config, dataFlowOf);
  return flows.length ? databaseStatuses(flows, store, new Date()) : [];
}
