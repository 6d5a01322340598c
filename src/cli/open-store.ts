// The history store as commands open it: the state dir created 0700, history.db inside it.
import { ensureTrustedStateDir } from "../util/trusted-dir.js";
import path from "node:path";
import type { Config } from "../config/types.js";
import type { RunStore } from "../store/types.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import {
  addPendingRecords,
  createResilientStore,
  listPendingRecords,
  listPendingWrites,
  pendingDirs,
  type ResilientStore,
} from "../store/resilient-store.js";
import { deferWritesWhileLocked } from "../store/deferred-writes.js";

/** How long a write of a command other than `run` waits for another process' lock before it is queued. */
const COMMAND_WRITE_WAIT_MS = 100;

/**
 * Creates the state dir 0700 with its locks/ and logs/, and refuses one that another user could
 * write (exit 2): holdfast chmods, opens and prints what it finds there (targets.md S8).
 */
export function ensureStateDir(stateDir: string): void {
  ensureTrustedStateDir(stateDir);
}

export function historyPath(config: Config): string {
  return path.join(config.state_dir, "history.db");
}

/**
 * The history as every command but `run` opens it: reads as SQLite gives them (WAL: never blocked by
 * another process' write lock), writes queued while such a lock is held and made when it goes away
 * (store/deferred-writes.ts) — a `sqlite3` shell left in a transaction never turns `watch` stale or
 * stalls `status` or the daemon. Opening errors (a damaged or unreadable file) are thrown as before.
 */
export function openStore(config: Config, options: { busyTimeoutMs?: number } = {}): RunStore {
  ensureStateDir(config.state_dir);
  return deferWritesWhileLocked(
    createSqliteStore({
      path: historyPath(config),
      writeBusyTimeoutMs: COMMAND_WRITE_WAIT_MS,
      ...options,
    }),
    { pendingDirs: pendingDirs(config.state_dir), pendingFiles: listPendingWrites(config.state_dir) },
  );
}

/**
 * The history as `holdfast run` writes it: a run never stops for it (store/resilient-store.ts). A
 * short busy timeout, because better-sqlite3 waits synchronously: a locked database must not stall
 * the event loop (the step's output, its timeout) for seconds at every write — retries are timers.
 */
export async function openRunHistory(config: Config): Promise<ResilientStore> {
  await addPendingRecordsQuietly(config);
  return createResilientStore({
    open: () => {
      ensureStateDir(config.state_dir);
      return createSqliteStore({ path: historyPath(config), busyTimeoutMs: 100 });
    },
    stateDir: config.state_dir,
  });
}

/** Records kept while the history was unusable go in as soon as it is usable; failures wait. */
export async function addPendingRecordsQuietly(config: Config): Promise<void> {
  if (listPendingRecords(config.state_dir).length === 0 && listPendingWrites(config.state_dir).length === 0)
    return;
  try {
    ensureStateDir(config.state_dir);
    // A lock still held: the records wait (and a command's reads see the kept state meanwhile).
    const store = createSqliteStore({ path: historyPath(config), writeBusyTimeoutMs: COMMAND_WRITE_WAIT_MS });
    try {
      const added = await addPendingRecords(store, config.state_dir);
      if (added > 0)
        process.stderr.write(
          `holdfast: added ${added} run record${added === 1 ? "" : "s"} kept while the history was unusable\n`,
        );
    } finally {
      await store.close();
    }
  } catch {
    /* still unusable: they stay pending */
  }
}
