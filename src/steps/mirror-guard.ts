// The mirror guard (docs/guards.md): what stops an rsync mirror from copying an empty, unmounted or
// half-there source over a good mirror and deleting the mirror to match. Like the source guard of a
// backup: `exists` sentinels and `min_files` on the source, and — for a mirror that deletes —
// `max_delete` (a count, or a share of the target), handed to rsync as its own --max-delete so the
// limit holds file by file while rsync runs (rsync exits 25 when it stopped deleting). Without any
// setting, a deleting mirror still refuses a source that holds no files while the mirror holds some.
//
// Deleting is what the options make rsync do, not what `delete:` says: a deletion option in rsync_args
// (--del, --delete-after, …, also passed on through --remote-option) turns the guard on the same way.
// A remote side (`host:path`) is looked at through the same ssh command the step gives rsync.
import fs from "node:fs";
import path from "node:path";
import { stepError, type StepError } from "../errors.js";
import type { StepContext, StepProblem } from "../engine/step-kind.js";
import { quoteArg } from "../util/shell-quote.js";

export interface MirrorGuardConfig {
  exists: string[];
  min_files?: number | undefined;
  max_delete?: { count: number } | { fraction: number } | undefined;
}

/** Every option of rsync 3.x that makes the receiver delete files (rsync --help). */
const DELETE_OPTIONS = new Set([
  "--del",
  "--delete",
  "--delete-before",
  "--delete-during",
  "--delete-delay",
  "--delete-after",
  "--delete-excluded",
  "--delete-missing-args",
]);

/** Long options that take their value as the next argument when written without "=" (rsync 3.5). */
const LONG_WITH_VALUE = new Set([
  "--exclude",
  "--include",
  "--filter",
  "--exclude-from",
  "--include-from",
  "--files-from",
  "--rsync-path",
  "--temp-dir",
  "--compare-dest",
  "--copy-dest",
  "--link-dest",
  "--backup-dir",
  "--suffix",
  "--chmod",
  "--chown",
  "--usermap",
  "--groupmap",
  "--timeout",
  "--contimeout",
  "--bwlimit",
  "--log-file",
  "--log-file-format",
  "--out-format",
  "--password-file",
  "--port",
  "--sockopts",
  "--partial-dir",
  "--max-size",
  "--min-size",
  "--block-size",
  "--modify-window",
  "--compress-choice",
  "--compress-level",
  "--skip-compress",
  "--checksum-choice",
  "--checksum-seed",
  "--protocol",
  "--iconv",
  "--info",
  "--debug",
  "--stop-after",
  "--stop-at",
  "--write-batch",
  "--only-write-batch",
  "--read-batch",
  "--outbuf",
  "--address",
  "--copy-as",
  "--early-input",
]);

/** Short options that take a value (the rest of the bundle, or the next argument). */
const SHORT_WITH_VALUE = new Set(["B", "e", "f", "T", "M", "@"]);

export interface RsyncArgsReading {
  /** The first deletion option found (as written), or null. */
  deletion: string | null;
  problems: StepProblem[];
}

/**
 * Reads rsync_args for what the guard must know or refuse. `deleting` is the step's `delete:`; a
 * deletion option found here makes the step deleting too (returned in `deletion`).
 */
