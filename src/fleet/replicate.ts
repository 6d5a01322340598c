// `holdfast fleet sync` and the sync after each run: replays the outbox to the fleet's PostgreSQL,
// batch by batch, in order. Each batch commits at the hub before it leaves the outbox, so a process
// killed anywhere (SIGKILL mid-replay) resumes with at most one batch replayed — which the hub
// recognizes (ingest.ts) and does not duplicate. A hub that is down, slow or refusing costs at most
// the deadline; the outcome (and so the lag) is kept in fleet-sync.json for status and metrics.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Config } from "../config/schema.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { describePgUrl, migrateWith, pgTypes, toStoreError } from "../store/postgres/postgres-store.js";
import { HoldfastError, StoreError } from "../errors.js";
import { readFleetSettings } from "./config.js";
import { loadOrCreateHostId } from "./host-id.js";
import { HostConflictError, ingestBatch, recordHeartbeat } from "./ingest.js";
import { buildHeartbeat } from "./heartbeat.js";
import { openOutbox } from "./outbox.js";

export const SYNC_STATUS_FILE = "fleet-sync.json";

export interface SyncStatus {
  host_id: string;
  hub: string;
  last_attempt_at: string;
  last_success_at: string | null;
  last_error: string | null;
  /** Changes still queued after the attempt. */
  pending: number;
  /** The oldest change still queued (null: none), i.e. how far the hub is behind. */
  oldest_pending_at: string | null;
  conflict: boolean;
}

export interface SyncResult {
  ok: boolean;
  /** Runs sent (replays included). */
  sent: number;
  applied: number;
  unchanged: number;
  pending: number;
  error: string | null;
  status: SyncStatus;
}

export interface SyncOptions {
  /** The whole sync's budget (default fleet.sync_timeout). */
  deadlineMs?: number;
  batchSize?: number;
  /** Called after each committed batch (tests kill the process here). */
  onBatch?: (committed: number) => void;
}

function historyFile(config: Config): string {
  return path.join(config.state_dir, "history.db");
}

export function readSyncStatus(stateDir: string): SyncStatus | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, SYNC_STATUS_FILE), "utf8")) as SyncStatus;
  } catch {
    return null;
  }
}

/** Drops a client whose server stopped answering: its socket must not keep the process alive. */
function abandon(client: pg.Client): void {
  const raw = client as unknown as { connection?: { stream?: { destroy?: () => void } } };
  try {
    raw.connection?.stream?.destroy?.();
  } catch {
    /* already gone */
  }
}

export async function syncFleet(config: Config, options: SyncOptions = {}): Promise<SyncResult> {
  const settings = readFleetSettings(config);
  const identity = loadOrCreateHostId(config.state_dir);
  const hub = describePgUrl(settings.url);
  const deadlineMs = options.deadlineMs ?? settings.syncTimeoutMs;
  const started = Date.now();
  const outbox = openOutbox(historyFile(config));
  const previous = readSyncStatus(config.state_dir);
  let sent = 0;
  let applied = 0;
  let unchanged = 0;
  let error: string | null = null;
  let conflict = false;
  const client = new pg.Client({
    connectionString: settings.url,
    connectionTimeoutMillis: Math.max(500, Math.min(deadlineMs, 5_000)),
    query_timeout: Math.max(500, deadlineMs),
    statement_timeout: Math.max(500, deadlineMs),
    application_name: `holdfast-sync ${identity.host_id}`,
    types: pgTypes,
  });
  client.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    outbox.enable();
    const work = (async () => {
      try {
        await client.connect();
      } catch (err) {
        throw toStoreError(err, hub, "connect to the fleet database");
      }
      await migrateWith(client, hub);
      const batchSize = options.batchSize ?? 500;
      const host = {
        host_id: identity.host_id,
        display_name: settings.hostName,
        fingerprint: identity.fingerprint,
      };
      // The heartbeat closes every sync that reached the hub, also one whose budget ran out.
      const heartbeat = () =>
        recordHeartbeat(
          client,
          host,
          buildHeartbeat(
            config,
            { pending: outbox.pending(), oldest_pending_at: outbox.oldestQueuedAt() },
            new Date(),
          ),
        ).catch((err: unknown) => {
          throw toStoreError(err, hub, "send the heartbeat to the fleet database");
        });
      for (;;) {
        if (Date.now() - started > deadlineMs) {
          await heartbeat();
          throw new StoreError(`the sync's ${deadlineMs} ms budget ran out`);
        }
        const entries = outbox.batch(batchSize);
        if (entries.length === 0) {
          await heartbeat();
          break;
        }
        const items = await outbox.load(entries);
        try {
          const r = await ingestBatch(client, host, items);
          applied += r.applied;
          unchanged += r.unchanged;
        } catch (err) {
          if (err instanceof HostConflictError) throw err;
          throw toStoreError(err, hub, "replicate to the fleet database");
        }
        outbox.ack(entries[entries.length - 1]!.id);
        sent += items.length;
        options.onBatch?.(sent);
      }
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreError(`the fleet database ${hub} did not answer within ${deadlineMs} ms`)),
        deadlineMs,
      );
    });
    work.catch(() => undefined);
    await Promise.race([work, timeout]);
  } catch (err) {
    conflict = err instanceof HostConflictError;
    error = err instanceof Error ? err.message : String(err);
    if (err instanceof HoldfastError && err.hint) error += ` (${err.hint})`;
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (error === null) await client.end().catch(() => undefined);
  else abandon(client);
  const now = new Date().toISOString();
  const status: SyncStatus = {
    host_id: identity.host_id,
    hub,
    last_attempt_at: now,
    last_success_at: error === null ? now : (previous?.last_success_at ?? null),
    last_error: error,
    pending: outbox.pending(),
    oldest_pending_at: outbox.oldestQueuedAt(),
    conflict,
  };
  await outbox.close();
  await writeFileAtomic(
    path.join(config.state_dir, SYNC_STATUS_FILE),
    `${JSON.stringify(status, null, 2)}\n`,
    {
      mode: 0o600,
    },
  ).catch(() => undefined);
  return { ok: error === null, sent, applied, unchanged, pending: status.pending, error, status };
}
