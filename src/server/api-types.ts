// The HTTP API's JSON, request and response, as TypeScript types — the one description the server
// and the dashboard (web/) both compile against. Types only: no runtime code, nothing of Node, and
// no import but of other types-only modules that import nothing (engine/progress-figures.ts, the
// progress figures the run process writes), so the front end can import it as it is.
// src/server/api-types-check.ts makes the server's own record types (store/types.ts,
// engine/job-status.ts, server/redundancy.ts) fail to compile when they stop fitting these, so the
// two cannot drift apart. docs/api.md describes every endpoint.
//
// Conventions: times are ISO-8601 UTC strings ("2026-11-26T03:00:04.123Z"); durations are *_ms
// numbers; sizes are bytes; ids are strings; absent values are null, not missing. Every error is
// ApiErrorBody with an HTTP status of 4xx/5xx.

import type { ProgressFigures } from "../engine/progress-figures.js";

// ---------------------------------------------------------------------------------------------
// Errors and access

export type ApiErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "busy"
  | "not_implemented"
  | "unavailable"
  | "internal";

/** Every 4xx/5xx body. `error.kind` is machine-readable; message and hint are for people. */
export interface ApiErrorBody {
  error: { kind: ApiErrorKind; message: string; hint: string | null };
  /** 401 only: why the token was refused, so a client can say "wrong token" vs "token needed". */
  reason?: "missing" | "wrong";
  /** 403 only: the role the call needs, when the token's role is too weak. */
  needs_role?: ApiRole;
  /** 409 of POST /api/jobs/:job/run: who holds the job's lock. */
  holder?: { pid: number; since: string } | null;
}

/** What a token may do. viewer: read everything except file contents; operator: also run, cancel,
 * restore and download. Serving on loopback without any token makes every caller an operator. */
export type ApiRole = "viewer" | "operator";

/** The failure of a step or a repository call, as recorded (errors.ts StepError). */
export interface ApiStepError {
  kind: string;
  message: string;
  hint: string | null;
}

// ---------------------------------------------------------------------------------------------
// GET /api/info

export interface InfoResponse {
  version: string;
  host: string;
  now: string;
  token_required: boolean;
  /** The role of the token this request came with (operator on loopback without tokens). */
  role: ApiRole;
  restore_root: string;
  capabilities: {
    run: boolean;
    restore: boolean;
    metrics: boolean;
    snapshots: boolean;
    /** GET /api/repositories/:repo/snapshots/:id/ls and the download endpoints. */
    browse?: boolean;
    /** GET /api/events. */
    events?: boolean;
    /** POST /api/runs/:id/cancel. */
    cancel?: boolean;
    /** Downloads (POST /api/downloads). */
    download?: boolean;
    /** GET /api/runs/:id/logs/follow: a step's log as it is written. */
    follow_logs?: boolean;
  };
  /** "METHOD /path?query" of every endpoint this server answers. */
  endpoints: string[];
}

// ---------------------------------------------------------------------------------------------
// GET /api/status

export type JobState = "ok" | "warning" | "failed" | "stale" | "running" | "never";

/** "Is it safe?" per job, as the home page's board shows it. */
export type Freshness = "ok" | "late" | "overdue" | "failed" | "running" | "hung" | "never";

export interface JobStatus {
  name: string;
  state: JobState;
  last_run: Pick<
    RunRecord,
    "id" | "status" | "started_at" | "finished_at" | "duration_ms" | "exit_code" | "trigger"
  > | null;
  last_success_at: string | null;
  last_failure_at: string | null;
  next_run_at: string | null;
  /** The schedule as written (systemd OnCalendar), or null for an unscheduled job. */
  schedule: string | null;
  max_age_ms: number | null;
  stale: boolean;
  stale_for_ms: number | null;
  clock_warning: string | null;
  /** The server's verdict (server/freshness.ts): GET /api/status only, not `status --json`. */
  freshness?: Freshness;
  /** When the next scheduled run was due: the schedule's first time after the last run started. */
  due_at?: string | null;
  /** How long after due_at the job turns late (a tenth of the schedule's period, at least 5 min). */
  grace_ms?: number | null;
  /**
   * The fleet hub's GET /api/status?host=ID only: the job's state in the fleet grid, on the hub's
   * clock ("missing" while its host is), and the host it is of.
   */
  fleet_state?: "missing" | "failed" | "stale" | "warning" | "never" | "running" | "ok";
  host_id?: string;
  steps: Array<{
    name: string;
    type: string;
    status: StepStatus;
    started_at: string | null;
    finished_at: string | null;
    duration_ms: number | null;
    error: ApiStepError | null;
    run_id: string;
  }>;
}

export interface StatusResponse {
  jobs: JobStatus[];
}

