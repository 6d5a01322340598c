// The sources the dump steps make: a dump step's snapshots belong to its `source:` (default: the
// step's name), which is usually not a source under `sources:` (a database has no paths). The
// redundancy matrix and the metrics list these next to the configured sources, each with the
// databases it holds, so a database counts as a source (copies, age of the newest dump, last drill).
import type { Config, StepConfig } from "../config/types.js";
import type { StepRecord } from "../store/types.js";
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
