// The default history store: one SQLite file in the state dir, shared by every holdfast process on the
// host (several jobs running at once, `status` and `serve` reading while a run writes).
//   - WAL + synchronous=NORMAL: readers never block the writer; a commit survives a killed process
//     (a power loss may drop the last commits, never corrupt the file).
//   - Every mutating call is one BEGIN IMMEDIATE transaction: taking the write lock up front means a
//     busy database is waited for (busy_timeout), never failed with SQLITE_BUSY half-way through.
//   - The file, its -wal and -shm are 0600 in a 0700 directory (targets.md S2).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreError, type StepError } from "../../errors.js";
import type {
  JobSummary,
  ListRunsQuery,
  NewRun,
  NotificationRecord,
  RunFinish,
  RunRecord,
  RunStatus,
  RunStore,
  RunTrigger,
  StepLatest,
  StepPatch,
  StepRecord,
  StepStatus,
  TargetRecord,
} from "../types.js";
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
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "./migrations.js";

export interface SqliteStoreOptions {
  /** The database file (its directory is created 0700 when missing). `:memory:` for a private store. */
  path: string;
  /** Open for reading only: no schema upgrade, every write fails with a StoreError. */
  readonly?: boolean;
  /** How long a call waits for another process' lock (default 5 s); SQLITE_BUSY after it. */
  busyTimeoutMs?: number;
  /**
   * How long a write waits for another process' write lock, when it should differ from reads: a
   * caller that defers writes on SQLITE_BUSY (store/deferred-writes.ts) gives up at once rather than
   * stall (better-sqlite3 waits synchronously), while its reads — which WAL never blocks on a
   * writer — keep the longer wait.
   */
  writeBusyTimeoutMs?: number;
  /** Caps the database size in pages (SQLite's max_page_count); tests use it to simulate a full disk. */
  maxPageCount?: number;
}

const BUSY_TIMEOUT_MS = 5_000;

interface RunRow {
  id: string;
  job: string;
  host: string;
  trigger: RunTrigger;
  status: RunStatus;
  exit_code: number | null;
  started_at: string;
  started_ms: number;
  finished_at: string | null;
  duration_ms: number | null;
  pid: number;
  error: string | null;
  /** The order of recording; runs are ordered by it, never by their (clock) times. */
  seq: number;
}

interface StepRow {
  run_id: string;
  idx: number;
  job: string;
  name: string;
  type: string;
  status: StepStatus;
  started_at: string | null;
  started_ms: number | null;
  finished_at: string | null;
  duration_ms: number | null;
  exit_code: number | null;
  attempts: number;
  error: string | null;
  summary: string | null;
  targets: string;
  log_path: string | null;
  run_seq: number;
}

interface NotificationRow {
  notifier: string;
  event: string;
  ok: number;
  at: string;
  attempts: number;
  error: string | null;
}

interface LatestRow {
  job: string;
  name: string;
  type: string;
  run_id: string;
  idx: number;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  run_seq: number;
}

type StepWrite = Omit<StepRow, "job" | "name" | "type" | "run_seq">;

