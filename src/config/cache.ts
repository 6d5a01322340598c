// The validated config, kept for commands that only read (status, history, show, metrics). Loading
// the YAML parser and building the zod schema of every step type is most of the CLI's start-up
// (targets.md P2: `status` ≤ +150 ms over `node -e 0`); a config whose inputs are all unchanged is read
// back from JSON instead. The inputs are everything loading reads: the file's bytes, the environment
// variables it looked up ($VAR, HOME, XDG_*), the user, host and working directory, and this build of
// holdfast. Commands that act (run, install, restore) always validate afresh.
//
// The cache holds what `config show` prints: paths and names, never secrets. Inline secrets are
// refused when the config loads, secret files are read only when a step runs, and inline `env:`
// values that are not on the harmless list (and notifier headers) are stored masked, as `config
// show` prints them (mask.ts). 0600 in a 0700 dir.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "./types.js";
import { maskConfigForCache } from "./mask.js";
import { cacheDir } from "./locate.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { dirDistrust, fileDistrust, READ_NO_FOLLOW } from "../util/trusted-dir.js";

// 2: inline env values and notifier headers stored masked.
const FORMAT = 2;

interface CacheEntry {
  format: number;
  build: string;
  key: string;
  /** The environment variables loading looked up; their values are part of the key. */
  env_names: string[];
  config: Config;
}

/** Where the config file's cache lives: $XDG_CACHE_HOME/holdfast (or ~/.cache/holdfast). */
export function configCachePath(configFile: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = crypto.createHash("sha256").update(configFile).digest("hex").slice(0, 24);
  return path.join(cacheDir(env), `config-${id}.json`);
}

/** The cached config when every input of loading is as it was, else null (and the caller loads). */
export function readCachedConfig(configFile: string, env: NodeJS.ProcessEnv = process.env): Config | null {
  try {
    const cacheFile = configCachePath(configFile, env);
    // A cache another user could have written would hand this process a config of their making.
    if (dirDistrust(path.dirname(cacheFile)) !== null || fileDistrust(cacheFile) !== null) return null;
    const fd = fs.openSync(cacheFile, READ_NO_FOLLOW);
    let entry: CacheEntry;
    try {
      entry = JSON.parse(fs.readFileSync(fd, "utf8")) as CacheEntry;
    } finally {
      fs.closeSync(fd);
    }
    if (entry.format !== FORMAT || entry.build !== buildId()) return null;
    const text = fs.readFileSync(configFile);
    return entry.key === inputKey(configFile, text, entry.env_names, env) ? entry.config : null;
  } catch {
    return null;
  }
}

/**
 * Parses the file through `parse` (the full validation) with the environment watched, and caches the
 * result for readCachedConfig. The file is read once, so the key and the config describe the same
 * bytes even if it is saved again meanwhile. A cache that cannot be written (read-only home) is no
 * error; a file that cannot be read goes to `load`, which says why.
 */
export function loadAndCacheConfig(
  configFile: string,
  loaders: {
    parse: (text: string, file: string, env: NodeJS.ProcessEnv) => Config;
    load: (file: string, env: NodeJS.ProcessEnv) => Config;
  },
  env: NodeJS.ProcessEnv = process.env,
): Config {
  let text: Buffer;
  try {
    text = fs.readFileSync(configFile);
  } catch {
    return loaders.load(configFile, env);
  }
  const looked = new Set<string>();
  const watched = new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") looked.add(name);
      return Reflect.get(target, name) as unknown;
    },
    has(target, name) {
      if (typeof name === "string") looked.add(name);
      return Reflect.has(target, name);
    },
  });
  const config = loaders.parse(text.toString("utf8"), configFile, watched);
  const envNames = [...looked].sort();
  const entry: CacheEntry = {
    format: FORMAT,
    build: buildId(),
    key: inputKey(configFile, text, envNames, env),
    env_names: envNames,
    config: maskConfigForCache(config),
  };
  try {
    const file = configCachePath(configFile, env);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Written only into a directory of this user's that no one else can write, never through a link.
    if (dirDistrust(path.dirname(file)) === null)
      writeFileAtomicSync(file, JSON.stringify(entry), { mode: 0o600, durable: false });
  } catch {
    // Only speed is lost.
  }
  return config;
}

function inputKey(configFile: string, text: Buffer, envNames: string[], env: NodeJS.ProcessEnv): string {
  const hash = crypto.createHash("sha256");
  const inputs = {
    file: configFile,
    uid: process.getuid?.() ?? null,
    host: os.hostname(),
    cwd: process.cwd(),
    env: envNames.map((name) => [name, env[name] ?? null]),
  };
  hash.update(JSON.stringify(inputs));
  hash.update("\0");
  hash.update(text);
  return hash.digest("hex");
}

let cachedBuildId: string | undefined;

/**
 * This build of holdfast: every module beside this one (dist/ when built), by path, size and mtime,
 * so a rebuilt or upgraded holdfast never reads a config validated by another (~2 ms for ~150 files).
 */
function buildId(): string {
  if (cachedBuildId !== undefined) return cachedBuildId;
  const hash = crypto.createHash("sha256");
  const root = fileURLToPath(new URL("..", import.meta.url));
  const entries = fs.readdirSync(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const file of files) {
    const st = fs.statSync(file);
    hash.update(`${path.relative(root, file)}:${st.size}:${st.mtimeMs}\n`);
  }
  cachedBuildId = hash.digest("hex");
  return cachedBuildId;
}