// ---------------------------------------------------------------------------------------------
// Runs: GET /api/runs, GET /api/runs/:id, GET /api/runs/:id/logs (text/plain; …/logs/follow below)

export type RunStatus = "running" | "succeeded" | "warning" | "failed" | "cancelled" | "interrupted";
export type StepStatus =
  "pending" | "running" | "succeeded" | "warning" | "failed" | "skipped" | "cancelled" | "timed_out";
export type RunTrigger = "manual" | "schedule" | "daemon" | "api";

export interface TargetRecord {
  repo: string;
  status: StepStatus;
  duration_ms: number | null;
  error: ApiStepError | null;
  snapshot_id?: string | null;
  /** Step-specific figures (files_new, data_added, …), numbers or short strings. */
  [figure: string]: unknown;
}

export interface StepRecord {
  index: number;
  name: string;
  type: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  attempts: number;
  error: ApiStepError | null;
  summary: Record<string, unknown> | null;
  targets: TargetRecord[];
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

/**
 * One run of a job. Restores and downloads made through the API are runs too, of the pseudo-jobs
 * RESTORE_JOB and DOWNLOAD_JOB, with one step whose `summary` is a RestoreSummary.
 */
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
  pid: number;
  error: ApiStepError | null;
  steps: StepRecord[];
  notifications: NotificationRecord[];
}

/** GET /api/runs?job=&limit=&before=&before_run= (newest first). */
export interface RunsPage {
  runs: RunRecord[];
  /** Pass as before_run= for the next (older) page; null on the last page. */
  next_before: string | null;
  next_before_run: string | null;
}

/** The job names under which API restores and downloads are recorded. */
export type RestoreJobName = "@restore" | "@download";

// ---------------------------------------------------------------------------------------------
// Jobs: POST /api/jobs/:job/run, POST /api/runs/:id/cancel

/** Body of POST /api/jobs/:job/run (optional; no body = the whole job). */
export interface RunJobRequest {
  /** Only these steps, by name (Run now of one step). */
  steps?: string[];
}

/** 202 of POST /api/jobs/:job/run. */
export interface RunStarted {
  job: string;
  pid: number;
  /** The run's id once the child recorded it (null when it had not within the wait). */
  run_id: string | null;
  /** null while the run goes on; set when it already ended within the wait. */
  exit_code: number | null;
  state: "started" | "finished";
  /** The steps asked for (absent: the whole job). */
  steps?: string[];
}

/** 202 of POST /api/runs/:id/cancel: SIGTERM was sent; the run is recorded `cancelled` when it stops
 * (watch GET /api/events or GET /api/runs/:id). 409 when the run is not running. */
export interface CancelResponse {
  run_id: string;
  pid: number;
  state: "cancelling";
}

// ---------------------------------------------------------------------------------------------
// GET /api/redundancy

export interface RedundancyCell {
  repo: string;
  planned: boolean;
  latest_snapshot_at: string | null;
  age_ms: number | null;
  snapshot_id: string | null;
  via: "backup" | "copy" | null;
  stale: boolean;
  /** When a `verify` restore drill of this source from this repository last passed. */
  last_verified_at: string | null;
  /** When a `check` step of this repository last passed. */
  last_check_at: string | null;
  /** The repository is on the source's own filesystem: a copy, but not a second medium. */
  same_medium_as_source: boolean;
}

export interface RedundancyRow {
  source: string;
  /** A database of a dump source: each is a row of its own. null for a source under `sources:`. */
  database: string | null;
  paths: string[];
  cells: RedundancyCell[];
  copies: number;
  media: number;
  offsite: number;
  verdict: "ok" | "at_risk";
  problems: string[];
}

export interface RedundancyMatrix {
  repositories: Array<{ name: string; offsite: boolean; backend: string | null }>;
  sources: RedundancyRow[];
}

// ---------------------------------------------------------------------------------------------
// Repositories and snapshots

/** GET /api/repositories */
export interface RepositoriesResponse {
  repositories: Array<{ name: string; backend: string | null; offsite: boolean }>;
}

/** One snapshot, as the API shows it. */
export interface ApiSnapshot {
  /** Full 64-hex id. */
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  username: string;
  paths: string[];
  tags: string[];
  /** The holdfast source it is a snapshot of (from its `source:` tag), or null. */
  source: string | null;
  job: string | null;
  holdfast: boolean;
  /** "restic 0.18.0" as the snapshot records it (restic 0.16+), or null. */
  program_version: string | null;
  /** Bytes the backup read (restic 0.17+ summary, else the backup step's record), or null. */
  size: number | null;
  /** Files the backup read, same sources as size. */
  files: number | null;
}

