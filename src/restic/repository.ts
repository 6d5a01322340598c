// How restic reaches one repository: the environment and the global flags built from its config.
// Secrets travel only through the environment or files (behavior.md, S1): the URL as
// RESTIC_REPOSITORY (a URL in the config carries no credentials: the loader refuses them) or
// RESTIC_REPOSITORY_FILE (url_file, for URLs with credentials — restic 0.14 takes REST credentials
// only in the URL), the password as RESTIC_PASSWORD_FILE or RESTIC_PASSWORD_COMMAND, backend keys
// from the repository's env_file. argv holds only --cacert, -o key=value and the bandwidth limits.
import fs from "node:fs";
import path from "node:path";
import type { Config, RepositoryConfig } from "../config/types.js";
import { readEnvFile } from "../util/env-file.js";
import { maskUrlCredentials } from "../util/redact.js";
import { EXIT, HoldfastError } from "../errors.js";

/** A repository's config cannot be turned into a restic invocation (unreadable env file, …). */
export class RepositoryConfigError extends HoldfastError {
  declare readonly hint: string;
  constructor(message: string, hint: string) {
    super(message, { kind: "config", hint, exitCode: EXIT.usage });
    this.name = "RepositoryConfigError";
  }
}

export interface RepositoryAccess {
  repo: RepositoryConfig;
  /** The complete environment of restic for this repository. */
  env: Record<string, string>;
  /** Global flags that go before the command: --cacert, -o, --limit-upload/download. */
  globalArgs: string[];
  /** For messages: the URL (credentials masked) or "url_file PATH". */
  location: string;
  /** Two repository names with the same location share this key (one operation at a time in this process). */
  lockKey: string;
}

// Variables that select the repository or its password. Inherited values (a global env_file that
// sets RESTIC_PASSWORD for the seed's scripts) must never leak into another repository's command.
const REPOSITORY_SELECTORS = [
  "RESTIC_REPOSITORY",
  "RESTIC_REPOSITORY_FILE",
  "RESTIC_PASSWORD",
  "RESTIC_PASSWORD_FILE",
  "RESTIC_PASSWORD_COMMAND",
  "RESTIC_KEY_HINT",
  "RESTIC_FROM_REPOSITORY",
  "RESTIC_FROM_REPOSITORY_FILE",
  "RESTIC_FROM_PASSWORD",
  "RESTIC_FROM_PASSWORD_FILE",
  "RESTIC_FROM_PASSWORD_COMMAND",
  "RESTIC_FROM_KEY_HINT",
];

/** Where restic keeps its cache: config.restic.cache_dir, else under the state dir. */
export function resticCacheDir(config: Config): string {
  return config.restic.cache_dir ?? path.join(config.state_dir, "restic-cache");
}

// restic creates its cache dir only when the parent exists; on a fresh state dir it would run
// uncached and say so in every step log. 0700: the cache holds the repository's metadata.
function ensureCacheDir(dir: string): string {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    /* restic reports a cache it cannot use, and works without it */
  }
  return dir;
}

export function describeLocation(repo: RepositoryConfig): string {
  if (repo.url !== undefined) return maskUrlCredentials(repo.url);
  return `url_file ${repo.url_file ?? "?"}`;
}

/**
 * The environment and global flags for running restic against `repo`.
 * `base` is the step's explicit environment (PATH, HOME, … and the config's env layers).
 * Throws RepositoryConfigError when a file the repository needs cannot be read.
 */
export function repositoryAccess(
  config: Config,
  repo: RepositoryConfig,
  base: Record<string, string>,
): RepositoryAccess {
  const env: Record<string, string> = { ...base };
  for (const key of REPOSITORY_SELECTORS) delete env[key];
  if (repo.env_file !== undefined) {
    try {
      Object.assign(env, readEnvFile(repo.env_file));
    } catch (err) {
      throw new RepositoryConfigError(
        `repository "${repo.name}": ${(err as Error).message}`,
        `create ${repo.env_file} (mode 0600) with KEY=VALUE lines, or remove env_file from the repository`,
      );
    }
  }
  Object.assign(env, repo.env ?? {});
  Object.assign(env, selectorEnv(repo, ""));
  env.RESTIC_CACHE_DIR = ensureCacheDir(resticCacheDir(config));
  env.RESTIC_PROGRESS_FPS = String(config.restic.progress_fps);

  const globalArgs: string[] = [];
  if (repo.cacert !== undefined) globalArgs.push("--cacert", repo.cacert);
  for (const [key, value] of Object.entries(repo.options ?? {})) globalArgs.push("-o", `${key}=${value}`);
  if (repo.limit_upload !== undefined) globalArgs.push("--limit-upload", String(repo.limit_upload));
  if (repo.limit_download !== undefined) globalArgs.push("--limit-download", String(repo.limit_download));

  return {
    repo,
    env,
    globalArgs,
    location: describeLocation(repo),
    lockKey: repo.url !== undefined ? `url:${repo.url}` : `file:${repo.url_file ?? repo.name}`,
  };
}