export function readRsyncArgs(args: readonly unknown[], deleting: boolean): RsyncArgsReading {
  let deletion: string | null = null;
  const found: Array<{ index: number; option: string }> = [];
  const seeOption = (index: number, option: string) => {
    const name = option.startsWith("--") ? (option.split("=")[0] as string) : option;
    if (DELETE_OPTIONS.has(name)) deletion ??= option;
    found.push({ index, option: name });
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== "string") continue;
    if (arg === "--") {
      found.push({ index: i, option: "--" });
      continue;
    }
    if (arg.startsWith("--")) {
      const [name, value] = splitLong(arg);
      // --remote-option=OPT passes OPT to the receiver (or, copying locally, to the second rsync).
      if (name === "--remote-option") {
        if (value !== null) seeOption(i, value);
        else if (typeof args[i + 1] === "string") seeOption(++i, args[i] as string);
        continue;
      }
      seeOption(i, name);
      if (value === null && LONG_WITH_VALUE.has(name)) i++;
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A bundle of short options (-avz, -ae ssh, -M--delete): a value-taking letter ends it.
      for (let c = 1; c < arg.length; c++) {
        const letter = arg[c] as string;
        if (!SHORT_WITH_VALUE.has(letter)) continue;
        const rest = arg.slice(c + 1);
        if (letter === "e") found.push({ index: i, option: "-e" });
        if (letter === "M") {
          if (rest) seeOption(i, rest);
          else if (typeof args[i + 1] === "string") seeOption(++i, args[i] as string);
        } else if (!rest) i++;
        break;
      }
    }
  }
  const problems: StepProblem[] = [];
  const deletes = deleting || deletion !== null;
  for (const { index, option } of found) {
    const at = ["rsync_args", index];
    if (option === "--remove-source-files" || option === "--remove-sent-files") {
      problems.push({
        path: at,
        message: `${option} removes each file from \`from\` once it is copied: a mirror would then be the only copy`,
        hint: "remove it from rsync_args; to move files rather than mirror them, use an exec step that runs rsync",
      });
    } else if (option === "--max-delete") {
      problems.push({
        path: at,
        message: "--max-delete in rsync_args would compete with the mirror guard's own limit",
        hint: "write the limit as guard.max_delete (a count like 100, or a share of the mirror like 10%)",
      });
    } else if (option === "--ignore-errors" && deletes) {
      problems.push({
        path: at,
        message:
          "--ignore-errors makes rsync delete even after errors reading the source (a half-readable disk would empty the mirror)",
        hint: "remove it: without it rsync skips deleting when it could not read the whole source",
      });
    } else if (option === "-e" || option === "--rsh") {
      problems.push({
        path: at,
        message: `${option} in rsync_args would be overridden: the step gives rsync its own remote shell`,
        hint: "write the ssh command as the step's ssh_command: [ssh, -p, '2222', …] (the guard uses it too)",
      });
    } else if (option === "--") {
      problems.push({
        path: at,
        message: '"--" in rsync_args would make the options after it paths',
        hint: "rsync_args holds options only; `from` and `to` name the paths",
      });
    }
  }
  return { deletion, problems };
}

