// The config for commands that only read (status, history, show, logs, metrics). A config unchanged
// since it was last validated comes from the cache (config/cache.ts) without loading the YAML parser
// and the schema of every step type (targets.md P2); otherwise, or with no file, it loads as
// context.ts does. Imports stay light: the loader is imported only when it is needed.
import type { Config } from "../config/types.js";
import { loadAndCacheConfig, readCachedConfig } from "../config/cache.js";
import { findConfigFile } from "../config/locate.js";
import { UsageError } from "../errors.js";

export interface GlobalOptions {
  config?: string;
}

export interface LoadedConfig {
  config: Config;
  /** True when no file was found and the built-in quickstart config is used. */
  embedded: boolean;
}

export async function loadConfigForReading(
  global: GlobalOptions,
  { allowEmbedded = false } = {},
): Promise<LoadedConfig> {
  const file = findConfigFile({ configPath: global.config });
  if (file) {
    const cached = readCachedConfig(file);
    if (cached) return { config: cached, embedded: false };
    const { loadConfigFile, parseConfigText } = await import("../config/load.js");
    return {
      config: loadAndCacheConfig(file, { parse: parseConfigText, load: loadConfigFile }),
      embedded: false,
    };
  }
  if (allowEmbedded) {
    const { embeddedDefaultConfig } = await import("../config/defaults.js");
    return { config: embeddedDefaultConfig(), embedded: true };
  }
  throw noConfigFileError();
}

export function noConfigFileError(): UsageError {
  return new UsageError(
    "no config file found (looked for --config, $HOLDFAST_CONFIG, ./holdfast.yaml, ~/.config/holdfast/holdfast.yaml, /etc/holdfast/holdfast.yaml)",
    "create one with `holdfast init`, or pass --config PATH",
  );
}
