// The history store's records and its interface. Records use the snake_case field names of the
// public JSON contract (cli.md), so `--json`, the HTTP API and webhooks print them as they are.
import type { StepError } from "../errors.js";

export const RUN_STATUSES = [
  "running",
  "succeeded",
  "warning",
  "failed",
  "cancelled",
  "interrupted",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const STEP_STATUSES = [
  "pending",
  "running",
  "succeeded",
  "warning",
  "failed",
  "skipped",
  "cancelled",
  "timed_out",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export type RunTrigger = "manual" | "schedule" | "daemon" | "api";

/** One repository's sub-result of a step that fans out (backup, copy, forget, check, verify). */
export interface TargetRecord {
  repo: string;
  status: StepStatus;
  duration_ms: number | null;
  error: StepError | null;
  snapshot_id?: string | null;
  /** Step-specific figures (files_new, data_added, …), numbers or short strings. */
  [figure: string]: unknown;
}

export interface StepRecord {
  /** Position in the job (0-based); stable identity of the step within the run. */
  index: number;
  name: string;
  type: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  attempts: number;
  error: StepError | null;
  /** Typed summary of what the step did (mirror counts, manifest diff, …). */
  summary: Record<string, unknown> | null;
  targets: TargetRecord[];
  /** Path of the step's captured output (plain while running, .gz when the step has ended). */
  log_path: string | null;
}

export interface NotificationRecord {
  notifier: string;
  event: string;
  ok: boolean;
  at: string;
  attempts: number;
  error: string | null;
}

export interface RunRecord {
  id: string;
  job: string;
  host: string;
  trigger: RunTrigger;
  status: RunStatus;
  exit_code: number | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  /** The holdfast process that owns the run; used to find runs left `running` by a dead process. */
  pid: number;
  /** A run-level failure that is not any step's (e.g. a bug, or the lock could not be taken). */
  error: StepError | null;
  steps: StepRecord[];
  notifications: NotificationRecord[];
}

export interface NewRun {
  id: string;
  job: string;
  host: string;
  trigger: RunTrigger;
  pid: number;
  started_at: string;
  steps: Array<{ name: string; type: string }>;
}

export type StepPatch = Partial<Omit<StepRecord, "index" | "name" | "type">>;

export interface RunFinish {
  status: RunStatus;
  exit_code: number | null;
  finished_at: string;
  duration_ms: number;
  error?: StepError | null;
}

export interface ListRunsQuery {
  job?: string;
  limit: number;
  /** Only runs that started before this ISO time (by their clock: a filter, not a reliable cursor). */
  before?: string;
  /** Cursor: only runs recorded before the run with this id (a StoreError when there is none). */
  before_run?: string;
  status?: RunStatus;
}

/** The latest record of one step name in a job, whichever run it came from. */
export interface StepLatest {
  name: string;
  type: string;
  run_id: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: StepError | null;
}

export interface JobSummary {
  job: string;
  last_run: RunRecord | null;
  /** The end (or start) of the newest run whose status is succeeded or warning (a snapshot exists). */
  last_success_at: string | null;
  last_failure_at: string | null;
  steps: StepLatest[];
}

/**
 * The history store. Every mutating call is one transaction, so a crash between two calls leaves
 * a consistent history. Async so that a server-backed driver (PostgreSQL) can share this shape.
 */
export interface RunStore {
  createRun(run: NewRun): Promise<void>;
  updateStep(runId: string, index: number, patch: StepPatch): Promise<void>;
  finishRun(runId: string, finish: RunFinish): Promise<void>;
  addNotification(runId: string, record: NotificationRecord): Promise<void>;

  getRun(id: string): Promise<RunRecord | null>;
  // "Newest first" everywhere below means in the reverse order of recording (createRun calls), not of
  // started_at: a run recorded after another is newer even when a wrong clock dated it earlier.
  /** Ids of runs whose id starts with the prefix (for `show 01J8`), newest first, at most `limit`. */
  findRunIds(prefix: string, limit: number): Promise<string[]>;
  /** Newest first. */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]>;
  countRuns(job?: string): Promise<number>;
  /** One summary per job name given (jobs with no runs get an empty summary). */
  jobSummaries(jobs: readonly string[]): Promise<JobSummary[]>;
  /** Runs whose status is still `running` (on any host). */
  runningRuns(): Promise<Array<{ id: string; job: string; host: string; pid: number; started_at: string }>>;
  /** Marks a run (and its running/pending steps) interrupted: its process died without finishing it. */
  markInterrupted(runId: string, finishedAt: string): Promise<void>;
  /** Successful-run durations and a figure of a step, newest first — the input of anomaly detection. */
  stepHistory(job: string, step: string, limit: number): Promise<StepRecord[]>;

  /** Small key/value state (stale episodes, last drill times). */
  getState(key: string): Promise<string | null>;
  setState(key: string, value: string | null): Promise<void>;

  close(): Promise<void>;
}