/**
 * The variables that point restic at a repository and its password. prefix "" gives RESTIC_*,
 * prefix "FROM_" gives RESTIC_FROM_* (the source of `restic copy`, read from the environment by
 * restic 0.14+ like --from-repo / --from-password-file / --from-password-command).
 */
export function selectorEnv(repo: RepositoryConfig, prefix: "" | "FROM_"): Record<string, string> {
  const env: Record<string, string> = {};
  if (repo.url_file !== undefined) env[`RESTIC_${prefix}REPOSITORY_FILE`] = repo.url_file;
  else if (repo.url !== undefined) env[`RESTIC_${prefix}REPOSITORY`] = repo.url;
  if (repo.password_file !== undefined) env[`RESTIC_${prefix}PASSWORD_FILE`] = repo.password_file;
  else if (repo.password_command !== undefined) {
    env[`RESTIC_${prefix}PASSWORD_COMMAND`] = passwordCommandValue(repo);
  }
  return env;
}

// password_command runs under coreutils `timeout` (see password-command.ts for why and how it is reported).
/** Default of repositories.NAME.password_command_timeout (also in the schema). */
export const DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS = 30_000;
/** After SIGTERM, how long the command may take before `timeout` sends SIGKILL. */
const KILL_AFTER = "5s";

let timeoutBinary: string | null | undefined;

/** coreutils `timeout`, by absolute path (restic looks the program up on its own PATH otherwise). */
function findTimeoutBinary(): string | null {
  if (timeoutBinary === undefined) {
    timeoutBinary = ["/usr/bin/timeout", "/bin/timeout"].find((f) => isExecutable(f)) ?? null;
  }
  return timeoutBinary;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 100) / 10)}s`;
}

/** The argv restic runs for the repository's password_command: the command under `timeout`. */
export function watchedPasswordArgv(repo: RepositoryConfig): string[] {
  const argv = repo.password_command ?? [];
  const timeout = findTimeoutBinary();
  if (!timeout) return [...argv];
  const limit = repo.password_command_timeout ?? DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS;
  return [timeout, "-k", KILL_AFTER, seconds(limit), ...argv];
}

/** RESTIC_PASSWORD_COMMAND's value for the repository (restic splits it with its own splitter). */
export function passwordCommandValue(repo: RepositoryConfig): string {
  const watched = watchedPasswordArgv(repo);
  try {
    return joinPasswordCommand(watched, repo.name);
  } catch (err) {
    // Report the user's argument, not the wrapper's.
    joinPasswordCommand(repo.password_command ?? [], repo.name);
    throw err;
  }
}

/** Whether password commands run under `timeout` here (coreutils found). */
export function passwordCommandWatched(): boolean {
  return findTimeoutBinary() !== null;
}

/**
 * restic runs RESTIC_PASSWORD_COMMAND itself, splitting the string with its own small splitter
 * (internal/backend/shell_split.go, the same in 0.14 – 0.19), not with a shell: whitespace and `\`
 * separate words outside quotes; '…' and "…" group a word; there are no escapes (a `\` only stops
 * the next character from opening or closing a quote) and nothing is expanded. So each argument is
 * wrapped in the quote character it does not contain. Three arguments cannot be written at all and
 * are refused with a hint: an empty one, one that contains both quote characters, and one that ends
 * in a backslash (it would keep its closing quote from closing).
 */
export function joinPasswordCommand(argv: readonly string[], repoName = "?"): string {
  return argv
    .map((arg) => {
      const refuse = (why: string) =>
        new RepositoryConfigError(
          `repository "${repoName}": password_command argument ${JSON.stringify(arg)} ${why}`,
          "restic splits the password command itself and cannot take this argument; put the command in a small script and use password_command: [/path/to/script]",
        );
      if (arg === "") throw refuse("is empty");
      if (arg.endsWith("\\")) throw refuse("ends with a backslash");
      if (!arg.includes('"')) return `"${arg}"`;
      if (!arg.includes("'")) return `'${arg}'`;
      throw refuse("contains both quote characters");
    })
    .join(" ");
}

/** The inverse of joinPasswordCommand, following restic's splitter rule by rule (for tests and doctor). */
export function splitLikeRestic(data: string): string[] {
  const out: string[] = [];
  let quote = "";
  let last = "";
  let start = -1;
  const isSplit = (c: string): boolean => {
    if (last !== "\\") {
      if (quote !== "" && c === quote) {
        quote = "";
        return true;
      }
      if (quote === "" && (c === '"' || c === "'")) {
        quote = c;
        return true;
      }
    }
    last = c;
    if (quote !== "") return false;
    return c === "\\" || /\s/u.test(c);
  };
  let i = 0;
  for (const c of data) {
    if (isSplit(c)) {
      if (start >= 0) {
        out.push(data.slice(start, i));
        start = -1;
      }
    } else if (start === -1) start = i;
    i += c.length;
  }
  if (start >= 0) out.push(data.slice(start));
  if (quote !== "") throw new Error(`${quote === "'" ? "single" : "double"}-quoted string not terminated`);
  return out;
}
