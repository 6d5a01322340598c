// Where the config file and the state dir are, without loading the config itself: cheap enough for
// the fast paths of read-only commands (config/cache.ts).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface LoadOptions {
  /** --config PATH */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** config.md's search order: --config, $HOLDFAST_CONFIG, ./holdfast.yaml, XDG config, /etc. */
export function findConfigFile(options: LoadOptions = {}): string | null {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.configPath) return path.resolve(cwd, options.configPath);
  if (env.HOLDFAST_CONFIG) return path.resolve(cwd, env.HOLDFAST_CONFIG);
  const xdg = env.XDG_CONFIG_HOME || path.join(env.HOME ?? os.homedir(), ".config");
  const candidates = [
    path.join(cwd, "holdfast.yaml"),
    path.join(xdg, "holdfast", "holdfast.yaml"),
    "/etc/holdfast/holdfast.yaml",
  ];
  return candidates.find((file) => fs.existsSync(file)) ?? null;
}

/** holdfast's caches (speed-ups only, never needed): $XDG_CACHE_HOME/holdfast, or ~/.cache/holdfast. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME ?? os.homedir(), ".cache"), "holdfast");
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0 && !env.XDG_STATE_HOME) return "/var/lib/holdfast";
  const base = env.XDG_STATE_HOME || path.join(env.HOME ?? os.homedir(), ".local", "state");
  return path.join(base, "holdfast");
}
