// Typed restic commands on top of runRestic (exec.ts): each builds its arguments, feeds restic's
// output through the version-aware parsers (outputs.ts) and returns data plus the outcome.
// Quirks are commented with the restic version they belong to.
import fs from "node:fs";
import path from "node:path";
import type { RepositoryConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import {
  parseBackupLine,
  parseCheckOutput,
  parseCopyLine,
  parseForgetOutput,
  parseLockFile,
  parseLsLine,
  parseSnapshotsJson,
  parseStatsJson,
  ResticParseError,
  stripAnsi,
  type BackupError,
  type BackupStatus,
  type BackupSummary,
  type CheckOutput,
  type ForgetOutput,
  type LsNode,
  type ResticStats,
  type Snapshot,
} from "./outputs.js";
import {
  backupArgs,
  filterArgs,
  forgetArgs,
  type BackupArgsOptions,
  type ForgetOptions,
  type TagFilter,
} from "./args.js";

import { repositoryAccess, selectorEnv } from "./repository.js";
import { openTimeoutFor, runRestic, type ResticCall, type ResticOutcome } from "./exec.js";
import type { ResticHost } from "./host.js";

import { detectRestic } from "./detect.js";
import { isLockStale, localLockProbe } from "./errors.js";
import { resticFeatures } from "./version.js";

export { detectRestic };

export {
  backupArgs,
  filterArgs,
  forgetArgs,
  HOLDFAST_TAG,
  jobTag,
  keepArgs,
  sourceTag,
  type BackupArgsOptions,
  type ForgetOptions,
  type KeepPolicy,
  type TagFilter,
} from "./args.js";

function parseFailure(outcome: ResticOutcome, err: unknown): ResticOutcome {
  const message = err instanceof ResticParseError ? err.message : String(err);
  return {
    ...outcome,
    ok: false,
    error: stepError(
      "internal",
      message,
      "restic printed something holdfast does not understand; please report it with `restic version`",
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// backup

export interface BackupOptions extends BackupArgsOptions {
  /** Every status line (restic prints them at RESTIC_PROGRESS_FPS). */
  onStatus?: (status: BackupStatus) => void;
  /** Extra environment for restic (and the program `--stdin-from-command` starts). */
  extraEnv?: Record<string, string>;
  /** restic's stdin, for `--stdin`: the caller streams the data in and ends it. */
  stdinStream?: ResticCall["stdinStream"];
}

export interface BackupResult {
  outcome: ResticOutcome;
  summary: BackupSummary | null;
  /** Files and directories restic could not read (JSON `error` lines on stderr). */
  errors: BackupError[];
}

const MAX_RECORDED_ERRORS = 1_000;
// The step log gets a status line at most this often (the terminal gets every one through onStatus).
const STATUS_LOG_INTERVAL_MS = 30_000;

export async function backup(
  host: ResticHost,
  repo: RepositoryConfig,
  options: BackupOptions,
): Promise<BackupResult> {
  let summary: BackupSummary | null = null;
  const errors: BackupError[] = [];
  let lastLogged = 0;
  const outcome = await runRestic(host, {
    repo,
    command: "backup",
    args: backupArgs(options),
    stopBeforeDeadline: true,
    ...(options.extraEnv ? { extraEnv: options.extraEnv } : {}),
    ...(options.stdinStream ? { stdinStream: options.stdinStream } : {}),
    onStdout: (line) => {
      const parsed = parseBackupLine(line);
      switch (parsed.type) {
        case "status": {
          options.onStatus?.(parsed);
          const now = Date.now();
          if (now - lastLogged >= STATUS_LOG_INTERVAL_MS) {
            lastLogged = now;
            host.log.logOnly(`[${repo.name}] ${line}`);
          }
          return;
        }
        case "verbose_status":
          return;
        case "summary":
          summary = parsed;
          host.log.logOnly(`[${repo.name}] ${line}`);
          // Said once here; the record keeps null for them (outputs.ts, BackupSummary.impossible).
          for (const value of parsed.impossible)
            host.log.warn(`[${repo.name}] restic's summary has an impossible ${value}; not recorded`);
          return;
        case "error":
          if (errors.length < MAX_RECORDED_ERRORS) errors.push(parsed);
          host.log.output(`[${repo.name}] cannot read ${parsed.item}: ${parsed.message}`, "stderr");
          return;
        default:
          host.log.output(`[${repo.name}] ${"text" in parsed ? parsed.text : line}`, "stdout");
      }
    },
    onStderr: (line) => {
      // Backup's JSON error lines go to stderr (restic-notes.md §1).
      if (line.charCodeAt(0) !== 0x7b) {
        host.log.output(`[${repo.name}] ${stripAnsi(line)}`, "stderr");
        return true;
      }
      const parsed = parseBackupLine(line);
      if (parsed.type === "error") {
        if (errors.length < MAX_RECORDED_ERRORS) errors.push(parsed);
        host.log.output(`[${repo.name}] cannot read ${parsed.item}: ${parsed.message}`, "stderr");
        return true;
      }
      if (parsed.type === "exit_error") {
        host.log.output(`[${repo.name}] ${parsed.message}`, "stderr");
        return true;
      }
      return false;
    },
  });
  // 0.14 prints the 8-character id: resolve it, so the record names the snapshot like 0.15+ does.
  const saved = summary as BackupSummary | null;
  if (saved?.snapshotId && !saved.dryRun && !FULL_SNAPSHOT_ID.test(saved.snapshotId)) {
    const full = await resolveSnapshotId(host, repo, saved.snapshotId);
    if (full) summary = { ...saved, snapshotId: full };
    else
      host.log.output(
        `[${repo.name}] could not resolve snapshot ${saved.snapshotId} to its full id`,
        "stderr",
      );
  }
  return { outcome, summary, errors };
}

// ---------------------------------------------------------------------------------------------
// snapshots, stats, ls

export interface SnapshotFilter {
  tags?: TagFilter;
  hosts?: readonly string[];
  paths?: readonly string[];
  /** Only the latest N per host/path group (restic --latest N). */
  latest?: number;
}

// ---------------------------------------------------------------------------------------------
// Snapshot ids: one full id everywhere

const FULL_SNAPSHOT_ID = /^[0-9a-f]{64}$/;

/** The 8-character form people read (restic's own `short_id`). */
export function shortSnapshotId(id: string): string {
  return id.slice(0, 8);
}

/**
 * The full 64-hex id of the snapshot restic named by a prefix: backup (0.14), copy and restore print
 * 8 characters, and records must name one snapshot one way whatever the version. Null when it cannot
 * be resolved (the caller keeps the prefix and says so).
 */
export async function resolveSnapshotId(
  host: ResticHost,
  repo: RepositoryConfig,
  prefix: string,
): Promise<string | null> {
  return (await resolveSnapshotIds(host, repo, [prefix])).get(prefix) ?? null;
}

/**
 * Full ids for several prefixes at once. A local repository answers from its `snapshots/` directory
 * (the file name is the id: no restic start, no KDF); other backends with one `restic snapshots
 * --json` (of the prefix when there is one, else of the filter's snapshots). Unresolved prefixes are
 * missing from the map.
 */
export async function resolveSnapshotIds(
  host: ResticHost,
  repo: RepositoryConfig,
  prefixes: readonly string[],
  filter: SnapshotFilter = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = [...new Set(prefixes)].filter((p) => {
    if (FULL_SNAPSHOT_ID.test(p)) out.set(p, p);
    return !FULL_SNAPSHOT_ID.test(p) && /^[0-9a-f]{4,63}$/.test(p);
  });
  if (wanted.length === 0) return out;
  const pick = (prefix: string, ids: readonly string[]) => {
    const matches = ids.filter((id) => id.startsWith(prefix) && FULL_SNAPSHOT_ID.test(id));
    if (matches.length === 1 && matches[0]) out.set(prefix, matches[0]);
  };
  const local = localRepositoryPath(repo);
  if (local !== null) {
    try {
      const names = fs.readdirSync(path.join(local, "snapshots"));
      for (const prefix of wanted) pick(prefix, names);
      if (wanted.every((p) => out.has(p))) return out;
    } catch {
      /* not readable here (another user's repository): ask restic */
    }
  }
  const rest = wanted.filter((p) => !out.has(p));
  const outcome = await runRestic(host, {
    repo,
    args: ["snapshots", "--json", ...(rest.length === 1 ? rest : filterArgs(filter))],
    noLock: true,
    collectStdout: true,
    onStdout: () => undefined,
    normalPriority: true,
  });
  if (!outcome.ok) return out;
  try {
    const ids = parseSnapshotsJson(outcome.stdout ?? "").map((snap) => snap.id);
    for (const prefix of rest) pick(prefix, ids);
  } catch {
    /* unparsable: the prefixes stay unresolved */
  }
  return out;
}

/** The directory of a local repository (a plain path or `local:PATH`); null for every backend. */
function localRepositoryPath(repo: RepositoryConfig): string | null {
  const url = repo.url;
  if (url === undefined) return null;
  if (url.startsWith("/")) return url;
  if (url.startsWith("local:/")) return url.slice("local:".length);
  return null;
}

export async function snapshots(
  host: ResticHost,
  repo: RepositoryConfig,
  filter: SnapshotFilter = {},
  extra: Partial<ResticCall> = {},
): Promise<{ outcome: ResticOutcome; snapshots: Snapshot[] }> {
  const args = ["snapshots", "--json", ...filterArgs(filter)];
  if (filter.latest !== undefined) args.push("--latest", String(filter.latest));
  const outcome = await runRestic(host, {
    repo,
    args,
    collectStdout: true,
    onStdout: () => undefined,
    normalPriority: true,
    ...extra,
  });
  if (!outcome.ok) return { outcome, snapshots: [] };
  try {
    const list = parseSnapshotsJson(outcome.stdout ?? "");
    list.sort((a, b) => a.time.localeCompare(b.time));
    return { outcome, snapshots: list };
  } catch (err) {
    return { outcome: parseFailure(outcome, err), snapshots: [] };
  }
}

export async function stats(
  host: ResticHost,
  repo: RepositoryConfig,
  snapshotIds: readonly string[],
  mode: "restore-size" | "raw-data" | "files-by-contents" | "blobs-per-file" = "restore-size",
  filter: SnapshotFilter = {},
  extra: Partial<ResticCall> = {},
): Promise<{ outcome: ResticOutcome; stats: ResticStats | null }> {
  // With a filter, "latest" means the latest matching snapshot; none matching → snapshots_count 0
  // (0.14 prints `Ignoring "latest", no snapshot matched` on stderr and exits 0).
  const outcome = await runRestic(host, {
    repo,
    args: ["stats", "--json", "--mode", mode, ...filterArgs(filter), ...snapshotIds],
    collectStdout: true,
    onStdout: () => undefined,
    echo: false,
    ...extra,
  });
  if (!outcome.ok) return { outcome, stats: null };
  try {
    return { outcome, stats: parseStatsJson(outcome.stdout ?? "") };
  } catch (err) {
    return { outcome: parseFailure(outcome, err), stats: null };
  }
}

/** Streams the nodes of a snapshot (`ls --json`), never holding the listing in memory. */
export async function ls(
  host: ResticHost,
  repo: RepositoryConfig,
  snapshot: string,
  onNode: (node: LsNode) => void,
  options: { paths?: readonly string[]; filter?: SnapshotFilter } = {},
): Promise<{ outcome: ResticOutcome; snapshot: Snapshot | null }> {
  let snap: Snapshot | null = null;
  const outcome = await runRestic(host, {
    repo,
    args: ["ls", "--json", ...filterArgs(options.filter ?? {}), snapshot, ...(options.paths ?? [])],
    // A tree in a missing pack makes restic 0.14 retry for minutes: stop in time to say why.
    stopBeforeDeadline: true,
    onStdout: (line) => {
      const parsed = parseLsLine(line);
      if (parsed.type === "node") onNode(parsed.node);
      else if (parsed.type === "snapshot") snap = parsed.snapshot;
    },
  });
  // 0.14: `ls <unknown id>` prints "Ignoring …" and exits 0 (exit 1 since 0.15).
  if (outcome.ok && snap === null) {
    return {
      outcome: {
        ...outcome,
        ok: false,
        error: stepError(
          "not_found",
          `no snapshot ${snapshot} in ${repo.name}`,
          "list them with `holdfast snapshots`",
        ),
      },
      snapshot: null,
    };
  }
  return { outcome, snapshot: snap };
}

// ---------------------------------------------------------------------------------------------
// restore and dump

export interface RestoreOptions {
  target: string;
  include?: readonly string[];
  exclude?: readonly string[];
  filter?: SnapshotFilter;
  verify?: boolean;
}

export async function restore(
  host: ResticHost,
  repo: RepositoryConfig,
  snapshot: string,
  options: RestoreOptions,
): Promise<ResticOutcome> {
  const args = ["restore", snapshot, "--target", options.target, ...filterArgs(options.filter ?? {})];
  for (const p of options.include ?? []) args.push("--include", p);
  for (const p of options.exclude ?? []) args.push("--exclude", p);
  if (options.verify) args.push("--verify");
  return runRestic(host, { repo, args, stopBeforeDeadline: true });
}

/**
 * One file of a snapshot, written under `dir` at its path in the snapshot. (`restic dump` writes to
 * stdout, which the line-oriented process door does not carry as bytes; restore of one path does the
 * same work and keeps binary content intact.) Returns the restored file's path.
 */
export async function dump(
  host: ResticHost,
  repo: RepositoryConfig,
  snapshot: string,
  file: string,
  dir: string,
): Promise<{ outcome: ResticOutcome; path: string | null }> {
  const outcome = await restore(host, repo, snapshot, { target: dir, include: [file] });
  const restored = path.join(dir, file);
  if (!outcome.ok) return { outcome, path: null };
  if (!fs.existsSync(restored)) {
    return {
      outcome: {
        ...outcome,
        ok: false,
        error: stepError("not_found", `${file} is not in snapshot ${snapshot}`, null),
      },
      path: null,
    };
  }
  return { outcome, path: restored };
}

// ---------------------------------------------------------------------------------------------
// forget, prune, check

/**
 * `forget --json [--prune]`. With --prune, line 1 is the JSON array and the prune report follows on
 * stdout as text (every version up to 0.19): the text goes to the log, the JSON is parsed.
 */
export async function forget(
  host: ResticHost,
  repo: RepositoryConfig,
  options: ForgetOptions,
): Promise<{ outcome: ResticOutcome; output: ForgetOutput | null }> {
  const outcome = await runRestic(host, {
    repo,
    command: "forget",
    args: forgetArgs(options),
    exclusive: true,
    stopBeforeDeadline: true,
    collectStdout: true,
    onStdout: (line) => {
      if (line.charCodeAt(0) !== 0x5b /* [ */) host.log.output(`[${repo.name}] ${line}`, "stdout");
      else host.log.logOnly(`[${repo.name}] ${line.length > 4000 ? `${line.slice(0, 4000)}…` : line}`);
    },
  });
  if (!outcome.ok) {
    // What restic planned, when it printed it before failing (0.18 refused deletes: exit 0 with JSON).
    let planned: ForgetOutput | null = null;
    try {
      if (/^\[/m.test(outcome.stdout ?? "")) planned = parseForgetOutput(outcome.stdout ?? "");
    } catch {
      planned = null;
    }
    return { outcome, output: planned };
  }
  try {
    return { outcome, output: parseForgetOutput(outcome.stdout ?? "") };
  } catch (err) {
    return { outcome: parseFailure(outcome, err), output: null };
  }
}

/**
 * `forget ID…`: removes these snapshots, and only them (a dump step's snapshot of a failed or
 * guarded dump). Prints nothing with --json in 0.14, so the outcome is all there is.
 */
export function forgetSnapshots(
  host: ResticHost,
  repo: RepositoryConfig,
  ids: readonly string[],
): Promise<ResticOutcome> {
  return runRestic(host, {
    repo,
    command: "forget",
    args: ["forget", "--", ...ids],
    exclusive: true,
    stopBeforeDeadline: true,
  });
}

export function prune(host: ResticHost, repo: RepositoryConfig): Promise<ResticOutcome> {
  return runRestic(host, { repo, args: ["prune"], exclusive: true, stopBeforeDeadline: true });
}

export async function check(
  host: ResticHost,
  repo: RepositoryConfig,
  options: { readDataSubset?: string | undefined } = {},
): Promise<{ outcome: ResticOutcome; output: CheckOutput }> {
  const stdoutLines: string[] = [];
  // 0.18+: `check --json` gives the exact num_errors and broken_packs (0.14 – 0.17 print text, so
  // their count is read from the error lines).
  const { version } = await detectRestic(host.config, host.env);
  const json = resticFeatures(version).checkJson ? ["--json"] : [];
  const args = [
    "check",
    ...json,
    ...(options.readDataSubset ? ["--read-data-subset", options.readDataSubset] : []),
  ];
  const outcome = await runRestic(host, {
    repo,
    args,
    exclusive: true,
    stopBeforeDeadline: true,
    onStdout: (line) => {
      if (stdoutLines.length < 2_000) stdoutLines.push(line);
      host.log.output(`[${repo.name}] ${readableCheckLine(line)}`, "stdout");
    },
  });
  return { outcome, output: parseCheckOutput(stdoutLines.join("\n"), outcome.stderrLines.join("\n")) };
}

/** check's JSON summary (0.18+) as a person reads it in the step log; other lines as they are. */
function readableCheckLine(line: string): string {
  if (!line.startsWith('{"message_type":"summary"')) return line;
  const summary = parseCheckOutput(line, "");
  const errors = summary.errors ?? 0;
  const packs = summary.brokenPacks.length > 0 ? `; damaged packs: ${summary.brokenPacks.join(", ")}` : "";
  return `check: ${errors === 0 ? "no errors were found" : `${errors} error${errors === 1 ? "" : "s"}`}${packs}`;
}

// ---------------------------------------------------------------------------------------------
// copy

export interface CopyResult {
  outcome: ResticOutcome;
  copied: Array<{ sourceId: string; newId: string | null }>;
  skipped: Array<{ sourceId: string; copiedTo: string }>;
}

/**
 * `restic copy` into `to` from `from`. The source goes in RESTIC_FROM_* variables (0.14+), so
 * its URL and password never reach argv; the two repositories' backend variables are merged and a
 * variable both set differently is refused (restic has one environment for both ends).
 */
function notRun(error: StepError): ResticOutcome {
  return {
    ok: false,
    exitCode: null,
    signal: null,
    durationMs: 0,
    cancelled: false,
    stoppedEarly: false,
    notOpened: false,
    stdout: null,
    stderrLines: [],
    error,
    version: null,
    attempts: 0,
  };
}

/**
 * The environment that makes `from` restic's second repository (RESTIC_FROM_*, read by restic 0.14+
 * like --from-repo / --from-password-file / --from-password-command / --from-repository-file), plus
 * `from`'s backend variables. restic has one environment for both repositories, so a variable both
 * set to different values cannot work and is refused.
 */
export function fromRepositoryEnv(
  host: ResticHost,
  from: RepositoryConfig,
  to: RepositoryConfig,
): { env: Record<string, string> } | { error: StepError } {
  try {
    const fromAccess = repositoryAccess(host.config, from, host.env);
    const toAccess = repositoryAccess(host.config, to, host.env);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(fromAccess.env)) {
      if (key.startsWith("RESTIC_") || host.env[key] === value) continue;
      const other = toAccess.env[key];
      if (other !== undefined && other !== value) {
        return {
          error: stepError(
            "config",
            `repositories ${from.name} and ${to.name} both set ${key}, to different values`,
            "restic copy runs with one environment for both repositories; use backends whose credentials do not collide, or copy through a repository that does not need them",
          ),
        };
      }
      env[key] = value;
    }
    return { env: { ...env, ...selectorEnv(from, "FROM_") } };
  } catch (err) {
    return { error: stepError("config", (err as Error).message, (err as { hint?: string }).hint ?? null) };
  }
}

export async function copy(
  host: ResticHost,
  to: RepositoryConfig,
  from: RepositoryConfig,
  options: { snapshotIds?: readonly string[]; filter?: SnapshotFilter },
): Promise<CopyResult> {
  const copied: CopyResult["copied"] = [];
  const skipped: CopyResult["skipped"] = [];
  const fromEnv = fromRepositoryEnv(host, from, to);
  if ("error" in fromEnv) return { outcome: notRun(fromEnv.error), copied, skipped };
  const extraEnv = fromEnv.env;
  let pending: string | null = null;
  // 0.15+ says "skipping source snapshot …, was already copied" only with -v (it prints nothing
  // else more with -v), and the skip count is a figure of the record.
  const { version } = await detectRestic(host.config, host.env);
  const verbose = resticFeatures(version).copySkipNeedsVerbose ? ["-v"] : [];
  const outcome = await runRestic(host, {
    repo: to,
    command: "copy",
    args: ["copy", ...verbose, ...filterArgs(options.filter ?? {}), ...(options.snapshotIds ?? [])],
    extraEnv,
    stopBeforeDeadline: true,
    // copy opens both repositories: either may be the one that does not answer.
    openTimeoutMs: Math.max(openTimeoutFor(host.config, to), openTimeoutFor(host.config, from)),
    onStdout: (line) => {
      const parsed = parseCopyLine(line);
      if (parsed.type === "snapshot") pending = parsed.shortId;
      else if (parsed.type === "saved") {
        copied.push({ sourceId: pending ?? "?", newId: parsed.shortId });
        pending = null;
      } else if (parsed.type === "skipped") {
        skipped.push({ sourceId: parsed.sourceId, copiedTo: parsed.copiedTo });
        pending = null;
      }
      // Progress lines and the per-snapshot lines of -v go to the step log only, not the terminal.
      if (parsed.type === "snapshot" || parsed.type === "skipped") host.log.logOnly(`[${to.name}] ${line}`);
      else if (parsed.type !== "text" || !/^\[\d+:\d+\]/.test(parsed.text))
        host.log.output(`[${to.name}] ${line}`, "stdout");
    },
  });
  return { outcome, copied, skipped };
}

// ---------------------------------------------------------------------------------------------
// init, unlock, locks

/**
 * `restic init`. An existing repository is not an error here: `exists` is true (restic says "config
 * file already exists"), which makes `holdfast init` idempotent.
 */
export async function init(
  host: ResticHost,
  repo: RepositoryConfig,
  options: { copyChunkerParamsFrom?: RepositoryConfig } = {},
): Promise<{ outcome: ResticOutcome; created: boolean; exists: boolean }> {
  // A copy target made with the source's chunker parameters deduplicates what `restic copy` brings.
  let extra: Partial<ResticCall> = {};
  if (options.copyChunkerParamsFrom) {
    const fromEnv = fromRepositoryEnv(host, options.copyChunkerParamsFrom, repo);
    if ("error" in fromEnv) return { outcome: notRun(fromEnv.error), created: false, exists: false };
    extra = { args: ["init", "--copy-chunker-params"], extraEnv: fromEnv.env };
  }
  const outcome = await runRestic(host, { repo, args: ["init"], normalPriority: true, ...extra });
  if (outcome.ok) return { outcome, created: true, exists: true };
  const exists = alreadyInitialized(outcome.stderrLines);
  if (!exists && options.copyChunkerParamsFrom && outcome.error?.kind !== "cancelled") {
    // The source may not exist yet either: then a plain init.
    const plain = await runRestic(host, { repo, args: ["init"], normalPriority: true });
    if (plain.ok) return { outcome: plain, created: true, exists: true };
    return {
      outcome: plain,
      created: false,
      exists: alreadyInitialized(plain.stderrLines),
    };
  }
  return { outcome, created: false, exists };
}

/**
 * restic's answers to `init` of an existing repository: "config file already exists" where the
 * backend's Create checks (local, sftp, rest), "repository master key and config already
 * initialized" where only the repository layer does (s3 in 0.14, measured with s3rver).
 */
function alreadyInitialized(stderr: readonly string[]): boolean {
  return stderr.some(
    (l) =>
      l.includes("config file already exists") ||
      l.includes("repository master key and config already initialized"),
  );
}

export function unlock(
  host: ResticHost,
  repo: RepositoryConfig,
  options: { removeAll?: boolean } = {},
): Promise<ResticOutcome> {
  return runRestic(host, {
    repo,
    args: ["unlock", ...(options.removeAll ? ["--remove-all"] : [])],
    normalPriority: true,
  });
}

export interface LockInfo {
  id: string;
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  /** restic's rule: older than 30 minutes, or made on this host by a process that is gone. */
  stale: boolean;
}

/** The repository's locks (`list locks` + `cat lock` each, with --no-lock so they work while locked). */
export async function locks(
  host: ResticHost,
  repo: RepositoryConfig,
): Promise<{ outcome: ResticOutcome; locks: LockInfo[] }> {
  const listed = await runRestic(host, {
    repo,
    args: ["list", "locks"],
    noLock: true,
    collectStdout: true,
    onStdout: () => undefined,
    normalPriority: true,
  });
  if (!listed.ok) return { outcome: listed, locks: [] };
  const ids = (listed.stdout ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]{8,64}$/.test(l));
  const found: LockInfo[] = [];
  for (const id of ids) {
    const cat = await runRestic(host, {
      repo,
      args: ["cat", "lock", id],
      noLock: true,
      collectStdout: true,
      onStdout: () => undefined,
      normalPriority: true,
    });
    // The lock may be gone by now (its restic finished): skip it.
    if (!cat.ok) continue;
    try {
      const lock = parseLockFile(cat.stdout ?? "");
      const age = Date.now() - Date.parse(lock.time);
      const ageMs = Number.isNaN(age) ? null : age;
      const stale = isLockStale({ ageMs, hostname: lock.hostname, pid: lock.pid }, localLockProbe());
      const { time, exclusive, hostname, username, pid } = lock;
      found.push({ id, time, exclusive, hostname, username, pid, stale });
    } catch {
      continue;
    }
  }
  return { outcome: listed, locks: found };
}

/** `cat config`: the cheapest command that proves the repository exists and the password opens it. */
export function catConfig(
  host: ResticHost,
  repo: RepositoryConfig,
  extra: Partial<ResticCall> = {},
): Promise<ResticOutcome> {
  return runRestic(host, {
    repo,
    args: ["cat", "config"],
    noLock: true,
    collectStdout: true,
    onStdout: () => undefined,
    normalPriority: true,
    ...extra,
  });
}
