// The databases of the dump steps as sources. A dump step's snapshots belong to its `source:`
// (default: the step's name), and each database it dumps is its own snapshot per repository — so
// each database is a source of the redundancy matrix, the metrics, anomalies and `status` (copies,
// age of the newest dump, last drill). What a step dumps comes from its declared data flow
// (registry.ts dataFlowOf, handed in by the caller: this module is below the registry), never from
// its type or options.
import type { Config, StepConfig } from "../config/types.js";
import type { DataFlow, DataFlowDatabase } from "../engine/step-kind.js";
import type { RunStore, StepRecord } from "../store/types.js";
import { drillStateKey } from "../store/state-keys.js";

export type FlowOf = (step: StepConfig) => DataFlow | null;

/** One step that dumps databases, as its data flow declares it. */
export interface DatabaseFlow {
  job: string;
  step: string;
  source: string;
  repos: readonly string[];
  databases: readonly DataFlowDatabase[];
}

/** Every step whose data flow names databases (the dump steps), in config order. */
export function databaseFlows(config: Pick<Config, "jobs">, flowOf: FlowOf): DatabaseFlow[] {
  const out: DatabaseFlow[] = [];
  for (const job of Object.values(config.jobs))
    for (const step of job.steps) {
      const flow = flowOf(step);
      if (!flow?.databases?.length || flow.source === undefined) continue;
      out.push({
        job: job.name,
        step: step.name,
        source: flow.source,
        repos: flow.repos,
        databases: flow.databases,
      });
    }
  return out;
}

export interface DumpedDatabase {
  source: string;
  database: string;
  /** What it is, as the matrix shows it: "postgresql:shop", "sqlite:/srv/app.db". */
  what: string;
  /** SQLite: the database file. */
  file?: string;
}

/** Each source × database the dump steps dump, once, in config order. */
export function listDatabases(flows: readonly DatabaseFlow[]): DumpedDatabase[] {
  const out = new Map<string, DumpedDatabase>();
  for (const flow of flows)
    for (const db of flow.databases) {
      const key = `${flow.source}\u0000${db.name}`;
      if (!out.has(key))
        out.set(key, {
          source: flow.source,
          database: db.name,
          what: db.what,
          ...(db.file !== undefined ? { file: db.file } : {}),
        });
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

/** When one good dump target was saved: its step's start plus the target's own duration. */
export function dumpTargetTime(record: StepRecord, durationMs: number | null): string | null {
  if (!record.started_at) return null;
  return durationMs !== null
    ? new Date(Date.parse(record.started_at) + durationMs).toISOString()
    : (record.finished_at ?? record.started_at);
}

/** The newest good dump of each database × repository among one step's records (any order). */
export function newestDumps(records: readonly StepRecord[], stepName: string): DatabaseDump[] {
  const out = new Map<string, DatabaseDump>();
  for (const record of records) {
    if (record.name !== stepName) continue;
    for (const t of record.targets) {
      if (!GOOD.has(t.status) || typeof t.database !== "string" || typeof t.snapshot_id !== "string")
        continue;
      const at = dumpTargetTime(record, t.duration_ms);
      if (at === null) continue;
      const key = `${t.repo}\u0000${t.database}`;
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
  /** When a restore drill of this database from the repository last passed. */
  last_drill_at: string | null;
}

/** Each database × repository of every dump step, with its newest dump and last drill (for status). */
export async function databaseStatuses(
  flows: readonly DatabaseFlow[],
  store: Pick<RunStore, "stepHistory" | "getState">,
  now: Date,
): Promise<DatabaseStatus[]> {
  const out: DatabaseStatus[] = [];
  for (const flow of flows) {
    const newest = newestDumps(await store.stepHistory(flow.job, flow.step, 10), flow.step);
    for (const db of flow.databases)
      for (const repo of flow.repos) {
        const d = newest.find((n) => n.repo === repo && n.database === db.name);
        out.push({
          source: flow.source,
          job: flow.job,
          step: flow.step,
          database: db.name,
          repo,
          last_dump_at: d?.at ?? null,
          age_ms: d ? Math.max(0, now.getTime() - Date.parse(d.at)) : null,
          size_bytes: d?.size ?? null,
          snapshot_id: d?.snapshot_id ?? null,
          last_drill_at: await store.getState(drillStateKey(repo, flow.source, db.name)),
        });
      }
  }
  return out;
}