function splitLong(arg: string): [string, string | null] {
  const eq = arg.indexOf("=");
  return eq === -1 ? [arg, null] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** Load-time checks of the guard block that need its neighbours (delete, from). */
export function checkMirrorGuard(raw: Record<string, unknown>, remoteFrom: boolean): StepProblem[] {
  const problems: StepProblem[] = [];
  const guard = raw.guard;
  if (!guard || typeof guard !== "object") return problems;
  const g = guard as Record<string, unknown>;
  const args = Array.isArray(raw.rsync_args) ? (raw.rsync_args as unknown[]) : [];
  const deletes = raw.delete === true || readRsyncArgs(args, false).deletion !== null;
  if (g.max_delete !== undefined && !deletes) {
    problems.push({
      path: ["guard", "max_delete"],
      message: "max_delete has no effect without delete: true (this mirror never deletes)",
      hint: "add delete: true to make the mirror delete what the source no longer has, or remove max_delete",
    });
  }
  if (remoteFrom && Array.isArray(g.exists)) {
    g.exists.forEach((entry: unknown, i) => {
      if (typeof entry === "string" && (!entry.startsWith("/") || /\$\{?[A-Za-z_]/.test(entry))) {
        problems.push({
          path: ["guard", "exists", i],
          message: `"${entry}" is not an absolute path without $VARIABLES; with a remote \`from\` the sentinel is looked for on that host (holdfast would expand ~ and $VAR here)`,
          hint: "write the sentinel's absolute path on the source's host, e.g. /srv/data/.stfolder",
        });
      }
    });
  }
  return problems;
}

/** What the guard saw of one side of the mirror. */
export interface TreeCount {
  /** The directory (or file) exists. */
  exists: boolean;
  isDirectory: boolean;
  /** Everything that is not a directory (files, symlinks, devices…), below and including the root. */
  files: number;
  /** Everything below the root, directories included (what rsync's --max-delete counts). */
  entries: number;
  /** Sentinels (from the list asked for) that are missing. */
  missingSentinels: string[];
}

/**
 * Counts a local tree without following symlinks. `stopAtFiles` ends the walk early when only "at
 * least N files" is asked (entries are then incomplete). Unreadable directories are not entered: a
 * source that cannot be read is counted smaller, which errs on the side of the mirror.
 */
export async function countLocalTree(
  root: string,
  sentinels: readonly string[],
  options: { stopAtFiles?: number; signal?: AbortSignal } = {},
): Promise<TreeCount> {
  const missingSentinels = sentinels.filter((s) => !fs.existsSync(s));
  let stat: fs.Stats;
  try {
    stat = await fs.promises.lstat(stripSlash(root));
    // A root given as a symlink to a directory ("dir/") is followed by rsync: follow it too.
    if (stat.isSymbolicLink() && root.endsWith("/")) stat = await fs.promises.stat(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return { exists: false, isDirectory: false, files: 0, entries: 0, missingSentinels };
  }
  if (!stat.isDirectory())
    return { exists: true, isDirectory: false, files: 1, entries: 0, missingSentinels };
  const stop = options.stopAtFiles ?? Number.POSITIVE_INFINITY;
  let files = 0;
  let entries = 0;
  const stack = [root];
  walk: while (stack.length > 0) {
    if (options.signal?.aborted) break;
    const dir = stack.pop() as string;
    let handle: fs.Dir;
    try {
      handle = await fs.promises.opendir(dir, { bufferSize: 256 });
    } catch {
      continue;
    }
    for await (const entry of handle) {
      entries++;
      if (entry.isDirectory()) stack.push(path.join(dir, entry.name));
      else if (++files >= stop) break walk;
    }
  }
  return { exists: true, isDirectory: true, files, entries, missingSentinels };
}

// Run by the remote user's shell as `sh -c SCRIPT holdfast-guard PATH SENTINEL…` (sh, whatever the
// login shell is). find and printf are POSIX: one "." per name, so names with newlines count once.
// rsync takes an empty remote path as the home directory and expands a leading ~ (3.x).
const REMOTE_COUNT_SCRIPT = [
  'p=$1; shift; case $p in "") p=.;; "~") p=$HOME;; "~/"*) p=$HOME/${p#"~/"};; esac',
  'for s do [ -e "$s" ] || [ -L "$s" ] || printf "missing %s\\n" "$s"; done',
  'if [ -d "$p" ]; then',
  "printf 'files '; find \"$p\" ! -type d -exec printf '%.0s.' {} + | wc -c",
  "printf 'entries '; find \"$p\" -exec printf '%.0s.' {} + | wc -c",
  "elif [ -e \"$p\" ]; then echo 'file'; else echo 'absent'; fi",
].join("\n");

/** The argv that counts a remote tree through ssh (exported for the plan). */
export function remoteCountArgv(
  ssh: readonly string[],
  host: string,
  remotePath: string,
  sentinels: readonly string[],
): string[] {
  const command = ["sh", "-c", REMOTE_COUNT_SCRIPT, "holdfast-guard", remotePath, ...sentinels]
    .map(quoteArg)
    .join(" ");
  return [...ssh, host, command];
}

/** Parses what REMOTE_COUNT_SCRIPT printed. */
export function parseRemoteCount(lines: readonly string[], sentinels: readonly string[]): TreeCount | null {
  const missingSentinels = sentinels.filter((s) => lines.includes(`missing ${s}`));
  const numberAfter = (label: string) => {
    const m = new RegExp(`^${label} +(\\d+)\\s*$`).exec(lines.find((l) => l.startsWith(`${label} `)) ?? "");
    return m ? Number(m[1]) : null;
  };
  if (lines.includes("absent"))
    return { exists: false, isDirectory: false, files: 0, entries: 0, missingSentinels };
  if (lines.includes("file"))
    return { exists: true, isDirectory: false, files: 1, entries: 0, missingSentinels };
  const files = numberAfter("files");
  const all = numberAfter("entries");
  if (files === null || all === null) return null;
  // find lists the root itself too.
  return { exists: true, isDirectory: true, files, entries: Math.max(0, all - 1), missingSentinels };
}

export type Side = { kind: "local"; path: string } | { kind: "remote"; host: string; path: string };

export function describeSide(side: Side): string {
  return side.kind === "local" ? side.path : `${side.host}:${side.path}`;
}

/** Counts one side, locally or through ssh; a StepError when the remote side cannot be asked. */
export async function countSide(
  ctx: Pick<StepContext, "exec" | "log" | "signal" | "redact">,
  side: Side,
  ssh: readonly string[],
  sentinels: readonly string[],
  stopAtFiles?: number,
): Promise<TreeCount | StepError> {
  if (side.kind === "local") {
    try {
      return await countLocalTree(side.path, sentinels, {
        ...(stopAtFiles !== undefined ? { stopAtFiles } : {}),
        signal: ctx.signal,
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return stepError(
        e.code === "EACCES" || e.code === "EPERM" ? "permission" : "not_found",
        `the mirror guard cannot look at ${side.path}: ${e.message}`,
        "check the path, its permissions, and that its disk is mounted",
      );
    }
  }
  const argv = remoteCountArgv(ssh, side.host, side.path, sentinels);
  const stdout: string[] = [];
  const stderr: string[] = [];
  ctx.log.info(`mirror guard: counting ${describeSide(side)} over ssh`);
  const result = await ctx.exec(argv[0] as string, argv.slice(1), {
    onLine: (line, stream) => {
      if (stream === "stdout") stdout.push(line.trim());
      else {
        if (stderr.length < 20) stderr.push(line);
        ctx.log.output(line, stream);
      }
    },
  });
  if (result.exitCode === 0) {
    const count = parseRemoteCount(stdout, sentinels);
    if (count) return count;
  }
  const said = stderr
    .filter((l) => l.trim())
    .slice(-3)
    .join("; ");
  // ssh exits 255 for its own failures (host unreachable, key refused); anything else is the remote side.
  return stepError(
    result.exitCode === 255 || result.spawnError ? "network" : "guard",
    ctx.redact(
      `the mirror guard could not count ${describeSide(side)} over ssh (exit ${result.exitCode ?? result.signal ?? result.spawnError?.code ?? "?"})${said ? `: ${said}` : ""}`,
    ),
    "check that `ssh HOST` works non-interactively with the step's ssh_command (keys, known_hosts) and that the host has sh and find; holdfast does not mirror with deletions it cannot guard",
  );
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.replace(/\/+$/, "") || "/" : p;
}

/** Where rsync puts the source: `to` for "dir/" (the contents of), `to/NAME` for "dir". */
export function effectiveTarget(fromPath: string, toPath: string): string {
  if (fromPath === "" || fromPath.endsWith("/")) return toPath;
  const base = path.posix.basename(fromPath);
  return path.posix.join(toPath === "" ? "." : toPath, base);
}

/** The rsync --max-delete value for a guard's max_delete and the target's entries, with how it reads. */
export function maxDeleteLimit(
  maxDelete: NonNullable<MirrorGuardConfig["max_delete"]>,
  targetEntries: number,
): { limit: number; described: string } {
  if ("count" in maxDelete) return { limit: maxDelete.count, described: `max_delete ${maxDelete.count}` };
  const limit = Math.floor(maxDelete.fraction * targetEntries);
  const percent = Number((maxDelete.fraction * 100).toFixed(2));
  return { limit, described: `max_delete ${percent}% (${limit} of ${targetEntries} entries)` };
}
