// The history store as commands open it: the state dir created 0700, history.db inside it.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { RunStore } from "../store/types.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";

/** Creates the state dir 0700 (and tightens it if it exists with looser modes we created). */
export function ensureStateDir(stateDir: string): void {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
}

export function historyPath(config: Config): string {
  return path.join(config.state_dir, "history.db");
}

export function openStore(config: Config): RunStore {
  ensureStateDir(config.state_dir);
  return createSqliteStore({ path: historyPath(config) });
}
