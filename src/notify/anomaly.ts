// Anomaly warnings: a backup or mirror step whose duration or bytes added lies far outside its own
// recent history — the early sign of a stalled backend, a runaway log file or a mass change. Each
// database of a dump step is judged like a source, per repository: its bytes added, the size of its
// dump (far smaller than usual: rows gone, or a dump cut short that still exited 0), and a database
// dumped by the previous successful run that this one did not dump at all. Robust
// statistics (median and MAD), so one odd run in the history does not move the baseline, with floors
// so a short or perfectly regular history does not turn noise into alarms. The result is a `warning`
// notification only: the run's status and exit code stay what the steps made them.
import type { DataFlowHow } from "../engine/step-kind.js";
import { dataFlowHow } from "../registry.js";
import type { RunRecord, RunStore, StepRecord, TargetRecord } from "../store/types.js";

export type AnomalyFigure = "duration_ms" | "data_added" | "bytes_transferred" | "dump_size" | "dump_missing";

export interface AnomalyOptions {
  /** How many (scaled) MADs away from the median is "far". */
  k: number;
  /** Fewer successful records than this: no verdict. */
  minHistory: number;
  /** How many of the newest successful records form the baseline. */
  maxHistory: number;
  /** The allowed deviation is at least this share of the median (a regular history has MAD 0). */
  relativeFloor: number;
  /** …and at least this much, per figure (milliseconds or bytes), so tiny figures never alarm. */
  absoluteFloor: Record<AnomalyFigure, number>;
}

export const DEFAULT_ANOMALY_OPTIONS: AnomalyOptions = {
  k: 5,
  minHistory: 5,
  maxHistory: 20,
  relativeFloor: 0.5,
  absoluteFloor: {
    duration_ms: 60_000,
    data_added: 64 * 1024 * 1024,
    bytes_transferred: 64 * 1024 * 1024,
    // A dump that shrinks by half is news even for a small database; below 1 MiB, noise.
    dump_size: 1024 * 1024,
    dump_missing: 0,
  },
};

/** MAD × 1.4826 estimates the standard deviation of normally distributed data. */
const MAD_SCALE = 1.4826;

export interface Verdict {
  value: number;
  median: number;
  mad: number;
  /** The allowed deviation from the median. */
  threshold: number;
  direction: "high" | "low";
}

