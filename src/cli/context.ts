// What most commands need: the config (from --config or the search path, else the embedded
// defaults where a command allows it), the state dir, and the history store.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { findConfigFile, loadConfigFile } from "../config/load.js";
import { embeddedDefaultConfig } from "../config/defaults.js";
import { UsageError } from "../errors.js";
import type { RunStore } from "../store/types.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { RunHooks } from "../engine/run-job.js";

export interface GlobalOptions {
  config?: string;
}

export interface LoadedConfig {
  config: Config;
  /** True when no file was found and the built-in quickstart config is used. */
  embedded: boolean;
}

export function loadCliConfig(global: GlobalOptions, { allowEmbedded = false } = {}): LoadedConfig {
  const file = findConfigFile({ configPath: global.config });
  if (file) return { config: loadConfigFile(file), embedded: false };
  if (allowEmbedded) return { config: embeddedDefaultConfig(), embedded: true };
  throw new UsageError(
    "no config file found (looked for --config, $HOLDFAST_CONFIG, ./holdfast.yaml, ~/.config/holdfast/holdfast.yaml, /etc/holdfast/holdfast.yaml)",
    "create one with `holdfast init`, or pass --config PATH",
  );
}

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

/** Notifications and metrics around a run. */
export function createRunHooks(config: Config, store: RunStore): RunHooks {
  // Imported when a run starts, so commands that never run a job do not load notifiers and metrics.
  let hooks: Promise<RunHooks> | null = null;
  const load = () =>
    (hooks ??= import("../notify/run-hooks.js").then((m) => m.createMonitoringHooks({ config, store })));
  return {
    runStarted: async (run, cfg) => (await load()).runStarted?.(run, cfg),
    runFinished: async (run, cfg) => (await load()).runFinished?.(run, cfg),
  };
}