export function createSqliteStore(options: SqliteStoreOptions): RunStore {
  const { path } = options;
  const readonly = options.readonly === true;
  const db = openDatabase(options);
  const stmts = prepareStatements(db);
  const listStatements = new Map<string, Database.Statement<Record<string, string | number>, RunRow>>();
  let closed = false;

  const loadRun = (row: RunRow): RunRecord => {
    const steps = stmts.stepsOfRun.all(row.id).map(rowToStep);
    const notifications = stmts.notificationsOfRun.all(row.id).map(rowToNotification);
    return rowToRun(row, steps, notifications);
  };

  const requireRun = (runId: string): RunRow => {
    const row = stmts.runById.get(runId);
    if (row === undefined) throw new StoreError(`no run ${runId} in the history (${path})`);
    return row;
  };

  // Writes a step's mutable fields and keeps step_latest current (the one place both happen together).
  const writeStep = (run: RunRow, record: StepRecord): void => {
    const row: StepWrite = {
      run_id: run.id,
      idx: record.index,
      status: record.status,
      started_at: record.started_at,
      started_ms: record.started_at === null ? null : parseTime(record.started_at, "step started_at"),
      finished_at: record.finished_at,
      duration_ms: record.duration_ms,
      exit_code: record.exit_code,
      attempts: record.attempts,
      error: toJson(record.error),
      summary: toJson(record.summary),
      targets: JSON.stringify(record.targets),
      log_path: record.log_path,
    };
    stmts.updateStep.run(row);
    const candidate = {
      status: record.status,
      run_id: run.id,
      index: record.index,
      run_seq: run.seq,
    };
    const current = stmts.latestOf.get(run.job, record.name);
    const currentKey = current && { run_id: current.run_id, index: current.idx, run_seq: current.run_seq };
    if (!replacesLatest(candidate, currentKey)) return;
    stmts.upsertLatest.run({
      job: run.job,
      name: record.name,
      type: record.type,
      run_id: run.id,
      idx: record.index,
      status: record.status,
      started_at: record.started_at,
      finished_at: record.finished_at,
      duration_ms: record.duration_ms,
      error: toJson(record.error),
      run_seq: run.seq,
    });
  };

  const createRunTx = db.transaction((run: NewRun) => {
    if (stmts.runById.get(run.id) !== undefined)
      throw new StoreError(`a run with id ${run.id} already exists`);
    const row: RunRow = {
      id: run.id,
      job: run.job,
      host: run.host,
      trigger: run.trigger,
      status: "running",
      exit_code: null,
      started_at: run.started_at,
      started_ms: parseTime(run.started_at, "run started_at"),
      finished_at: null,
      duration_ms: null,
      pid: run.pid,
      error: null,
      // Inside the IMMEDIATE transaction: no other process can take the same number.
      seq: (stmts.lastSeq.get()?.seq ?? 0) + 1,
    };
    stmts.insertRun.run(row);
    run.steps.forEach((step, index) => {
      const record = newStepRecord(index, step.name, step.type);
      stmts.insertStep.run({
        run_id: run.id,
        run_seq: row.seq,
        idx: index,
        job: run.job,
        name: record.name,
        type: record.type,
        attempts: record.attempts,
        targets: JSON.stringify(record.targets),
      });
    });
  });

  const updateStepTx = db.transaction((runId: string, index: number, patch: StepPatch) => {
    const run = requireRun(runId);
    const row = stmts.stepByKey.get(runId, index);
    if (row === undefined) throw new StoreError(`run ${runId} has no step ${index}`);
    writeStep(run, applyStepPatch(rowToStep(row), patch));
  });

  const finishRunTx = db.transaction((runId: string, finish: RunFinish) => {
    requireRun(runId);
    stmts.finishRun.run({
      id: runId,
      status: finish.status,
      exit_code: finish.exit_code,
      finished_at: finish.finished_at,
      duration_ms: finish.duration_ms,
      set_error: finish.error === undefined ? 0 : 1,
      error: toJson(finish.error ?? null),
    });
  });

  const addNotificationTx = db.transaction((runId: string, record: NotificationRecord) => {
    requireRun(runId);
    stmts.insertNotification.run({
      run_id: runId,
      notifier: record.notifier,
      event: record.event,
      ok: record.ok ? 1 : 0,
      at: record.at,
      attempts: record.attempts,
      error: record.error,
    });
  });

  const markInterruptedTx = db.transaction((runId: string, finishedAt: string) => {
    const run = requireRun(runId);
    // Another process may have found the same dead run first; the second call must change nothing.
    if (run.status !== "running") return;
    const finishedMs = parseTime(finishedAt, "finished_at");
    for (const row of stmts.unfinishedStepsOfRun.all(runId)) {
      writeStep(run, interruptStep(rowToStep(row), finishedAt, finishedMs));
    }
    stmts.finishRun.run({
      id: runId,
      status: "interrupted",
      exit_code: null,
      finished_at: finishedAt,
      duration_ms: Math.max(0, finishedMs - run.started_ms),
      set_error: 1,
      error: run.error ?? JSON.stringify(interruptedRunError(run.pid)),
    });
  });

  const setStateTx = db.transaction((key: string, value: string | null) => {
    if (value === null) stmts.deleteState.run(key);
    else stmts.upsertState.run(key, value);
  });

  const readBusyMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  const writeBusyMs = options.writeBusyTimeoutMs ?? readBusyMs;
  // Reads run in one (deferred) transaction so a run and its steps come from the same snapshot.
  const readTx = db.transaction((fn: () => unknown) => fn());
  const read = <T>(action: string, fn: () => T): Promise<T> => {
    try {
      ensureOpen();
      return Promise.resolve(readTx.deferred(fn) as T);
    } catch (err) {
      return Promise.reject(toStoreError(err, path, action, readBusyMs));
    }
  };

  const write = (action: string, fn: () => void): Promise<void> => {
    try {
      ensureOpen();
      if (readonly) throw new StoreError(`cannot ${action}: the history (${path}) was opened read-only`);
      if (writeBusyMs === readBusyMs) fn();
      else {
        db.pragma(`busy_timeout = ${writeBusyMs}`);
        try {
          fn();
        } finally {
          db.pragma(`busy_timeout = ${readBusyMs}`);
        }
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(toStoreError(err, path, action, writeBusyMs));
    }
  };

  const ensureOpen = (): void => {
    if (closed) throw new StoreError(`the history store (${path}) is closed`);
  };

  const listStatement = (query: ListRunsQuery) => {
    const key = [query.job, query.status, query.before, query.before_run]
      .map((v) => v !== undefined)
      .join(":");
    let stmt = listStatements.get(key);
    if (stmt === undefined) {
      const where = [
        query.job !== undefined ? "job = @job" : null,
        query.status !== undefined ? "status = @status" : null,
        query.before !== undefined ? "started_ms < @before" : null,
        query.before_run !== undefined ? "seq < @before_seq" : null,
      ].filter((c) => c !== null);
      stmt = db.prepare<Record<string, string | number>, RunRow>(
        `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY seq DESC LIMIT @limit`,
      );
      listStatements.set(key, stmt);
    }
    return stmt;
  };

  const lastAtOf = (job: string, statuses: readonly RunStatus[]): string | null => {
    // One index seek per status beats `status IN (…)`, which would sort every matching run.
    let best: { seq: number; finished_at: string | null; started_at: string } | undefined;
    for (const status of statuses) {
      const row = stmts.lastRunOfJobWithStatus.get(job, status);
      if (row !== undefined && (best === undefined || row.seq > best.seq)) best = row;
    }
    return best === undefined ? null : (best.finished_at ?? best.started_at);
  };

  return {
    createRun: (run) => write("record the new run", () => createRunTx.immediate(run)),
    updateStep: (runId, index, patch) =>
      write(`update step ${index} of run ${runId}`, () => updateStepTx.immediate(runId, index, patch)),
    finishRun: (runId, finish) => write(`finish run ${runId}`, () => finishRunTx.immediate(runId, finish)),
    addNotification: (runId, record) =>
      write(`record a notification of run ${runId}`, () => addNotificationTx.immediate(runId, record)),
    markInterrupted: (runId, finishedAt) =>
      write(`mark run ${runId} interrupted`, () => markInterruptedTx.immediate(runId, finishedAt)),
    setState: (key, value) => write(`save state ${key}`, () => setStateTx.immediate(key, value)),

    getRun: (id) =>
      read("read a run", () => {
        const row = stmts.runById.get(id);
        return row === undefined ? null : loadRun(row);
      }),

    findRunIds: (prefix, limit) =>
      read("find runs", () =>
        // The upper bound sorts after every id that starts with the prefix, so the PK index does the work.
        stmts.runIdsWithPrefix.all(prefix, `${prefix}\u{10FFFF}`, normalizeLimit(limit)).map((r) => r.id),
      ),

    listRuns: (query) =>
      read("list runs", () => {
        const params: Record<string, string | number> = { limit: normalizeLimit(query.limit) };
        if (query.job !== undefined) params.job = query.job;
        if (query.status !== undefined) params.status = query.status;
        if (query.before !== undefined) params.before = parseTime(query.before, "before");
        if (query.before_run !== undefined) params.before_seq = requireRun(query.before_run).seq;
        return listStatement(query).all(params).map(loadRun);
      }),

    countRuns: (job) =>
      read("count runs", () =>
        job === undefined ? (stmts.countAll.get()?.n ?? 0) : (stmts.countOfJob.get(job)?.n ?? 0),
      ),

    jobSummaries: (jobs) =>
      read("summarize jobs", () =>
        jobs.map((job): JobSummary => {
          const last = stmts.lastRunOfJob.get(job);
          return {
            job,
            last_run: last === undefined ? null : loadRun(last),
            last_success_at: lastAtOf(job, SUCCESS_STATUSES),
            last_failure_at: lastAtOf(job, ["failed"]),
            steps: stmts.latestOfJob.all(job).map(rowToLatest),
          };
        }),
      ),

    runningRuns: () => read("list running runs", () => stmts.runningRuns.all()),

    stepHistory: (job, step, limit) =>
      read("read step history", () => stmts.stepHistory.all(job, step, normalizeLimit(limit)).map(rowToStep)),

    getState: (key) => read("read state", () => stmts.getState.get(key)?.value ?? null),

    close: () => {
      if (!closed) {
        closed = true;
        db.close();
      }
      return Promise.resolve();
    },
  };
}

function openDatabase(options: SqliteStoreOptions): Database.Database {
  const { path } = options;
  const readonly = options.readonly === true;
  const inMemory = path === ":memory:";
  if (!readonly && !inMemory) prepareFiles(path);
  let db: Database.Database | undefined;
  try {
    const busyTimeout = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeout });
    db.pragma(`busy_timeout = ${busyTimeout}`);
    // Reading the header first turns "not a database" into an open error rather than a later query's.
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > LATEST_SCHEMA_VERSION) {
      throw new StoreError(
        `the history database ${path} has schema version ${version}, newer than this holdfast knows ` +
          `(${LATEST_SCHEMA_VERSION}); it was written by a newer holdfast — upgrade holdfast to read it`,
      );
    }
    if (version < LATEST_SCHEMA_VERSION && readonly) {
      throw new StoreError(
        `the history database ${path} has schema version ${version} and needs version ${LATEST_SCHEMA_VERSION}; ` +
          `open it read-write once (any \`holdfast run\`) to upgrade it`,
      );
    }
    if (!readonly && !inMemory) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
    if (version < LATEST_SCHEMA_VERSION) migrate(db);
    if (!readonly && !inMemory) restrictFileModes(path);
    return db;
  } catch (err) {
    db?.close();
    const fallback = !readonly && !inMemory && isDiskFull(err, path) ? openOnFullDisk(path) : null;
    if (fallback) return fallback;
    throw toStoreError(err, path, "open the history database", options.busyTimeoutMs ?? BUSY_TIMEOUT_MS);
  }
}

