// The fleet's history store: PostgreSQL, shared by many hosts, each writing (and reading) only the
// rows under its own host_id. It passes the same RunStore contract as SQLite and memory
// (test/store/run-store-contract.ts), so a host's history means the same thing in either place.
//   - Every mutating call is one transaction; reads of a run and its steps come from one snapshot
//     (REPEATABLE READ, read only).
//   - Order is `seq` (an identity column: the order of recording here), never the clock times.
//   - Times are timestamptz and come back as toISOString() text — the form the engine writes.
//   - No error message ever holds the connection URL (it may carry a password): only host, port, db.
import pg from "pg";
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
import {
  PG_BOOTSTRAP_SQL,
  PG_LATEST_SCHEMA_VERSION,
  PG_MIGRATIONS,
  PG_MIGRATION_LOCK,
} from "./migrations.js";

export interface PostgresStoreOptions {
  /** A libpq-style URL (postgresql://user:pass@host:port/db, or ?host=/socket/dir). Never logged. */
  url: string;
  /** The host whose rows this store reads and writes (every key starts with it). */
  hostId: string;
  /** How long connecting may take (default 5 s). */
  connectTimeoutMs?: number;
  /** statement_timeout of every session (default 30 s). */
  statementTimeoutMs?: number;
  /** Pool size (default 4). */
  maxConnections?: number;
  /** Apply pending migrations on first use (default true). A writer role without CREATE cannot. */
  migrate?: boolean;
  /**
   * An open pool to use instead of one of its own (the hub reads every host's rows through its
   * viewer pool); the store then never ends it, and `url` only names the database in messages.
   */
  pool?: pg.Pool;
}

type Client = pg.ClientBase;

interface RunRow {
  host_id: string;
  run_id: string;
  seq: number;
  job: string;
  host: string;
  trigger: RunTrigger;
  status: RunStatus;
  exit_code: number | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  pid: number;
  error: StepError | null;
}

interface StepRow {
  run_id: string;
  idx: number;
  run_seq: number;
  job: string;
  name: string;
  type: string;
  status: StepStatus;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: number | null;
  exit_code: number | null;
  attempts: number;
  error: StepError | null;
  summary: Record<string, unknown> | null;
  targets: TargetRecord[];
  log_path: string | null;
}

interface NotificationRow {
  run_id: string;
  notifier: string;
  event: string;
  ok: boolean;
  at: Date;
  attempts: number;
  error: string | null;
}

interface LatestRow {
  name: string;
  type: string;
  run_id: string;
  idx: number;
  status: StepStatus;
  started_at: Date | null;
  finished_at: Date | null;
  duration_ms: number | null;
  error: StepError | null;
  run_seq: number;
}

/** int8 (bigint, count(*)) as a JS number: seq and durations stay far below 2^53. */
const INT8_OID = 20;
const defaultParser = pg.types.getTypeParser as (oid: number, format: "text") => (value: string) => unknown;
export const pgTypes = {
  getTypeParser: ((oid: number) =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : defaultParser(oid, "text")) as typeof pg.types.getTypeParser,
};

