// The sources the dump steps make: a dump step's snapshots belong to its `source:` (default: the
// step's name), which is usually not a source under `sources:` (a database has no paths). The
// redundancy matrix and the metrics list these next to the configured sources, each with the
// databases it holds, so a database counts as a source (copies, age of the newest dump, last drill).
import type { Config, StepConfig } from "../config/types.js";
import type { RunStore, StepRecord } from "../store/types.js";
import type { DumpOptions } from "../steps/dump.js";
import { dumpUnits } from "./drivers.js";
import { dumpSourceName, dumpTarget } from "./naming.js";

export interface DumpSource {
  name: string;
  /** What the source holds, as the matrix shows it: "postgresql:shop", "sqlite:/srv/app.db". */
  paths: string[];
  databases: string[];
}

/** The dump sources not already under `sources:`, in config order. */
export function dumpSources(config: Pick<Config, "jobs" | "sources">): DumpSource[] {
  const out = new Map<string, DumpSource>();
  for (const job of Object.values(config.jobs))
    for (const step of job.steps) {
      if (step.type !== "dump") continue;
      const o = step as unknown as DumpOptions;
      const name = dumpSourceName(o);
      if (config.sources[name]) continue;
      const entry = out.get(name) ?? { name, paths: [], databases: [] };
      for (const unit of dumpUnits(dumpTarget(o), {})) {
        if (entry.databases.includes(unit.database)) continue;
        entry.databases.push(unit.database);
        entry.paths.push(
          o.engine === "sqlite" && o.path ? `sqlite:${o.path}` : `${o.engine}:${unit.database}`,
        );
      }
      out.set(name, entry);
    }
  return [...out.values()];
}

export interface DatabaseDump {
  repo: string;
  database: string;
  /** When the newest good dump of the database in the repository was made (ISO). */
  at: string;
  size: number | null;
  snapshot_id: string | null;
}

const GOOD = new Set(["succeeded", "warning"]);

/** The newest good dump of each database × repository among a dump step's records (newest first). */
export function newestDumps(records: readonly StepRecord[], step: StepConfig): DatabaseDump[] {
  const out = new Map<string, DatabaseDump>();
  for (const record of records) {
    if (record.name !== step.name || !record.started_at) continue;
    for (const t of record.targets) {
      if (!GOOD.has(t.status) || typeof t.database !== "string" || typeof t.snapshot_id !== "string")
        continue;
      const key = `${t.repo}\u0000${t.database}`;
      const at =
        t.duration_ms !== null
          ? new Date(Date.parse(record.started_at) + t.duration_ms).toISOString()
          : (record.finished_at ?? record.started_at);
      const known = out.get(key);
      if (known && known.at >= at) continue;
      out.set(key, {
        repo: t.repo,
        database: t.database,
        at,
        size: typeof t.dump_size === "number" ? t.dump_size : null,
        snapshot_id: t.snapshot_id,
      });
    }
  }
  return [...out.values()];
}

export interface DatabaseStatus {
  source: string;
  job: string;
  step: string;
  database: string;
  repo: string;
  /** When the newest good dump of the database was saved in the repository; null: none yet. */
  last_dump_at: string | null;
  age_ms: number | null;
  size_bytes: number | null;
  snapshot_id: string | null;
  /** When a restore drill of the source from the repository last passed. */
  last_drill_at: string | null;
}

/** Each database × repository of every dump step, with its newest dump and last drill (for status). */
export async function databaseStatuses(
  config: Pick<Config, "jobs">,
  store: Pick<RunStore, "stepHistory" | "getState">,
  now: Date,
): Promise<DatabaseStatus[]> {
  const out: DatabaseStatus[] = [];
  for (const job of Object.values(config.jobs))
    for (const step of job.steps) {
      if (step.type !== "dump") continue;
      const o = step as unknown as DumpOptions;
      const source = dumpSourceName(o);
      const newest = newestDumps(await store.stepHistory(job.name, step.name, 10), step);
      for (const unit of dumpUnits(dumpTarget(o), {}))
        for (const repo of o.repos) {
          const d = newest.find((n) => n.repo === repo && n.database === unit.database);
          out.push({
            source,
            job: job.name,
            step: step.name,
            database: unit.database,
            repo,
            last_dump_at: d?.at ?? null,
            age_ms: d ? Math.max(0, now.getTime() - Date.parse(d.at)) : null,
            size_bytes: d?.size ?? null,
            snapshot_id: d?.snapshot_id ?? null,
            last_drill_at: await store.getState(`drill:${repo}:${source}`),
          });
        }
    }
  return out;
}
