// The hub side of replication: a batch of a host's runs (full records, in the host's order) goes in
// in one transaction. Idempotent: each run is one row under (host_id, run_id); a replay of a state
// the hub already has changes nothing (`version`, the host's outbox position, only moves forward),
// a finished run is never changed again, notifications are keyed by their position in the run.
// Two hosts under one host id (a cloned image) are flagged on the hosts row and not merged.
import type pg from "pg";
import { HoldfastError, EXIT } from "../errors.js";
import type { RunRecord } from "../store/types.js";

export interface IngestHost {
  host_id: string;
  display_name: string;
  fingerprint: string;
}

export interface IngestItem {
  record: RunRecord;
  /** The run's seq in the host's SQLite history. */
  hostSeq: number;
  /** The host's outbox position of this state. */
  version: number;
}

export interface IngestResult {
  /** Runs whose row was written (new, or a newer state of a running run). */
  applied: number;
  /** Replays of a state the hub already had, or of a run it holds finished. */
  unchanged: number;
}

/** Two hosts write under one host id: the hub keeps the first and refuses the other's records. */
export class HostConflictError extends HoldfastError {
  constructor(message: string) {
    super(message, {
      kind: "config",
      hint:
        "this state dir was probably copied from another host (a cloned image): give this host its own " +
        "identity with `holdfast fleet reset-id`, then `holdfast fleet sync`",
      exitCode: EXIT.failed,
    });
    this.name = "HostConflictError";
  }
}

async function flagConflict(c: pg.ClientBase, host: IngestHost, reason: string): Promise<void> {
  await c.query(
    `UPDATE holdfast.hosts SET conflict_fingerprint = $2, conflict_name = $3, conflict_at = now()
     WHERE host_id = $1`,
    [host.host_id, `${host.fingerprint} (${reason})`, host.display_name],
  );
}

