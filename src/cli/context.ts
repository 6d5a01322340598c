// What most commands need: the config (from --config or the search path, else the embedded
// defaults where a command allows it), the state dir, and the history store.
// Commands that only read use read-config.ts instead, which skips the full load when it can.
import type { Config } from "../config/types.js";
import { findConfigFile, loadConfigFile } from "../config/load.js";
import { embeddedDefaultConfig } from "../config/defaults.js";
import type { RunStore } from "../store/types.js";
import type { RunHooks } from "../engine/run-job.js";
import { noConfigFileError, type GlobalOptions, type LoadedConfig } from "./read-config.js";

export { ensureStateDir, historyPath, openStore } from "./open-store.js";
export type { GlobalOptions, LoadedConfig } from "./read-config.js";

export function loadCliConfig(global: GlobalOptions, { allowEmbedded = false } = {}): LoadedConfig {
  const file = findConfigFile({ configPath: global.config });
  if (file) return { config: loadConfigFile(file), embedded: false };
  if (allowEmbedded) return { config: embeddedDefaultConfig(), embedded: true };
  throw noConfigFileError();
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