/** Where a URL points, without its credentials — the only form of it that may appear in a message. */
export function describePgUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const socket = parsed.searchParams.get("host");
    const where = socket ?? (parsed.hostname || "localhost");
    const port = parsed.port || parsed.searchParams.get("port") || "5432";
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default db)";
    return `${where}:${port}/${db}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/** Opens a pool for a fleet URL; the caller ends it. Exported for the fleet code (ingest, init-db). */
export function createPgPool(
  url: string,
  options: { connectTimeoutMs?: number; statementTimeoutMs?: number; max?: number } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idleTimeoutMillis: 10_000,
    application_name: "holdfast",
    types: pgTypes,
  });
  // An idle client losing its server (the hub restarting) must not crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/** Applies pending migrations (idempotent; two processes at once migrate once). */
export async function migratePostgres(pool: pg.Pool, where: string): Promise<void> {
  const client = await connect(pool, where);
  try {
    await migrateWith(client, where);
  } finally {
    client.release();
  }
}

/** The same on a connected client (the replicator's own connection). */
export async function migrateWith(client: pg.ClientBase, where: string): Promise<void> {
  try {
    // Fast path, and the only one a writer role (no CREATE) can take: the schema is current.
    const current = await client
      .query<{ v: number | null }>("SELECT max(version) AS v FROM holdfast.schema_migrations")
      .then((r) => r.rows[0]?.v ?? 0)
      .catch(() => null);
    if (current !== null && current > PG_LATEST_SCHEMA_VERSION) {
      throw new StoreError(
        `the fleet database ${where} has schema version ${current}, newer than this holdfast knows ` +
          `(${PG_LATEST_SCHEMA_VERSION}); upgrade holdfast on this host`,
      );
    }
    if (current === PG_LATEST_SCHEMA_VERSION) return;
    for (const migration of [...PG_MIGRATIONS].sort((a, b) => a.version - b.version)) {
      await client.query("BEGIN");
      try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [PG_MIGRATION_LOCK]);
        await client.query(PG_BOOTSTRAP_SQL);
        const done = await client.query("SELECT 1 FROM holdfast.schema_migrations WHERE version = $1", [
          migration.version,
        ]);
        if (done.rowCount === 0) {
          await client.query(migration.sql);
          await client.query("INSERT INTO holdfast.schema_migrations (version) VALUES ($1)", [
            migration.version,
          ]);
        }
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    }
  } catch (err) {
    throw toStoreError(err, where, "prepare the fleet database (schema migration)");
  }
}

async function connect(pool: pg.Pool, where: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw toStoreError(err, where, "connect to the fleet database");
  }
}

export function createPostgresStore(options: PostgresStoreOptions): RunStore {
  const where = describePgUrl(options.url);
  const hostId = options.hostId;
  const ownPool = options.pool === undefined;
  const pool =
    options.pool ??
    createPgPool(options.url, {
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.statementTimeoutMs !== undefined ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
      max: options.maxConnections ?? 4,
    });
  let closed = false;
  let ready: Promise<void> | null = null;

  const ensureReady = (): Promise<void> => {
    if (options.migrate === false) return Promise.resolve();
    // A failed attempt (the server was down) is retried by the next call.
    ready ??= migratePostgres(pool, where).catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return ready;
  };

  const withClient = async <T>(
    action: string,
    mode: "write" | "read",
    fn: (c: Client) => Promise<T>,
  ): Promise<T> => {
    if (closed) throw new StoreError(`the history store (PostgreSQL ${where}) is closed`);
    await ensureReady();
    const client: pg.PoolClient = await connect(pool, where);
    try {
      await client.query(mode === "write" ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw toStoreError(err, where, action);
    } finally {
      client.release();
    }
  };

  const requireRun = async (c: Client, runId: string, lock = false): Promise<RunRow> => {
    const r = await c.query<RunRow>(
      `SELECT * FROM holdfast.runs WHERE host_id = $1 AND run_id = $2${lock ? " FOR UPDATE" : ""}`,
      [hostId, runId],
    );
    const row = r.rows[0];
    if (row === undefined) throw new StoreError(`no run ${runId} in the history (PostgreSQL ${where})`);
    return row;
  };

  const loadRuns = async (c: Client, rows: RunRow[]): Promise<RunRecord[]> => {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.run_id);
    const steps = await c.query<StepRow>(
      "SELECT * FROM holdfast.steps WHERE host_id = $1 AND run_id = ANY($2) ORDER BY run_id, idx",
      [hostId, ids],
    );
    const notes = await c.query<NotificationRow>(
      "SELECT * FROM holdfast.notifications WHERE host_id = $1 AND run_id = ANY($2) ORDER BY run_id, pos",
      [hostId, ids],
    );
    const stepsOf = groupBy(steps.rows, (s) => s.run_id);
    const notesOf = groupBy(notes.rows, (n) => n.run_id);
    return rows.map((row) =>
      rowToRun(
        row,
        (stepsOf.get(row.run_id) ?? []).map(rowToStep),
        (notesOf.get(row.run_id) ?? []).map(rowToNote),
      ),
    );
  };

  const writeStep = (c: Client, run: RunRow, record: StepRecord) =>
    writeStepRow(c, hostId, { run_id: run.run_id, job: run.job, seq: run.seq }, record);

  const lastAtOf = async (c: Client, job: string, statuses: readonly RunStatus[]): Promise<string | null> => {
    const r = await c.query<{ started_at: Date; finished_at: Date | null }>(
      `SELECT started_at, finished_at FROM holdfast.runs WHERE host_id = $1 AND job = $2 AND status = ANY($3)
       ORDER BY seq DESC LIMIT 1`,
      [hostId, job, statuses],
    );
    const row = r.rows[0];
    return row === undefined ? null : iso(row.finished_at ?? row.started_at);
  };

  return {
    createRun: (run: NewRun) =>
      withClient("record a new run", "write", async (c) => {
        const startedMs = parseTime(run.started_at, "run started_at");
        const inserted = await c.query<{ seq: number }>(
          `INSERT INTO holdfast.runs (host_id, run_id, job, host, trigger, status, started_at, pid)
           VALUES ($1, $2, $3, $4, $5, 'running', $6, $7)
           ON CONFLICT (host_id, run_id) DO NOTHING RETURNING seq`,
          [hostId, run.id, run.job, run.host, run.trigger, new Date(startedMs), run.pid],
        );
        const seq = inserted.rows[0]?.seq;
        if (seq === undefined) throw new StoreError(`a run with id ${run.id} already exists`);
        for (const [index, step] of run.steps.entries()) {
          const record = newStepRecord(index, step.name, step.type);
          await c.query(
            `INSERT INTO holdfast.steps (host_id, run_id, idx, run_seq, job, name, type, status, attempts, targets)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, '[]')`,
            [hostId, run.id, index, seq, run.job, record.name, record.type, record.attempts],
          );
        }
      }),

    updateStep: (runId: string, index: number, patch: StepPatch) =>
      withClient("record a step", "write", async (c) => {
        const run = await requireRun(c, runId, true);
        const r = await c.query<StepRow>(
          "SELECT * FROM holdfast.steps WHERE host_id = $1 AND run_id = $2 AND idx = $3",
          [hostId, runId, index],
        );
        const row = r.rows[0];
        if (row === undefined) throw new StoreError(`run ${runId} has no step ${index}`);
        await writeStep(c, run, applyStepPatch(rowToStep(row), patch));
      }),

    finishRun: (runId: string, finish: RunFinish) =>
      withClient("record the end of a run", "write", async (c) => {
        await requireRun(c, runId, true);
        await c.query(
          `UPDATE holdfast.runs SET status = $3, exit_code = $4, finished_at = $5, duration_ms = $6,
             error = CASE WHEN $7 THEN $8::jsonb ELSE error END
           WHERE host_id = $1 AND run_id = $2`,
          [
            hostId,
            runId,
            finish.status,
            finish.exit_code,
            toDate(finish.finished_at, "finished_at"),
            finish.duration_ms,
            finish.error !== undefined,
            toJson(finish.error ?? null),
          ],
        );
      }),

    addNotification: (runId: string, record: NotificationRecord) =>
      withClient("record a notification", "write", async (c) => {
        await requireRun(c, runId, true);
        await c.query(
          `INSERT INTO holdfast.notifications (host_id, run_id, pos, notifier, event, ok, at, attempts, error)
           VALUES ($1, $2, (SELECT count(*) FROM holdfast.notifications WHERE host_id = $1 AND run_id = $2),
                   $3, $4, $5, $6, $7, $8)`,
          [
            hostId,
            runId,
            record.notifier,
            record.event,
            record.ok,
            toDate(record.at, "notification at"),
            record.attempts,
            record.error,
          ],
        );
      }),

    markInterrupted: (runId: string, finishedAt: string) =>
      withClient("mark a run interrupted", "write", async (c) => {
        const run = await requireRun(c, runId, true);
        if (run.status !== "running") return;
        const finishedMs = parseTime(finishedAt, "finished_at");
        const steps = await c.query<StepRow>(
          `SELECT * FROM holdfast.steps WHERE host_id = $1 AND run_id = $2 AND status IN ('running', 'pending')
           ORDER BY idx`,
          [hostId, runId],
        );
        for (const row of steps.rows)
          await writeStep(c, run, interruptStep(rowToStep(row), finishedAt, finishedMs));
        await c.query(
          `UPDATE holdfast.runs SET status = 'interrupted', exit_code = NULL, finished_at = $3, duration_ms = $4,
             error = coalesce(error, $5::jsonb)
           WHERE host_id = $1 AND run_id = $2`,
          [
            hostId,
            runId,
            new Date(finishedMs),
            Math.max(0, finishedMs - run.started_at.getTime()),
            JSON.stringify(interruptedRunError(run.pid)),
          ],
        );
      }),

    getRun: (id: string) =>
      withClient("read a run", "read", async (c) => {
        const r = await c.query<RunRow>("SELECT * FROM holdfast.runs WHERE host_id = $1 AND run_id = $2", [
          hostId,
          id,
        ]);
        return (await loadRuns(c, r.rows))[0] ?? null;
      }),

    findRunIds: (prefix: string, limit: number) =>
      withClient("find runs", "read", async (c) => {
        const r = await c.query<{ run_id: string }>(
          `SELECT run_id FROM holdfast.runs WHERE host_id = $1 AND starts_with(run_id, $2)
           ORDER BY seq DESC LIMIT $3`,
          [hostId, prefix, normalizeLimit(limit)],
        );
        return r.rows.map((row) => row.run_id);
      }),

    listRuns: (query: ListRunsQuery) =>
      withClient("list runs", "read", async (c) => {
        const before = query.before === undefined ? null : new Date(parseTime(query.before, "before"));
        const beforeSeq = query.before_run === undefined ? null : (await requireRun(c, query.before_run)).seq;
        const r = await c.query<RunRow>(
          `SELECT * FROM holdfast.runs WHERE host_id = $1
             AND ($2::text IS NULL OR job = $2) AND ($3::text IS NULL OR status = $3)
             AND ($4::timestamptz IS NULL OR started_at < $4) AND ($5::bigint IS NULL OR seq < $5)
           ORDER BY seq DESC LIMIT $6`,
          [hostId, query.job ?? null, query.status ?? null, before, beforeSeq, normalizeLimit(query.limit)],
        );
        return loadRuns(c, r.rows);
      }),

    countRuns: (job?: string) =>
      withClient("count runs", "read", async (c) => {
        const r = await c.query<{ n: number }>(
          "SELECT count(*) AS n FROM holdfast.runs WHERE host_id = $1 AND ($2::text IS NULL OR job = $2)",
          [hostId, job ?? null],
        );
        return r.rows[0]?.n ?? 0;
      }),

    jobSummaries: (jobs: readonly string[]) =>
      withClient("summarize jobs", "read", async (c) => {
        const summaries: JobSummary[] = [];
        for (const job of jobs) {
          const last = await c.query<RunRow>(
            "SELECT * FROM holdfast.runs WHERE host_id = $1 AND job = $2 ORDER BY seq DESC LIMIT 1",
            [hostId, job],
          );
          const latest = await c.query<LatestRow>(
            `SELECT * FROM holdfast.step_latest WHERE host_id = $1 AND job = $2 ORDER BY idx, name COLLATE "C"`,
            [hostId, job],
          );
          summaries.push({
            job,
            last_run: (await loadRuns(c, last.rows))[0] ?? null,
            last_success_at: await lastAtOf(c, job, SUCCESS_STATUSES),
            last_failure_at: await lastAtOf(c, job, ["failed"]),
            steps: latest.rows.map(rowToLatest),
          });
        }
        return summaries;
      }),

    runningRuns: () =>
      withClient("list running runs", "read", async (c) => {
        const r = await c.query<RunRow>(
          "SELECT * FROM holdfast.runs WHERE host_id = $1 AND status = 'running' ORDER BY seq DESC",
          [hostId],
        );
        return r.rows.map((row) => ({
          id: row.run_id,
          job: row.job,
          host: row.host,
          pid: row.pid,
          started_at: iso(row.started_at),
        }));
      }),

    stepHistory: (job: string, step: string, limit: number) =>
      withClient("read step history", "read", async (c) => {
        const r = await c.query<StepRow>(
          `SELECT * FROM holdfast.steps WHERE host_id = $1 AND job = $2 AND name = $3
             AND status IN ('succeeded', 'warning')
           ORDER BY run_seq DESC LIMIT $4`,
          [hostId, job, step, normalizeLimit(limit)],
        );
        return r.rows.map(rowToStep);
      }),

    getState: (key: string) =>
      withClient("read state", "read", async (c) => {
        const r = await c.query<{ value: string }>(
          "SELECT value FROM holdfast.state WHERE host_id = $1 AND key = $2",
          [hostId, key],
        );
        return r.rows[0]?.value ?? null;
      }),

    setState: (key: string, value: string | null) =>
      withClient("write state", "write", async (c) => {
        if (value === null) {
          await c.query("DELETE FROM holdfast.state WHERE host_id = $1 AND key = $2", [hostId, key]);
        } else {
          await c.query(
            `INSERT INTO holdfast.state (host_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (host_id, key) DO UPDATE SET value = excluded.value`,
            [hostId, key, value],
          );
        }
      }),

    close: async () => {
      if (closed) return;
      closed = true;
      if (ownPool) await pool.end().catch(() => undefined);
    },
  };
}

/**
 * Writes a step's mutable fields and keeps step_latest current — shared by the store and by the
 * replication ingest (fleet/ingest.ts), so both keep "latest" by the same rule.
 */
export async function writeStepRow(
  c: Client,
  hostId: string,
  run: { run_id: string; job: string; seq: number },
  record: StepRecord,
): Promise<void> {
  const started = record.started_at === null ? null : toDate(record.started_at, "step started_at");
  await c.query(
    `UPDATE holdfast.steps SET status = $4, started_at = $5, finished_at = $6, duration_ms = $7,
       exit_code = $8, attempts = $9, error = $10::jsonb, summary = $11::jsonb, targets = $12::jsonb, log_path = $13
     WHERE host_id = $1 AND run_id = $2 AND idx = $3`,
    [
      hostId,
      run.run_id,
      record.index,
      record.status,
      started,
      toDateOrNull(record.finished_at, "step finished_at"),
      record.duration_ms,
      record.exit_code,
      record.attempts,
      toJson(record.error),
      toJson(record.summary),
      JSON.stringify(record.targets),
      record.log_path,
    ],
  );
  const current = await c.query<{ run_id: string; idx: number; run_seq: number }>(
    "SELECT run_id, idx, run_seq FROM holdfast.step_latest WHERE host_id = $1 AND job = $2 AND name = $3",
    [hostId, run.job, record.name],
  );
  const cur = current.rows[0];
  const candidate = { status: record.status, run_id: run.run_id, index: record.index, run_seq: run.seq };
  if (!replacesLatest(candidate, cur && { run_id: cur.run_id, index: cur.idx, run_seq: cur.run_seq })) return;
  await c.query(
    `INSERT INTO holdfast.step_latest (host_id, job, name, type, run_id, idx, status, started_at, finished_at,
                                       duration_ms, error, run_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
     ON CONFLICT (host_id, job, name) DO UPDATE SET type = excluded.type, run_id = excluded.run_id,
       idx = excluded.idx, status = excluded.status, started_at = excluded.started_at,
       finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, error = excluded.error,
       run_seq = excluded.run_seq`,
    [
      hostId,
      run.job,
      record.name,
      record.type,
      run.run_id,
      record.index,
      record.status,
      started,
      toDateOrNull(record.finished_at, "step finished_at"),
      record.duration_ms,
      toJson(record.error),
      run.seq,
    ],
  );
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list === undefined) out.set(k, [row]);
    else list.push(row);
  }
  return out;
}

function toDate(value: string, what: string): Date {
  return new Date(parseTime(value, what));
}

function toDateOrNull(value: string | null, what: string): Date | null {
  return value === null ? null : toDate(value, what);
}

function iso(d: Date): string;
function iso(d: Date | null): string | null;
function iso(d: Date | null): string | null {
  return d === null ? null : d.toISOString();
}

function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function rowToRun(row: RunRow, steps: StepRecord[], notifications: NotificationRecord[]): RunRecord {
  return {
    id: row.run_id,
    job: row.job,
    host: row.host,
    trigger: row.trigger,
    status: row.status,
    exit_code: row.exit_code,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.duration_ms,
    pid: row.pid,
    error: row.error,
    steps,
    notifications,
  };
}

export function rowToStep(row: StepRow): StepRecord {
  return {
    index: row.idx,
    name: row.name,
    type: row.type,
    status: row.status,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.duration_ms,
    exit_code: row.exit_code,
    attempts: row.attempts,
    error: row.error,
    summary: row.summary,
    targets: row.targets,
    log_path: row.log_path,
  };
}

function rowToNote(row: NotificationRow): NotificationRecord {
  return {
    notifier: row.notifier,
    event: row.event,
    ok: row.ok,
    at: iso(row.at),
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
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.duration_ms,
    error: row.error,
  };
}

/** A driver or network error as a StoreError saying what failed and where — never with the URL. */
export function toStoreError(err: unknown, where: string, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const codeText = typeof code === "string" ? code : "";
  const message = err instanceof Error ? err.message : String(err);
  const detail = `${codeText ? `${codeText}: ` : ""}${message}`;
  let text: string;
  if (
    ["ECONNREFUSED", "ENOENT", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P03"].includes(codeText)
  ) {
    text = `cannot ${action}: the fleet database ${where} is unreachable (${detail})`;
  } else if (/timeout/i.test(message)) {
    text = `cannot ${action}: the fleet database ${where} did not answer in time (${detail})`;
  } else if (codeText === "28P01" || codeText === "28000") {
    text = `cannot ${action}: the fleet database ${where} refused the credentials (${detail}); check fleet.url_file`;
  } else if (codeText === "42501") {
    text =
      `cannot ${action}: the fleet database ${where} refused it (${detail}); this host's role lacks the privilege` +
      (/row-level security/.test(message)
        ? ` — the role writes only the host id the database maps it to (holdfast.host_roles): after a new ` +
          `host id (\`holdfast fleet reset-id\`), have the administrator run \`holdfast fleet init-db --print ` +
          `--host NAME=HOST_ID\` with the id \`holdfast fleet id\` prints`
        : "");
  } else {
    text = `cannot ${action} (PostgreSQL ${where}): ${detail}`;
  }
  return new StoreError(text, { cause: err });
}
