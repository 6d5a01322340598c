// The host side of replication: the fleet_outbox table of the host's own SQLite history (filled by
// triggers in the same transaction as every change, see store/sqlite/migrations.ts version 3).
// Its own connection with a short busy timeout: replication must never hold a run's write for long.
import Database from "better-sqlite3";
import { createSqliteStore, readRunsByIds } from "../store/sqlite/sqlite-store.js";
import type { RunRecord } from "../store/types.js";

export interface OutboxEntry {
  id: number;
  run_id: string;
}

export interface Outbox {
  /** Turns queueing on (the first time: queues every run recorded so far, in order). */
  enable(): void;
  pending(): number;
  /** queued_at of the oldest pending change, or null when the queue is empty. */
  oldestQueuedAt(): string | null;
  batch(limit: number): OutboxEntry[];
  /** The runs of a batch, in the order of their first queued change, with seq and newest position. */
  load(entries: OutboxEntry[]): Promise<Array<{ record: RunRecord; hostSeq: number; version: number }>>;
  /** Removes every entry up to and including this id (after the hub committed them). */
  ack(maxId: number): void;
  close(): Promise<void>;
}

export function openOutbox(historyPath: string, options: { busyTimeoutMs?: number } = {}): Outbox {
  // Opening the store first migrates the file (adds the outbox to an older history).
  const store = createSqliteStore({ path: historyPath, busyTimeoutMs: options.busyTimeoutMs ?? 2_000 });
  const db = new Database(historyPath, { timeout: options.busyTimeoutMs ?? 2_000, fileMustExist: true });
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2_000}`);
  const enableTx = db.transaction(() => {
    if (db.prepare("SELECT 1 FROM state WHERE key = 'fleet:outbox'").get() !== undefined) return;
    db.prepare("INSERT INTO state (key, value) VALUES ('fleet:outbox', ?)").run(new Date().toISOString());
    db.prepare("INSERT INTO fleet_outbox (run_id) SELECT id FROM runs ORDER BY seq").run();
  });
  return {
    enable: () => enableTx.immediate(),
    pending: () => (db.prepare("SELECT count(*) AS n FROM fleet_outbox").get() as { n: number }).n,
    oldestQueuedAt: () =>
      (
        db.prepare("SELECT queued_at FROM fleet_outbox ORDER BY id LIMIT 1").get() as
          { queued_at: string } | undefined
      )?.queued_at ?? null,
    batch: (limit) =>
      db.prepare<[number], OutboxEntry>("SELECT id, run_id FROM fleet_outbox ORDER BY id LIMIT ?").all(limit),
    load: (entries) => {
      const newest = new Map<string, number>();
      for (const e of entries) newest.set(e.run_id, Math.max(newest.get(e.run_id) ?? 0, e.id));
      // Read after the entries: each record is at least as new as `version` says. One read per
      // table for the whole batch (a replay of 10,000 runs is 20 batches, not 30,000 queries).
      const runs = readRunsByIds(db, [...newest.keys()]);
      const out: Array<{ record: RunRecord; hostSeq: number; version: number }> = [];
      for (const [runId, version] of newest) {
        const run = runs.get(runId);
        if (run !== undefined) out.push({ record: run.record, hostSeq: run.seq, version });
      }
      return Promise.resolve(out);
    },
    ack: (maxId) => {
      db.prepare("DELETE FROM fleet_outbox WHERE id <= ?").run(maxId);
    },
    close: async () => {
      db.close();
      await store.close();
    },
  };
}

/** Empties the outbox and turns queueing off: the next sync queues the whole history again. */
export function resetOutbox(historyPath: string): void {
  const store = createSqliteStore({ path: historyPath });
  void store.close();
  const db = new Database(historyPath, { timeout: 5_000, fileMustExist: true });
  try {
    db.transaction(() => {
      db.prepare("DELETE FROM state WHERE key = 'fleet:outbox'").run();
      db.prepare("DELETE FROM fleet_outbox").run();
    }).immediate();
  } finally {
    db.close();
  }
}
