// The hub side of replication: a batch of a host's runs (full records, in the host's order) goes in
// in one transaction. Idempotent: each run is one row under (host_id, run_id); a replay of a state
// the hub already has changes nothing (`version`, the host's outbox position, only moves forward),
// a finished run is never changed again, notifications are keyed by their position in the run.
// Two hosts under one host id (a cloned image) are flagged on the hosts row and not merged.
import type pg from "pg";
import { HoldfastError, EXIT } from "../errors.js";
import type { RunRecord } from "../store/types.js";
import { writeStepRow } from "../store/postgres/postgres-store.js";

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
    for (const item of conflict === null ? items : []) {
      const clash = await c.query<{ run_id: string }>(
        `SELECT run_id FROM holdfast.runs WHERE host_id = $1 AND host_seq = $2 AND run_id <> $3 LIMIT 1`,
        [host.host_id, item.hostSeq, item.record.id],
      );
      if (clash.rows[0] !== undefined) {
        conflict =
          `host id ${host.host_id} recorded two different runs as its run #${item.hostSeq} ` +
          `(${clash.rows[0].run_id} at the hub, ${item.record.id} here): two hosts share this id`;
        break;
      }
      if (await ingestRun(c, host.host_id, item)) result.applied++;
      else result.unchanged++;
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

async function ingestRun(c: pg.ClientBase, hostId: string, item: IngestItem): Promise<boolean> {
  const r = item.record;
  const upsert = await c.query<{ seq: number }>(
    `INSERT INTO holdfast.runs (host_id, run_id, host_seq, version, job, host, trigger, status, exit_code,
                               started_at, finished_at, duration_ms, pid, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)
     ON CONFLICT (host_id, run_id) DO UPDATE SET host_seq = excluded.host_seq, version = excluded.version,
       job = excluded.job, host = excluded.host, trigger = excluded.trigger, status = excluded.status,
       exit_code = excluded.exit_code, started_at = excluded.started_at, finished_at = excluded.finished_at,
       duration_ms = excluded.duration_ms, pid = excluded.pid, error = excluded.error, received_at = now()
     WHERE holdfast.runs.status = 'running' AND holdfast.runs.version < excluded.version
     RETURNING seq`,
    [
      hostId,
      r.id,
      item.hostSeq,
      item.version,
      r.job,
      r.host,
      r.trigger,
      r.status,
      r.exit_code,
      new Date(r.started_at),
      r.finished_at === null ? null : new Date(r.finished_at),
      r.duration_ms,
      r.pid,
      r.error === null ? null : JSON.stringify(r.error),
    ],
  );
  const seq = upsert.rows[0]?.seq;
  if (seq !== undefined) {
    for (const step of r.steps) {
      await c.query(
        `INSERT INTO holdfast.steps (host_id, run_id, idx, run_seq, job, name, type, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') ON CONFLICT DO NOTHING`,
        [hostId, r.id, step.index, seq, r.job, step.name, step.type],
      );
      await writeStepRow(c, hostId, { run_id: r.id, job: r.job, seq }, step);
    }
  }
  // Notifications may follow a run's end; each is one row at its position, whatever the replays.
  for (const [pos, n] of r.notifications.entries()) {
    await c.query(
      `INSERT INTO holdfast.notifications (host_id, run_id, pos, notifier, event, ok, at, attempts, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [hostId, r.id, pos, n.notifier, n.event, n.ok, new Date(n.at), n.attempts, n.error],
    );
  }
  return seq !== undefined;
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
                                           jobs, pending, oldest_pending_at)
     VALUES ($1, $2, now(), round(extract(epoch FROM ($2::timestamptz - now())) * 1000), $3, $4, $5::jsonb, $6, $7)
     ON CONFLICT (host_id) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at,
       skew_ms = excluded.skew_ms, holdfast_version = excluded.holdfast_version,
       restic_version = excluded.restic_version, jobs = excluded.jobs, pending = excluded.pending,
       oldest_pending_at = excluded.oldest_pending_at`,
    [
      host.host_id,
      new Date(hb.sent_at),
      hb.holdfast_version,
      hb.restic_version,
      JSON.stringify(hb.jobs),
      hb.pending,
      hb.oldest_pending_at === null ? null : new Date(hb.oldest_pending_at),
    ],
  );
}
