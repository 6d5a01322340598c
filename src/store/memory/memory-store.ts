// The in-memory history store: the reference semantics of RunStore, for tests and `--dry-run`.
// Records are deep-copied in and out, so no caller can change history by mutating what it holds.
import { StoreError } from "../../errors.js";
import type { JobSummary, RunRecord, RunStatus, RunStore, StepLatest, StepRecord } from "../types.js";
import {
  SUCCESS_STATUSES,
  applyStepPatch,
  interruptStep,
  interruptedRunError,
  newStepRecord,
  normalizeLimit,
  parseTime,
  replacesLatest,
} from "../record-rules.js";

interface StoredRun {
  record: RunRecord;
  startedMs: number;
  /** The order of recording: runs are ordered by it, never by their (clock) times. */
  seq: number;
}

interface LatestEntry extends StepLatest {
  index: number;
  run_seq: number;
}

export function createMemoryStore(): RunStore {
  const runs = new Map<string, StoredRun>();
  const latest = new Map<string, Map<string, LatestEntry>>();
  const state = new Map<string, string>();
  let closed = false;
  let lastSeq = 0;

  const ensureOpen = (): void => {
    if (closed) throw new StoreError("the history store (memory) is closed");
  };

  const requireRun = (runId: string): StoredRun => {
    const stored = runs.get(runId);
    if (stored === undefined) throw new StoreError(`no run ${runId} in the history (memory)`);
    return stored;
  };

  const newestFirst = (a: StoredRun, b: StoredRun): number => b.seq - a.seq;

  const sortedRuns = (filter: (run: StoredRun) => boolean): StoredRun[] =>
    [...runs.values()].filter(filter).sort(newestFirst);

  const writeStep = (stored: StoredRun, step: StepRecord): void => {
    if (step.started_at !== null) parseTime(step.started_at, "step started_at");
    stored.record.steps[step.index] = step;
    const job = stored.record.job;
    let ofJob = latest.get(job);
    if (ofJob === undefined) latest.set(job, (ofJob = new Map<string, LatestEntry>()));
    const candidate = {
      status: step.status,
      run_id: stored.record.id,
      index: step.index,
      run_seq: stored.seq,
    };
    if (!replacesLatest(candidate, ofJob.get(step.name))) return;
    ofJob.set(step.name, {
      name: step.name,
      type: step.type,
      run_id: stored.record.id,
      status: step.status,
      started_at: step.started_at,
      finished_at: step.finished_at,
      duration_ms: step.duration_ms,
      error: structuredClone(step.error),
      index: step.index,
      run_seq: stored.seq,
    });
  };

  const lastAtOf = (job: string, statuses: readonly RunStatus[]): string | null => {
    const run = sortedRuns((r) => r.record.job === job && statuses.includes(r.record.status))[0];
    return run === undefined ? null : (run.record.finished_at ?? run.record.started_at);
  };

  // Each method runs synchronously to completion, which makes it one transaction; a throw before the
  // first assignment leaves everything as it was, so validation comes first.
  const op =
    <A extends unknown[], T>(fn: (...args: A) => T) =>
    (...args: A): Promise<T> => {
      try {
        ensureOpen();
        return Promise.resolve(structuredClone(fn(...args)));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new StoreError(String(err)));
      }
    };

  return {
    createRun: op((input) => {
      if (runs.has(input.id)) throw new StoreError(`a run with id ${input.id} already exists`);
      const startedMs = parseTime(input.started_at, "run started_at");
      runs.set(input.id, {
        startedMs,
        seq: ++lastSeq,
        record: {
          id: input.id,
          job: input.job,
          host: input.host,
          trigger: input.trigger,
          status: "running",
          exit_code: null,
          started_at: input.started_at,
          finished_at: null,
          duration_ms: null,
          pid: input.pid,
          error: null,
          steps: input.steps.map((s, index) => newStepRecord(index, s.name, s.type)),
          notifications: [],
        },
      });
    }),

    updateStep: op((runId, index, patch) => {
      const stored = requireRun(runId);
      const step = stored.record.steps[index];
      if (step === undefined) throw new StoreError(`run ${runId} has no step ${index}`);
      writeStep(stored, applyStepPatch(step, patch));
    }),

    finishRun: op((runId, finish) => {
      const { record } = requireRun(runId);
      record.status = finish.status;
      record.exit_code = finish.exit_code;
      record.finished_at = finish.finished_at;
      record.duration_ms = finish.duration_ms;
      if (finish.error !== undefined) record.error = structuredClone(finish.error);
    }),

    addNotification: op((runId, notification) => {
      requireRun(runId).record.notifications.push(structuredClone(notification));
    }),

    markInterrupted: op((runId, finishedAt) => {
      const stored = requireRun(runId);
      if (stored.record.status !== "running") return;
      const finishedMs = parseTime(finishedAt, "finished_at");
      for (const step of [...stored.record.steps]) {
        if (step.status === "running" || step.status === "pending") {
          writeStep(stored, interruptStep(step, finishedAt, finishedMs));
        }
      }
      const { record } = stored;
      record.status = "interrupted";
      record.exit_code = null;
      record.finished_at = finishedAt;
      record.duration_ms = Math.max(0, finishedMs - stored.startedMs);
      record.error ??= interruptedRunError(record.pid);
    }),

    getRun: op((id) => runs.get(id)?.record ?? null),

    findRunIds: op((prefix, limit) =>
      sortedRuns((r) => r.record.id.startsWith(prefix))
        .slice(0, normalizeLimit(limit))
        .map((r) => r.record.id),
    ),

    listRuns: op((query) => {
      const beforeMs = query.before === undefined ? null : parseTime(query.before, "before");
      const beforeSeq = query.before_run === undefined ? null : requireRun(query.before_run).seq;
      return sortedRuns(
        (r) =>
          (query.job === undefined || r.record.job === query.job) &&
          (query.status === undefined || r.record.status === query.status) &&
          (beforeMs === null || r.startedMs < beforeMs) &&
          (beforeSeq === null || r.seq < beforeSeq),
      )
        .slice(0, normalizeLimit(query.limit))
        .map((r) => r.record);
    }),

    countRuns: op((job) => (job === undefined ? runs.size : sortedRuns((r) => r.record.job === job).length)),

    jobSummaries: op((jobs) =>
      jobs.map((job): JobSummary => {
        const steps = [...(latest.get(job)?.values() ?? [])]
          .sort((a, b) => a.index - b.index || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map(({ index: _index, run_seq: _seq, ...step }) => step);
        return {
          job,
          last_run: sortedRuns((r) => r.record.job === job)[0]?.record ?? null,
          last_success_at: lastAtOf(job, SUCCESS_STATUSES),
          last_failure_at: lastAtOf(job, ["failed"]),
          steps,
        };
      }),
    ),

    runningRuns: op(() =>
      sortedRuns((r) => r.record.status === "running").map(({ record }) => ({
        id: record.id,
        job: record.job,
        host: record.host,
        pid: record.pid,
        started_at: record.started_at,
      })),
    ),

    stepHistory: op((job, name, limit) =>
      sortedRuns((r) => r.record.job === job)
        .flatMap((r) =>
          r.record.steps.filter(
            (s) => s.name === name && (SUCCESS_STATUSES as readonly string[]).includes(s.status),
          ),
        )
        .slice(0, normalizeLimit(limit)),
    ),

    getState: op((key) => state.get(key) ?? null),

    setState: op((key, value) => {
      if (value === null) state.delete(key);
      else state.set(key, value);
    }),

    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
}