/** GET /api/snapshots?repo=&source= (all repositories at once, unpaged; kept for scripts). */
export interface SnapshotsByRepository {
  repositories: Array<{ name: string; snapshots: ApiSnapshot[]; error: ApiStepError | null }>;
}

/**
 * GET /api/repositories/:repo/snapshots?source=&host=&tag=&path=&q=&limit=&offset=
 * Newest first. Filters are exact (tag= may repeat: all must match); q= is a substring of the id,
 * host, paths or tags. `facets` lists every value present (for filter menus), unfiltered.
 */
export interface SnapshotsPage {
  repo: string;
  total: number;
  offset: number;
  limit: number;
  snapshots: ApiSnapshot[];
  facets: { sources: string[]; hosts: string[]; tags: string[] };
  /** When the listing was read from the repository (it is cached for a short while). */
  listed_at: string;
}

/** GET /api/repositories/:repo/snapshots/:id (a prefix of 8+ hex digits, or `latest`). */
export type SnapshotResponse = ApiSnapshot;

export type NodeType = "file" | "dir" | "symlink" | "dev" | "chardev" | "fifo" | "socket" | "irregular";

/** One entry of a directory in a snapshot. */
export interface ApiNode {
  name: string;
  /** A NodeType; other strings when a newer restic adds a kind. */
  type: string;
  /** Absolute path inside the snapshot ("/home/sig/notes.txt"). */
  path: string;
  /** Bytes (files only; 0 for directories). */
  size: number;
  mode: number;
  permissions: string;
  mtime: string;
  uid: number;
  gid: number;
}

/**
 * GET /api/repositories/:repo/snapshots/:id/ls?path=/dir — one directory, not recursive. Entries are
 * sorted: directories first, then by name. `path=/` (the default) lists the snapshot's root.
 */
export interface DirListing {
  repo: string;
  snapshot_id: string;
  path: string;
  /** entries.length */
  count: number;
  entries: ApiNode[];
  /** True when answered from the server's cache of this snapshot (no restic ran). */
  cached: boolean;
}

// ---------------------------------------------------------------------------------------------
// Restore: POST /api/restore, GET /api/restores/:id

/** Body of POST /api/restore. */
export interface RestoreRequestBody {
  repo: string;
  /** Full id, a prefix of 8+ hex digits, or "latest" (then `source` picks whose latest). */
  snapshot?: string | null;
  source?: string | null;
  /**
   * The paths to restore, as they are in the snapshot, each one whole (a comma is part of a name,
   * never a separator). Empty or absent: the whole snapshot.
   */
  paths?: string[];
  /** Same as paths (the name of the first version of this API). */
  include?: string[];
  /**
   * Where to: a NEW directory under the restore root (a name relative to it, or an absolute path
   * inside it). Absent: the server picks `<source or repo>-<short id>-<time>`. Ignored with
   * to_original.
   */
  target?: string;
  /** Restore to where the files were backed up from ("/"), overwriting what is there. Needs confirm_original. */
  to_original?: boolean;
  /** Must be true with to_original: the caller confirmed overwriting the original files. */
  confirm_original?: boolean;
  /** Only say what would be restored (restic 0.17+: `restore --dry-run -vv`); nothing is written. */
  dry_run?: boolean;
}

export type OperationState = "running" | "succeeded" | "failed" | "cancelled";

/** What a restore did (or would do: dry_run), as far as restic tells. */
export interface RestoreSummary {
  kind: "restore" | "download";
  /** Who asked: the token's role and name ("operator", "operator:laptop"), or "loopback". */
  who: string;
  repo: string;
  snapshot_id: string | null;
  paths: string[];
  /** Where the files went: the target directory, "/" for the original location, or the download's
   * file name. */
  target: string;
  dry_run: boolean;
  format?: DownloadFormat;
  /** Files and directories restored (dry run: that would be). null: restic did not say and it could
   * not be counted. 0 with state succeeded is reported as "nothing restored". */
  files_restored: number | null;
  /** Bytes written (download: bytes sent). */
  bytes_restored: number | null;
  /** Entries restic skipped because they were already there and equal (0.17+). */
  files_skipped: number | null;
  /** restic 0.17+ dry run: the paths it would restore (at most 1,000). */
  would_restore?: string[];
  /** One line for people: "restored 12 files (3.1 MiB) into …", "nothing restored: …". */
  message: string;
}

/** A restore or download: answer of POST /api/restore (200 when it ended within ~5 s, else 202)
 * and of GET /api/restores/:id. The id is its run id in the history. */
