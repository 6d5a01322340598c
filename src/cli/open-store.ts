// The history store as commands open it: the state dir created 0700, history.db inside it.
import { ensureTrustedStateDir } from "../util/trusted-dir.js";
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { RunStore } from "../store/types.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import {
  addPendingRecords,
  createResilientStore,
  listPendingRecords,
  type ResilientStore,
} from "../store/resilient-store.js";

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

export function openStore(config: Config, options: { busyTimeoutMs?: number } = {}): RunStore {
  ensureStateDir(config.state_dir);
  return createSqliteStore({ path: historyPath(config), ...options });
}

/**
 * The history as `holdfast run` writes it: a run never stops for it (store/resilient-store.ts). A
 * short busy timeout, because better-sqlite3 waits synchronously: a locked database must not stall
 * the event loop (the step's output, its timeout) for seconds at every write — retries are timers.
 */
export async function openRunHistory(config: Config): Promise<ResilientStore> {
  await addPendingRecordsQuietly(config);
  return createResilientStore({
    open: () => openStore(config, { busyTimeoutMs: 100 }),
    stateDir: config.state_dir,
  });
}

/** Records kept while the history was unusable go in as soon as it is usable; failures wait. */
export async function addPendingRecordsQuietly(config: Config): Promise<void> {
  if (listPendingRecords(config.state_dir).length === 0) return;
  try {
    const store = openStore(config);
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