// WAL readers need the -shm file, which cannot grow on a full disk (SQLITE_IOERR_SHMSIZE): then the
// history would be unreadable exactly when the user most needs to see it (R7). In exclusive locking
// mode SQLite keeps the WAL index on the heap instead, so reads work; writes still fail with a clear
// SQLITE_FULL. The exclusive lock blocks other processes only while this short-lived command runs.
function openOnFullDisk(path: string): Database.Database | null {
  if (!existsSync(path)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma("locking_mode = EXCLUSIVE");
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version !== LATEST_SCHEMA_VERSION) throw new Error("schema needs an upgrade, which needs space");
    db.pragma("foreign_keys = ON");
    return db;
  } catch {
    db?.close();
    return null;
  }
}

function isDiskFull(err: unknown, path: string): boolean {
  const code = err instanceof Database.SqliteError ? err.code : (errnoOf(err) ?? "");
  if (code === "SQLITE_FULL" || code === "ENOSPC") return true;
  if (!code.startsWith("SQLITE_IOERR")) return false;
  return freeBytes(dirname(path)) === 0;
}

function freeBytes(dir: string): number | null {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

function prepareFiles(path: string): void {
  const dir = dirname(path);
  try {
    // mkdir's mode passes through the umask; chmod makes the directory we created exactly 0700.
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) chmodSync(dir, 0o700);
  } catch (err) {
    throw new StoreError(`cannot create the state directory ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    // Created 0600 before SQLite sees it: SQLite would create it 0644, and gives -wal/-shm the DB's mode.
    closeSync(openSync(path, "wx", 0o600));
  } catch (err) {
    if (errnoOf(err) !== "EEXIST") {
      throw new StoreError(`cannot create the history database ${path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
}

function restrictFileModes(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      // A missing -wal/-shm is normal; a file owned by someone else is doctor's to report, not a reason to fail.
      if (errnoOf(err) !== "ENOENT" && errnoOf(err) !== "EPERM") throw err;
    }
  }
}

function migrate(db: Database.Database): void {
  const ordered = [...MIGRATIONS].sort((a, b) => a.version - b.version);
  for (const migration of ordered) {
    db.transaction(() => {
      // Re-read under the write lock: another process opening the same new file may have migrated first.
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version >= migration.version) return;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    runById: db.prepare<[string], RunRow>("SELECT * FROM runs WHERE id = ?"),
    insertRun: db.prepare<RunRow>(
      `INSERT INTO runs (id, job, host, trigger, status, exit_code, started_at, started_ms, finished_at,
                         duration_ms, pid, error, seq)
       VALUES (@id, @job, @host, @trigger, @status, @exit_code, @started_at, @started_ms, @finished_at,
               @duration_ms, @pid, @error, @seq)`,
    ),
    lastSeq: db.prepare<[], { seq: number | null }>("SELECT max(seq) AS seq FROM runs"),
    insertStep: db.prepare<{
      run_id: string;
      run_seq: number;
      idx: number;
      job: string;
      name: string;
      type: string;
      attempts: number;
      targets: string;
    }>(
      `INSERT INTO steps (run_id, run_seq, idx, job, name, type, status, attempts, targets)
       VALUES (@run_id, @run_seq, @idx, @job, @name, @type, 'pending', @attempts, @targets)`,
    ),
    stepsOfRun: db.prepare<[string], StepRow>("SELECT * FROM steps WHERE run_id = ? ORDER BY idx"),
    unfinishedStepsOfRun: db.prepare<[string], StepRow>(
      "SELECT * FROM steps WHERE run_id = ? AND status IN ('running', 'pending') ORDER BY idx",
    ),
    stepByKey: db.prepare<[string, number], StepRow>("SELECT * FROM steps WHERE run_id = ? AND idx = ?"),
    updateStep: db.prepare<StepWrite>(
      `UPDATE steps SET status = @status, started_at = @started_at, started_ms = @started_ms,
         finished_at = @finished_at, duration_ms = @duration_ms, exit_code = @exit_code, attempts = @attempts,
         error = @error, summary = @summary, targets = @targets, log_path = @log_path
       WHERE run_id = @run_id AND idx = @idx`,
    ),
    latestOf: db.prepare<[string, string], LatestRow>("SELECT * FROM step_latest WHERE job = ? AND name = ?"),
    latestOfJob: db.prepare<[string], LatestRow>(
      "SELECT * FROM step_latest WHERE job = ? ORDER BY idx, name",
    ),
    upsertLatest: db.prepare<LatestRow>(
      `INSERT INTO step_latest (job, name, type, run_id, idx, status, started_at, finished_at, duration_ms, error,
                                run_seq)
       VALUES (@job, @name, @type, @run_id, @idx, @status, @started_at, @finished_at, @duration_ms, @error,
               @run_seq)
       ON CONFLICT (job, name) DO UPDATE SET type = excluded.type, run_id = excluded.run_id, idx = excluded.idx,
         status = excluded.status, started_at = excluded.started_at, finished_at = excluded.finished_at,
         duration_ms = excluded.duration_ms, error = excluded.error, run_seq = excluded.run_seq`,
    ),
    finishRun: db.prepare<{
      id: string;
      status: RunStatus;
      exit_code: number | null;
      finished_at: string;
      duration_ms: number;
      set_error: number;
      error: string | null;
    }>(
      `UPDATE runs SET status = @status, exit_code = @exit_code, finished_at = @finished_at,
         duration_ms = @duration_ms, error = CASE WHEN @set_error THEN @error ELSE error END
       WHERE id = @id`,
    ),
    insertNotification: db.prepare<{
      run_id: string;
      notifier: string;
      event: string;
      ok: number;
      at: string;
      attempts: number;
      error: string | null;
    }>(
      `INSERT INTO notifications (run_id, notifier, event, ok, at, attempts, error)
       VALUES (@run_id, @notifier, @event, @ok, @at, @attempts, @error)`,
    ),
    notificationsOfRun: db.prepare<[string], NotificationRow>(
      "SELECT notifier, event, ok, at, attempts, error FROM notifications WHERE run_id = ? ORDER BY id",
    ),
    runIdsWithPrefix: db.prepare<[string, string, number], { id: string }>(
      "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY seq DESC LIMIT ?",
    ),
    countAll: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM runs"),
    countOfJob: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM runs WHERE job = ?"),
    lastRunOfJob: db.prepare<[string], RunRow>("SELECT * FROM runs WHERE job = ? ORDER BY seq DESC LIMIT 1"),
    lastRunOfJobWithStatus: db.prepare<
      [string, string],
      { seq: number; started_at: string; finished_at: string | null }
    >(
      `SELECT seq, started_at, finished_at FROM runs WHERE job = ? AND status = ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    runningRuns: db.prepare<[], { id: string; job: string; host: string; pid: number; started_at: string }>(
      `SELECT id, job, host, pid, started_at FROM runs WHERE status = 'running'
       ORDER BY seq DESC`,
    ),
    stepHistory: db.prepare<[string, string, number], StepRow>(
      `SELECT * FROM steps WHERE job = ? AND name = ? AND status IN ('succeeded', 'warning')
       ORDER BY run_seq DESC LIMIT ?`,
    ),
    getState: db.prepare<[string], { value: string }>("SELECT value FROM state WHERE key = ?"),
    upsertState: db.prepare<[string, string]>(
      "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    deleteState: db.prepare<[string]>("DELETE FROM state WHERE key = ?"),
  };
}

function rowToRun(row: RunRow, steps: StepRecord[], notifications: NotificationRecord[]): RunRecord {
  return {
    id: row.id,
    job: row.job,
    host: row.host,
    trigger: row.trigger,
    status: row.status,
    exit_code: row.exit_code,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: row.duration_ms,
    pid: row.pid,
    error: fromJson<StepError>(row.error),
    steps,
    notifications,
  };
}

function rowToStep(row: StepRow): StepRecord {
  return {
    index: row.idx,
    name: row.name,
    type: row.type,
    status: row.status,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: row.duration_ms,
    exit_code: row.exit_code,
    attempts: row.attempts,
    error: fromJson<StepError>(row.error),
    summary: fromJson<Record<string, unknown>>(row.summary),
    targets: JSON.parse(row.targets) as TargetRecord[],
    log_path: row.log_path,
  };
}

function rowToNotification(row: NotificationRow): NotificationRecord {
  return {
    notifier: row.notifier,
    event: row.event,
    ok: row.ok !== 0,
    at: row.at,
    attempts: row.attempts,
    error: row.error,
  };
}

function rowToLatest(row: LatestRow): StepLatest {
  return {
    name: row.name,
    type: row.type,
    run_id: row.run_id,
    status: row.status,
    started_at: row.started_at,
    finished_at: row.finished_at,
    duration_ms: row.duration_ms,
    error: fromJson<StepError>(row.error),
  };
}

function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Turns a driver or file-system error into a StoreError that says what failed, where, and what to do. */
function toStoreError(err: unknown, path: string, action: string, waitedMs = BUSY_TIMEOUT_MS): StoreError {
  if (err instanceof StoreError) return err;
  const code = err instanceof Database.SqliteError ? err.code : (errnoOf(err) ?? "");
  const detail = `${code ? `${code}: ` : ""}${errorMessage(err)}`;
  let message: string;
  if (
    code === "SQLITE_FULL" ||
    code === "ENOSPC" ||
    (code.startsWith("SQLITE_IOERR") && freeBytes(dirname(path)) === 0)
  ) {
    message =
      `cannot ${action}: the disk holding ${path} is full (${detail}); ` +
      `free some space — the history recorded so far is intact and readable`;
  } else if (code.startsWith("SQLITE_READONLY") || code === "EROFS") {
    message =
      `cannot ${action}: ${path} is read-only (${detail}); ` +
      `check the owner and mode of the file and its directory, and that the file system is mounted read-write`;
  } else if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    message = `cannot ${action}: another process kept ${path} locked for more than ${formatWait(waitedMs)} (${detail}); find it with: fuser -v ${path}`;
  } else if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    message =
      `cannot ${action}: ${path} is damaged or not a holdfast history database (${detail}); ` +
      `move it aside to start a new history, or restore it from a backup`;
  } else if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM") || code === "EACCES") {
    message =
      `cannot ${action}: ${path} cannot be opened (${detail}); ` +
      `check that it is a file this user can read and write, in a directory that exists`;
  } else if (code.startsWith("SQLITE_IOERR")) {
    message = `cannot ${action}: I/O error on ${path} (${detail}); check the disk and the file system`;
  } else if (err instanceof TypeError && /not open/.test(err.message)) {
    message = `cannot ${action}: the history store (${path}) is closed`;
  } else {
    message = `cannot ${action} (${path}): ${detail}`;
  }
  return new StoreError(message, { cause: err });
}

function formatWait(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs by id with their steps and notifications in three reads (not three per run), each with its
 * seq — the fleet outbox's batches (fleet/outbox.ts). Ids not in the history are left out. Read
 * in one transaction, so a run and its steps are of one moment.
 */
type StepTuple = [
  string,
  number,
  string,
  string,
  StepStatus,
  string | null,
  string | null,
  number | null,
  number | null,
  number,
  string | null,
  string | null,
  string,
  string | null,
];

export function readRunsByIds(
  db: Database.Database,
  ids: readonly string[],
): Map<string, { record: RunRecord; seq: number }> {
  const out = new Map<string, { record: RunRecord; seq: number }>();
  if (ids.length === 0) return out;
  const list = JSON.stringify(ids);
  db.transaction(() => {
    const runs = db
      .prepare<[string], RunRow>("SELECT * FROM runs WHERE id IN (SELECT value FROM json_each(?))")
      .all(list);
    // Rows as arrays (100,000 step rows for a 10,000-run replay: no object per row to build and
    // drop), in rowToStep's field order.
    const steps = db
      .prepare<[string], StepTuple>(
        `SELECT run_id, idx, name, type, status, started_at, finished_at, duration_ms, exit_code, attempts,
                error, summary, targets, log_path
         FROM steps WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, idx`,
      )
      .raw()
      .all(list);
    const notes = db
      .prepare<[string], NotificationRow & { run_id: string }>(
        `SELECT run_id, notifier, event, ok, at, attempts, error FROM notifications
         WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY id`,
      )
      .all(list);
    const stepsOf = new Map<string, StepRecord[]>();
    for (const t of steps) {
      let l = stepsOf.get(t[0]);
      if (l === undefined) stepsOf.set(t[0], (l = []));
      l.push({
        index: t[1],
        name: t[2],
        type: t[3],
        status: t[4],
        started_at: t[5],
        finished_at: t[6],
        duration_ms: t[7],
        exit_code: t[8],
        attempts: t[9],
        error: fromJson<StepError>(t[10]),
        summary: fromJson<Record<string, unknown>>(t[11]),
        targets: JSON.parse(t[12]) as TargetRecord[],
        log_path: t[13],
      });
    }
    const notesOf = new Map<string, NotificationRecord[]>();
    for (const n of notes) {
      let l = notesOf.get(n.run_id);
      if (l === undefined) notesOf.set(n.run_id, (l = []));
      l.push(rowToNotification(n));
    }
    for (const r of runs)
      out.set(r.id, { record: rowToRun(r, stepsOf.get(r.id) ?? [], notesOf.get(r.id) ?? []), seq: r.seq });
  })();
  return out;
}
