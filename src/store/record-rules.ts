// The record rules both stores share, so that the in-memory store (the reference) and the SQLite store
// cannot drift apart: patch merging, interruption, which step record counts as "latest", time parsing.
// Order is the order of recording (each run's `seq`), not wall time: clocks step and drift.
import { StoreError, stepError, type StepError } from "../errors.js";
import type { StepPatch, StepRecord, StepStatus, TargetRecord } from "./types.js";

/** The StepPatch fields, in record order; anything else in a patch (index, name, type) is ignored. */
const PATCHABLE_FIELDS = [
  "status",
  "started_at",
  "finished_at",
  "duration_ms",
  "exit_code",
  "attempts",
  "error",
  "summary",
  "targets",
  "log_path",
] as const satisfies ReadonlyArray<keyof StepPatch>;

/**
 * How far ahead of this host's clock a recorded time may be before it is suspect (issue 12 item 9):
 * a success dated in the future never counts as fresh, and status/doctor report it as a clock problem.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Statuses whose run or step record counts as a success (a snapshot exists). */
export const SUCCESS_STATUSES = ["succeeded", "warning"] as const;

export const INTERRUPTED_STEP_ERROR: StepError = stepError(
  "cancelled",
  "holdfast was killed while this step ran",
  "its output up to that moment is in the step log; if it ran restic, `holdfast unlock REPO` removes the lock it left behind",
);

export function interruptedRunError(pid: number): StepError {
  return stepError(
    "cancelled",
    `holdfast (pid ${pid}) ended without finishing this run`,
    "it was killed or the machine went down; the next run starts afresh",
  );
}

export function newStepRecord(index: number, name: string, type: string): StepRecord {
  return {
    index,
    name,
    type,
    status: "pending",
    started_at: null,
    finished_at: null,
    duration_ms: null,
    exit_code: null,
    attempts: 0,
    error: null,
    summary: null,
    targets: [],
    log_path: null,
  };
}

/** A shallow merge: each field present in the patch replaces the record's (summary and targets whole). */
export function applyStepPatch(record: StepRecord, patch: StepPatch): StepRecord {
  const merged: StepRecord = { ...record };
  for (const field of PATCHABLE_FIELDS) {
    const value = patch[field];
    // A JS caller can pass `undefined` for "not given"; it must not erase a field.
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[field] = structuredClone(value);
  }
  return merged;
}

/** The step as it ends when its process died: running → cancelled (with the reason), pending → skipped. */
export function interruptStep(step: StepRecord, finishedAt: string, finishedMs: number): StepRecord {
  if (step.status === "pending") {
    return { ...step, status: "skipped", targets: step.targets.map(interruptTarget) };
  }
  if (step.status !== "running") return step;
  const startedMs = step.started_at === null ? null : Date.parse(step.started_at);
  return {
    ...step,
    status: "cancelled",
    finished_at: finishedAt,
    duration_ms: startedMs === null || Number.isNaN(startedMs) ? null : Math.max(0, finishedMs - startedMs),
    error: { ...INTERRUPTED_STEP_ERROR },
    targets: step.targets.map(interruptTarget),
  };
}

function interruptTarget(target: TargetRecord): TargetRecord {
  const status: StepStatus | null =
    target.status === "running" ? "cancelled" : target.status === "pending" ? "skipped" : null;
  if (status === null) return target;
  const error = status === "cancelled" ? (target.error ?? { ...INTERRUPTED_STEP_ERROR }) : target.error;
  return { ...target, status, error };
}

/**
 * Whether a step record replaces the current latest of its name: pending records never do (the step has
 * not produced a result yet), the same record always does, otherwise the record of the later-recorded
 * run wins. Runs are ordered by `seq`, the order the store recorded them in, never by their clock
 * times: a run recorded with a clock that was behind must not hide behind an earlier one (issue 12
 * item 9).
 */
export function replacesLatest(
  candidate: { status: StepStatus; run_id: string; index: number; run_seq: number },
  current: { run_id: string; index: number; run_seq: number } | undefined,
): boolean {
  if (candidate.status === "pending") return false;
  if (current === undefined) return true;
  if (current.run_id === candidate.run_id && current.index === candidate.index) return true;
  return candidate.run_seq >= current.run_seq;
}

/** Whether a recorded time lies ahead of `now` by more than the tolerance: a clock was wrong. */
export function isFutureDated(iso: string | null, now: Date): boolean {
  if (iso === null) return false;
  const ms = Date.parse(iso);
  return !Number.isNaN(ms) && ms > now.getTime() + FUTURE_TOLERANCE_MS;
}

/** Milliseconds since the epoch of an ISO-8601 time, or a StoreError naming the field. */
export function parseTime(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new StoreError(`${what} is not an ISO-8601 time: ${JSON.stringify(iso)}`);
  return ms;
}

/** A non-negative integer limit (SQLite reads a negative LIMIT as "no limit"). */
export function normalizeLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  return Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(limit)));
}