export interface Anomaly extends Verdict {
  step: string;
  type: string;
  /** The repository, for a figure of one backup target. */
  repo?: string;
  /** The database, for a figure of one database of a dump step. */
  database?: string;
  figure: AnomalyFigure;
  /** How many records formed the baseline. */
  history: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Is value far outside history (newest first or any order)? Returns the figures when it is, null when
 * it is not or when the history is too short. `highOnly` for figures where a low value is normal
 * (a quiet day adds no bytes).
 */
export function judgeFigure(
  value: number,
  history: readonly number[],
  figure: AnomalyFigure,
  options: AnomalyOptions = DEFAULT_ANOMALY_OPTIONS,
  highOnly = false,
): Verdict | null {
  const baseline = history.filter((v) => Number.isFinite(v)).slice(0, options.maxHistory);
  if (!Number.isFinite(value) || baseline.length < options.minHistory) return null;
  const m = median(baseline);
  const mad = median(baseline.map((v) => Math.abs(v - m)));
  const threshold = Math.max(
    options.k * MAD_SCALE * mad,
    options.relativeFloor * Math.abs(m),
    options.absoluteFloor[figure],
  );
  const deviation = value - m;
  if (Math.abs(deviation) <= threshold) return null;
  if (deviation < 0 && highOnly) return null;
  return { value, median: m, mad, threshold, direction: deviation > 0 ? "high" : "low" };
}

/** The figures of a mirror summary that count as bytes added, in the order they are looked for. */
const MIRROR_BYTES_FIELDS = ["bytes_transferred", "transferred_bytes", "total_transferred_file_size"];

function mirrorBytes(record: StepRecord): number | null {
  for (const field of MIRROR_BYTES_FIELDS) {
    const value = record.summary?.[field];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return null;
}

const isSuccess = (status: string) => status === "succeeded" || status === "warning";

/** A target of a snapshot step: one per repository, and per database for a step that dumps several. */
const databaseOf = (t: TargetRecord): string | undefined =>
  typeof t.database === "string" ? t.database : undefined;

function goodTarget(record: StepRecord, repo: string, database: string | undefined): TargetRecord | null {
  const target = record.targets.find((t) => t.repo === repo && databaseOf(t) === database);
  return target && isSuccess(target.status) ? target : null;
}

function targetNumber(
  record: StepRecord,
  repo: string,
  database: string | undefined,
  field: string,
): number | null {
  const value = goodTarget(record, repo, database)?.[field];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The figure judged per data flow: what a snapshot step adds to each repository, what a mirror
 * transfers. Steps that move no data of their own (copies, drills, exec…) are not judged.
 */
const JUDGED: Partial<Record<DataFlowHow, "per_repository_added" | "bytes_transferred">> = {
  backup: "per_repository_added",
  dump: "per_repository_added",
  mirror: "bytes_transferred",
};
const judgedFigure = (type: string) => {
  const how = dataFlowHow(type);
  return how === null ? undefined : JUDGED[how];
};

/** Anomalies of one step record against earlier successful records of the same step (pure). */
export function findStepAnomalies(
  step: StepRecord,
  history: readonly StepRecord[],
  options: AnomalyOptions = DEFAULT_ANOMALY_OPTIONS,
): Anomaly[] {
  const judged = judgedFigure(step.type);
  if (judged === undefined || !isSuccess(step.status)) return [];
  const past = history.filter((h) => isSuccess(h.status)).slice(0, options.maxHistory);
  const found: Anomaly[] = [];
  const add = (
    figure: AnomalyFigure,
    verdict: Verdict | null,
    baseline: number,
    repo?: string,
    database?: string,
  ) => {
    if (verdict)
      found.push({
        step: step.name,
        type: step.type,
        ...(repo !== undefined ? { repo } : {}),
        ...(database !== undefined ? { database } : {}),
        figure,
        history: baseline,
        ...verdict,
      });
  };
  if (step.duration_ms !== null) {
    const durations = past.map((h) => h.duration_ms).filter((d): d is number => d !== null);
    add(
      "duration_ms",
      judgeFigure(step.duration_ms, durations, "duration_ms", options),
      Math.min(durations.length, options.maxHistory),
    );
  }
  if (judged === "per_repository_added") {
    for (const target of step.targets) {
      const db = databaseOf(target);
      const series = (field: string) =>
        past.map((h) => targetNumber(h, target.repo, db, field)).filter((v): v is number => v !== null);
      const value = targetNumber(step, target.repo, db, "data_added");
      if (value !== null) {
        const added = series("data_added");
        add(
          "data_added",
          judgeFigure(value, added, "data_added", options, true),
          Math.min(added.length, options.maxHistory),
          target.repo,
          db,
        );
      }
      // A dump far smaller (or larger) than this database's usual dump.
      const size = targetNumber(step, target.repo, db, "dump_size");
      if (size !== null) {
        const sizes = series("dump_size");
        add(
          "dump_size",
          judgeFigure(size, sizes, "dump_size", options),
          Math.min(sizes.length, options.maxHistory),
          target.repo,
          db,
        );
      }
    }
    // A database the previous successful run dumped into a repository that this run did not dump
    // there at all (the step succeeded without it: its list or the server's databases changed).
    const previous = past[0];
    for (const t of previous?.targets ?? []) {
      const db = databaseOf(t);
      if (db === undefined || !isSuccess(t.status) || goodTarget(step, t.repo, db) !== null) continue;
      if (step.targets.some((c) => c.repo === t.repo && databaseOf(c) === db)) continue;
      const sizes = past
        .map((h) => targetNumber(h, t.repo, db, "dump_size"))
        .filter((v): v is number => v !== null);
      add(
        "dump_missing",
        { value: 0, median: sizes.length ? median(sizes) : 0, mad: 0, threshold: 0, direction: "low" },
        past.filter((h) => goodTarget(h, t.repo, db) !== null).length,
        t.repo,
        db,
      );
    }
  } else {
    const value = mirrorBytes(step);
    if (value !== null) {
      const bytes = past.map(mirrorBytes).filter((v): v is number => v !== null);
      add(
        "bytes_transferred",
        judgeFigure(value, bytes, "bytes_transferred", options, true),
        Math.min(bytes.length, options.maxHistory),
      );
    }
  }
  return found;
}

/** Anomalies of a finished run's backup and mirror steps, each against its own history in the store. */
export async function collectRunAnomalies(
  store: RunStore,
  run: RunRecord,
  options: AnomalyOptions = DEFAULT_ANOMALY_OPTIONS,
): Promise<Anomaly[]> {
  const found: Anomaly[] = [];
  for (const step of run.steps) {
    if (judgedFigure(step.type) === undefined || !isSuccess(step.status)) continue;
    // The history includes this run's own record (it is finished); it is not its own baseline.
    const history = (await store.stepHistory(run.job, step.name, options.maxHistory + 1)).filter(
      (h) => !(h.started_at === step.started_at && h.finished_at === step.finished_at),
    );
    found.push(...findStepAnomalies(step, history, options));
  }
  return found;
}