export interface OperationResponse {
  id: string;
  state: OperationState;
  started_at: string;
  finished_at: string | null;
  summary: RestoreSummary;
  error: ApiStepError | null;
  /** Progress while running (restic 0.16+ restore --json status), else null. */
  progress: Progress | null;
  /** Where to watch it: this endpoint, and the `operation` events of GET /api/events. */
  status_url: string;
}

// ---------------------------------------------------------------------------------------------
// Download: POST /api/downloads, then GET the returned url

export type DownloadFormat = "tar.gz" | "zip" | "raw";

/** Body of POST /api/downloads. */
export interface DownloadRequestBody {
  repo: string;
  snapshot: string;
  /** A file (format raw: its bytes) or a directory (tar.gz or zip of it). */
  path: string;
  /** Default: raw for a file, tar.gz for a directory. */
  format?: DownloadFormat;
}

/**
 * 201 of POST /api/downloads. `url` is a one-time link (no Authorization header needed, so a plain
 * <a href download> works), valid for `expires_in_s`; it streams `restic dump` without staging on
 * disk. The download is recorded in the history (id) when the link is used.
 */
export interface DownloadTicket {
  url: string;
  file_name: string;
  expires_in_s: number;
}

// ---------------------------------------------------------------------------------------------
// Live: GET /api/events (text/event-stream)
//
// One stream for everything. Each message has `id:` (resume with the Last-Event-ID header; the
// server keeps the last ~1,000 events in memory and sends a `reset` event when the id is older),
// `event:` (one of the names below) and `data:` (the JSON of the matching type). A comment line
// (":") every 15 s keeps proxies from closing an idle stream. Progress comes at most once per second
// per run step. Needs the Authorization header like any /api call: use fetch() with a stream
// reader, not EventSource, when a token is set.

export interface EventMap {
  /** First message of a connection (and after a `reset`): what is running now. */
  hello: HelloEvent;
  /** The events between Last-Event-ID and now are gone: reload state, then follow on. */
  reset: { reason: string };
  /** A run started, changed status or ended. */
  run: RunEvent;
  /** A step of a running run changed status. */
  step: StepEvent;
  /** Progress of a running step (backup, restore) — at most 1 Hz per step. */
  progress: ProgressEvent;
  /** A restore or download started, progressed or ended. */
  operation: OperationResponse;
}

export type EventName = keyof EventMap;

export interface HelloEvent {
  now: string;
  running: RunEvent[];
  operations: OperationResponse[];
}

export interface RunEvent {
  run_id: string;
  job: string;
  status: RunStatus;
  pid: number;
  started_at: string;
  finished_at: string | null;
  trigger: RunTrigger;
  steps: Array<{ index: number; name: string; type: string; status: StepStatus }>;
}

export interface StepEvent {
  run_id: string;
  job: string;
  index: number;
  name: string;
  type: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  error: ApiStepError | null;
}

/** How far a step is (restic backup/restore status, as the runner last published it): the figures
 * the run process writes into its live file (engine/progress-figures.ts, one declaration for both). */
export interface Progress extends ProgressFigures {
  /** Which repository, for a step that writes several. */
  repo: string | null;
}

export interface ProgressEvent extends Progress {
  run_id: string;
  job: string;
  index: number;
  step: string;
}

// ---------------------------------------------------------------------------------------------
// A step's log as it is written: GET /api/runs/:id/logs/follow?step=NAME&from=BYTE (text/event-stream)
//
// `log` events carry the log's text from byte `from` to byte `to` (whole lines while the step runs,
// redacted like GET …/logs); the id of each is `to`, so a reconnect with Last-Event-ID (or ?from=)
// resumes exactly there. The stream keeps following while the step runs and ends with one `end`
// event once the step has its result (or the run ended without it), then closes. A finished step's
// log comes the same way: all of it, then `end`. A comment line every 15 s keeps proxies from
// closing it. Read it with fetch() (the Authorization header), like GET /api/events.

export interface LogEvent {
  /** Byte offset of the first byte of `text` in the log. */
  from: number;
  /** Byte offset after it: the event's id, and the `from=` to resume with. */
  to: number;
  text: string;
}

export interface LogEndEvent {
  /** The step's status when the stream ended. */
  status: StepStatus;
  /** The run's: `interrupted` when its process is gone without recording an end. */
  run_status: RunStatus;
  /** The log's length in bytes (what was sent up to). */
  to: number;
}

export interface LogFollowEventMap {
  log: LogEvent;
  end: LogEndEvent;
}

// ---------------------------------------------------------------------------------------------
// Tokens (made with `holdfast serve token add NAME --role viewer|operator`; shown once, kept hashed)

export interface TokenInfo {
  name: string;
  role: ApiRole;
  created_at: string;
}

/** GET /api/tokens (operator): the tokens that exist, never their values. */
export interface TokensResponse {
  tokens: TokenInfo[];
}