/** Ingests a batch on a connected client (its own transaction). Throws HostConflictError for a clone. */
export async function ingestBatch(
  c: pg.ClientBase,
  host: IngestHost,
  items: IngestItem[],
): Promise<IngestResult> {
  const result: IngestResult = { applied: 0, unchanged: 0 };
  let conflict: string | null = null;
  await c.query("BEGIN");
  try {
    const known = await c.query<{ fingerprint: string | null }>(
      `INSERT INTO holdfast.hosts (host_id, display_name, fingerprint, last_received_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (host_id) DO UPDATE SET last_received_at = now(),
         display_name = CASE WHEN holdfast.hosts.fingerprint = excluded.fingerprint
                             THEN excluded.display_name ELSE holdfast.hosts.display_name END
       RETURNING fingerprint`,
      [host.host_id, host.display_name, host.fingerprint],
    );
    if (known.rows[0]?.fingerprint !== host.fingerprint) {
      conflict = `host id ${host.host_id} is already in the fleet for another machine (hostname + machine-id differ)`;
    }
    if (conflict === null && items.length > 0) {
      // Two different runs at one position of the host's history: two hosts share this id.
      const clash = await c.query<{ host_seq: number; run_id: string }>(
        `SELECT host_seq, run_id FROM holdfast.runs WHERE host_id = $1 AND host_seq = ANY($2::bigint[])`,
        [host.host_id, items.map((i) => i.hostSeq)],
      );
      const atSeq = new Map(clash.rows.map((r) => [Number(r.host_seq), r.run_id]));
      for (const item of items) {
        const there = atSeq.get(item.hostSeq);
        if (there !== undefined && there !== item.record.id) {
          conflict =
            `host id ${host.host_id} recorded two different runs as its run #${item.hostSeq} ` +
            `(${there} at the hub, ${item.record.id} here): two hosts share this id`;
          break;
        }
      }
    }
    if (conflict === null && items.length > 0) {
      const applied = await ingestRuns(c, host.host_id, items);
      result.applied += applied;
      result.unchanged += items.length - applied;
    }
    if (conflict !== null) {
      await c.query("ROLLBACK");
      await flagConflict(c, host, conflict).catch(() => undefined);
      throw new HostConflictError(conflict);
    }
    await c.query("COMMIT");
    return result;
  } catch (err) {
    if (!(err instanceof HostConflictError)) await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/**
 * Writes a batch in one statement (not one round trip per row, nor one per table): the runs, the
 * steps of the runs whose row was written (joined to what the runs insert returned), step_latest
 * from the steps just written by the same rule as the store (record-rules.ts replacesLatest: the
 * newest run's record of a step wins), and the notifications. Each list travels once, as JSON text
 * (json_to_recordset parses it without building jsonb first). Returns how many runs were written.
 */
async function ingestRuns(c: pg.ClientBase, hostId: string, items: IngestItem[]): Promise<number> {
  // One row per run (the newest state of it in this batch), in the host's order.
  const byId = new Map<string, IngestItem>();
  for (const item of items) {
    const seen = byId.get(item.record.id);
    if (seen === undefined || seen.version <= item.version) byId.set(item.record.id, item);
  }
  const batch = [...byId.values()].sort((a, b) => a.hostSeq - b.hostSeq);
  const isoOrNull = (t: string | null) => (t === null ? null : new Date(t).toISOString());
  const runRows: Array<Record<string, unknown>> = [];
  const stepRows: Array<Record<string, unknown>> = [];
  const notes: Array<Record<string, unknown>> = [];
  for (const [ord, item] of batch.entries()) {
    const r = item.record;
    runRows.push({
      ord,
      run_id: r.id,
      host_seq: item.hostSeq,
      version: item.version,
      job: r.job,
      host: r.host,
      trigger: r.trigger,
      status: r.status,
      exit_code: r.exit_code,
      started_at: new Date(r.started_at).toISOString(),
      finished_at: isoOrNull(r.finished_at),
      duration_ms: r.duration_ms,
      pid: r.pid,
      error: r.error,
    });
    for (const st of r.steps)
      stepRows.push({
        run_id: r.id,
        idx: st.index,
        job: r.job,
        name: st.name,
        type: st.type,
        status: st.status,
        started_at: isoOrNull(st.started_at),
        finished_at: isoOrNull(st.finished_at),
        duration_ms: st.duration_ms,
        exit_code: st.exit_code,
        attempts: st.attempts,
        error: st.error,
        summary: st.summary,
        targets: st.targets,
        log_path: st.log_path,
      });
    // Notifications may follow a run's end; each is one row at its position, whatever the replays.
    for (const [pos, n] of r.notifications.entries())
      notes.push({
        run_id: r.id,
        pos,
        notifier: n.notifier,
        event: n.event,
        ok: n.ok,
        at: new Date(n.at).toISOString(),
        attempts: n.attempts,
        error: n.error,
      });
  }
  const written = await c.query<{ n: number }>(
    `WITH w AS (
       INSERT INTO holdfast.runs AS t (host_id, run_id, host_seq, version, job, host, trigger, status, exit_code,
                                       started_at, finished_at, duration_ms, pid, error)
       SELECT $1, x.run_id, x.host_seq, x.version, x.job, x.host, x.trigger, x.status, x.exit_code,
              x.started_at, x.finished_at, x.duration_ms, x.pid, x.error
       FROM json_to_recordset($2::json) AS x(ord int, run_id text, host_seq bigint, version bigint, job text,
              host text, trigger text, status text, exit_code int, started_at timestamptz, finished_at timestamptz,
              duration_ms bigint, pid int, error jsonb)
       ORDER BY x.ord
       ON CONFLICT (host_id, run_id) DO UPDATE SET host_seq = excluded.host_seq, version = excluded.version,
         job = excluded.job, host = excluded.host, trigger = excluded.trigger, status = excluded.status,
         exit_code = excluded.exit_code, started_at = excluded.started_at, finished_at = excluded.finished_at,
         duration_ms = excluded.duration_ms, pid = excluded.pid, error = excluded.error, received_at = now()
       WHERE t.status = 'running' AND t.version < excluded.version
       RETURNING t.run_id, t.seq
     ), s AS (
       INSERT INTO holdfast.steps AS t (host_id, run_id, idx, run_seq, job, name, type, status, started_at,
                                        finished_at, duration_ms, exit_code, attempts, error, summary, targets, log_path)
       SELECT $1, x.run_id, x.idx, w.seq, x.job, x.name, x.type, x.status, x.started_at, x.finished_at,
              x.duration_ms, x.exit_code, x.attempts, x.error, x.summary, coalesce(x.targets, '[]'), x.log_path
       FROM json_to_recordset($3::json) AS x(run_id text, idx int, job text, name text, type text,
              status text, started_at timestamptz, finished_at timestamptz, duration_ms bigint, exit_code int,
              attempts int, error jsonb, summary jsonb, targets jsonb, log_path text)
       JOIN w USING (run_id)
       ON CONFLICT (host_id, run_id, idx) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
         finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, exit_code = excluded.exit_code,
         attempts = excluded.attempts, error = excluded.error, summary = excluded.summary,
         targets = excluded.targets, log_path = excluded.log_path
       RETURNING t.run_id, t.idx, t.run_seq, t.job, t.name, t.type, t.status, t.started_at, t.finished_at,
                 t.duration_ms, t.error
     ), l AS (
       -- step_latest: per job and step name, this batch's newest record (not pending) replaces the
       -- current one when it is the same record or from a run recorded no earlier.
       INSERT INTO holdfast.step_latest AS l (host_id, job, name, type, run_id, idx, status, started_at,
                                             finished_at, duration_ms, error, run_seq)
       SELECT DISTINCT ON (s.job, s.name) $1, s.job, s.name, s.type, s.run_id, s.idx, s.status, s.started_at,
              s.finished_at, s.duration_ms, s.error, s.run_seq
       FROM s WHERE s.status <> 'pending'
       ORDER BY s.job, s.name, s.run_seq DESC, s.idx DESC
       ON CONFLICT (host_id, job, name) DO UPDATE SET type = excluded.type, run_id = excluded.run_id,
         idx = excluded.idx, status = excluded.status, started_at = excluded.started_at,
         finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, error = excluded.error,
         run_seq = excluded.run_seq
       WHERE (l.run_id = excluded.run_id AND l.idx = excluded.idx) OR excluded.run_seq >= l.run_seq
       RETURNING 1
     ), n AS (
       INSERT INTO holdfast.notifications (host_id, run_id, pos, notifier, event, ok, at, attempts, error)
       SELECT $1, x.run_id, x.pos, x.notifier, x.event, x.ok, x.at, x.attempts, x.error
       FROM json_to_recordset($4::json) AS x(run_id text, pos int, notifier text, event text, ok boolean,
              at timestamptz, attempts int, error text)
       ON CONFLICT DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM w) AS n, (SELECT count(*) FROM l) AS l, (SELECT count(*) FROM n) AS notes`,
    [hostId, JSON.stringify(runRows), JSON.stringify(stepRows), JSON.stringify(notes)],
  );
  return Number(written.rows[0]?.n ?? 0);
}

/** What a host says of itself at the end of each sync (its clock, versions, what to expect of it). */
export interface Heartbeat {
  /** The host's clock when it sent this (ISO). */
  sent_at: string;
  holdfast_version: string | null;
  restic_version: string | null;
  jobs: HeartbeatJob[];
  /** Outbox entries still queued, and the oldest one's time (host clock). */
  pending: number;
  oldest_pending_at: string | null;
  /** fleet.report_every: the host reports at least this often (ms); null: it did not say. */
  report_every_ms: number | null;
}

export interface HeartbeatJob {
  job: string;
  schedule: string | null;
  /** The job's next scheduled run by the host's clock (null: not scheduled). */
  next_run_at: string | null;
  randomized_delay_ms: number;
  max_age_ms: number | null;
}

/**
 * Records a heartbeat (one row per host, replaced each time). The hub's own clock is now() of this
 * server; skew is the host's clock minus it. A clone (another fingerprint) is not recorded: its
 * heartbeats would make the original look alive.
 */
export async function recordHeartbeat(c: pg.ClientBase, host: IngestHost, hb: Heartbeat): Promise<void> {
  const known = await c.query<{ fingerprint: string | null }>(
    `INSERT INTO holdfast.hosts (host_id, display_name, fingerprint, last_received_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (host_id) DO UPDATE SET last_received_at = CASE WHEN holdfast.hosts.fingerprint = excluded.fingerprint
       THEN now() ELSE holdfast.hosts.last_received_at END
     RETURNING fingerprint`,
    [host.host_id, host.display_name, host.fingerprint],
  );
  if (known.rows[0]?.fingerprint !== host.fingerprint) return;
  await c.query(
    `INSERT INTO holdfast.heartbeats AS h (host_id, sent_at, received_at, skew_ms, holdfast_version, restic_version,
                                           jobs, pending, oldest_pending_at, report_every_ms)
     VALUES ($1, $2, now(), round(extract(epoch FROM ($2::timestamptz - now())) * 1000), $3, $4, $5::jsonb, $6, $7, $8)
     ON CONFLICT (host_id) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at,
       skew_ms = excluded.skew_ms, holdfast_version = excluded.holdfast_version,
       restic_version = excluded.restic_version, jobs = excluded.jobs, pending = excluded.pending,
       oldest_pending_at = excluded.oldest_pending_at, report_every_ms = excluded.report_every_ms`,
    [
      host.host_id,
      new Date(hb.sent_at),
      hb.holdfast_version,
      hb.restic_version,
      JSON.stringify(hb.jobs),
      hb.pending,
      hb.oldest_pending_at === null ? null : new Date(hb.oldest_pending_at),
      hb.report_every_ms ?? null,
    ],
  );
}
