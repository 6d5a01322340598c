// How far the fleet's hub is behind this host: the changes still in the outbox, the oldest one's
// age, and the last sync's outcome (fleet-sync.json) — for `status` and the metrics.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Config } from "../config/schema.js";
import { readSyncStatus } from "./replicate.js";

export interface FleetLag {
  hub: string | null;
  pending: number;
  oldest_pending_at: string | null;
  /** Seconds since the oldest queued change (0 when none is queued). */
  lag_seconds: number;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  conflict: boolean;
}

export function fleetLag(config: Config, now: Date): FleetLag | null {
  if (config.fleet === undefined) return null;
  let pending = 0;
  let oldest: string | null = null;
  const file = path.join(config.state_dir, "history.db");
  if (fs.existsSync(file)) {
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1_000 });
      const row = db.prepare("SELECT count(*) AS n, min(queued_at) AS oldest FROM fleet_outbox").get() as {
        n: number;
        oldest: string | null;
      };
      pending = row.n;
      oldest = row.oldest;
    } catch {
      /* no outbox yet (never synced, or an older schema): nothing queued */
    } finally {
      db?.close();
    }
  }
  const status = readSyncStatus(config.state_dir);
  const oldestMs = oldest === null ? NaN : Date.parse(oldest);
  return {
    hub: status?.hub ?? null,
    pending,
    oldest_pending_at: oldest,
    lag_seconds: Number.isNaN(oldestMs) ? 0 : Math.max(0, Math.round((now.getTime() - oldestMs) / 1000)),
    last_attempt_at: status?.last_attempt_at ?? null,
    last_success_at: status?.last_success_at ?? null,
    last_error: status?.last_error ?? null,
    conflict: status?.conflict ?? false,
  };
}
