// Classification of a failed restic run into the StepError kinds of src/errors.ts, with a message
// (the most useful stderr line, never a dump) and a hint that says what to do.
// restic 0.14 exits 1 for nearly everything (not found, wrong password, locked, unreachable), so
// its stderr text decides; 0.17 added exit codes 10/11 and 0.17.1 code 12 (doc/075_scripting.rst),
// and 0.18 prints the fatal message as a JSON `exit_error` line on stderr when --json is set.
import { hostname } from "node:os";

import { stepError } from "../errors.js";
import type { ErrorKind, StepError } from "../errors.js";
import { formatDuration } from "../util/units.js";
import { parseBackupLine, parseExitErrorLine, stripAnsi, summarizeBackupErrors } from "./outputs.js";
import type { BackupError } from "./outputs.js";
import { resticFeatures } from "./version.js";
import type { ResticVersion } from "./version.js";

/** Tells whether a lock holder still runs: same host as the lock and a live PID. */
export interface LockProbe {
  hostname: string;
  isProcessAlive(pid: number): boolean;
}

export interface ResticFailureInput {
  exitCode: number | null;
  signal: string | null;
  /** restic's stderr (or its tail), one entry per line, as received (ANSI and JSON lines included). */
  stderrLines: readonly string[];
  version: ResticVersion | null;
  /** The restic subcommand: "backup", "check", "forget", "key list" … ("restic backup" is accepted). */
  command: string;
  /** holdfast stopped restic (user cancel, SIGTERM to holdfast). */
  cancelled?: boolean;
  /** holdfast stopped restic at the step's wall-clock limit. */
  timedOut?: boolean;
  /** The wall-clock limit, for the timeout message. */
  timeoutMs?: number;
  /** The repository's name in holdfast's config, for hints (`holdfast unlock NAME`); default "REPO". */
  repo?: string;
  /**
   * Decides whether a lock is stale like restic does (same host and dead PID). Without it, only
   * restic's other rule applies: a lock older than 30 minutes is stale. Pass localLockProbe() when
   * restic runs on this machine.
   */
  lockProbe?: LockProbe;
  /**
   * What holdfast did about a lock another restic holds (exec.ts, after its last attempt): how long
   * it waited and what ended the wait. Absent: holdfast does not wait here (a CLI command).
   */
  lockWait?: LockWaitReport;
}

/** How long holdfast (or restic's --retry-lock on its behalf) waited for a lock before it gave up. */
export interface LockWaitReport {
  /** From the first "already locked" to the last attempt's end. */
  waitedMs: number;
  /** restic.lock_wait (or the repository's lock_wait); 0 means no waiting at all. */
  limitMs: number;
  /** What ended the wait: the lock wait ran out, or the step's timeout came first. */
  endedBy: "lock_wait" | "timeout";
}

// ---------------------------------------------------------------------------------------------
// Locks

export interface LockHolder {
  pid: number;
  hostname: string;
  username: string;
  uid: number | null;
  gid: number | null;
  exclusive: boolean;
  /** As restic prints it, in the holder's local time: "2026-11-26 09:48:51". */
  createdAt: string | null;
  /** Lock age when restic looked ("3.061287511s ago"), in ms. */
  ageMs: number | null;
  /** Short storage ID of the lock file. */
  storageId: string | null;
}

const LOCKED_BY =
  /repository is already locked (exclusively )?by PID (\d+) on (\S+) by (.*?) \(UID (\d+), GID (\d+)\)/;
const LOCK_CREATED = /lock was created at (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \(([^)]*) ago\)/;
const LOCK_STORAGE = /storage ID ([0-9a-f]+)/;

/**
 * Reads the lock holder out of restic's "already locked" text (all versions print the same lines):
 *   unable to create lock in backend: repository is already locked [exclusively ]by PID 12939 on vm by root (UID 0, GID 0)
 *   lock was created at 2026-11-26 09:48:51 (3.061287511s ago)
 *   storage ID 8327a220
 */
export function parseLockHolder(text: string | readonly string[]): LockHolder | null {
  // 0.18+ with --json: the lock text is the message of an exit_error JSON line.
  const lines = typeof text === "string" ? [text] : text;
  const all = lines.map((l) => parseExitErrorLine(l)?.message ?? l).join("\n");
  const m = LOCKED_BY.exec(all);
  if (!m) return null;
  const created = LOCK_CREATED.exec(all);
  const storage = LOCK_STORAGE.exec(all);
  return {
    pid: Number(m[2]),
    hostname: m[3] ?? "",
    username: m[4] ?? "",
    uid: m[5] === undefined ? null : Number(m[5]),
    gid: m[6] === undefined ? null : Number(m[6]),
    exclusive: m[1] !== undefined,
    createdAt: created?.[1] ?? null,
    ageMs: created?.[2] === undefined ? null : parseGoDuration(created[2]),
    storageId: storage?.[1] ?? null,
  };
}

/** Go's time.Duration text ("1h2m3.5s", "3.061287511s", "250ms", "0s") in milliseconds. */
export function parseGoDuration(text: string): number | null {
  const t = text.trim();
  if (t === "0" || t === "0s") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|h|m|s)/y;
  const unitMs: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) return null;
    total += Number(m[1]) * (unitMs[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  return pos === 0 ? null : total;
}

/** restic's StaleLockTimeout (internal/restic/lock.go): older locks are stale whoever holds them. */
export const STALE_LOCK_AGE_MS = 30 * 60 * 1000;

/**
 * restic's rule (Lock.Stale): a lock is stale when older than 30 minutes, or when it was created on
 * this host by a process that no longer exists. Without a probe only the age rule can be applied.
 */
export function isLockStale(
  holder: Pick<LockHolder, "ageMs" | "hostname" | "pid">,
  probe?: LockProbe,
): boolean {
  if (holder.ageMs !== null && holder.ageMs > STALE_LOCK_AGE_MS) return true;
  if (!probe || holder.hostname !== probe.hostname) return false;
  return !probe.isProcessAlive(holder.pid);
}

/** A probe for restic processes on this machine (signal 0 checks existence without touching the process). */
export function localLockProbe(): LockProbe {
  return {
    hostname: hostname(),
    isProcessAlive(pid: number): boolean {
      // kill(0 or -n, 0) would probe a process group, not the lock's process: no such restic.
      if (pid <= 0) return false;
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        // EPERM: it exists but belongs to another user.
        return (err as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading stderr

export interface Stderr {
  /** Text lines (ANSI stripped), with 0.18+ exit_error messages split into lines; backup JSON errors left out. */
  texts: string[];
  /** Lowercased texts joined, for pattern checks. */
  haystack: string;
  exitError: { code: number; message: string } | null;
  backupErrors: BackupError[];
}

function readStderr(lines: readonly string[]): Stderr {
  const texts: string[] = [];
  const backupErrors: BackupError[] = [];
  let exitError: { code: number; message: string } | null = null;
  for (const raw of lines) {
    // Lines are sometimes glued together with no newline (restic-notes.md §5).
    for (const piece of stripAnsi(raw).replace(/\r$/, "").split("\n")) {
      if (piece.startsWith("{")) {
        const ee = parseExitErrorLine(piece);
        if (ee) {
          exitError = ee;
          texts.push(...ee.message.split("\n"));
          continue;
        }
        const parsed = parseBackupLine(piece);
        if (parsed.type === "error") {
          // A check error (0.18+: top-level `message`, no item) is an error text; backup errors list paths.
          if (parsed.item === "" && parsed.during === "") texts.push(parsed.message);
          else backupErrors.push(parsed);
          continue;
        }
        if (parsed.type !== "text") continue;
      }
      texts.push(piece);
    }
  }
  return { texts, haystack: texts.join("\n").toLowerCase(), exitError, backupErrors };
}

const RETRY_MARK = "returned error, retrying after";

function stripFatal(line: string): string {
  // 0.18.0 nests one: "Fatal: create repository at X failed: Fatal: unable to open repository at X: …".
  return line
    .replace(/^Fatal:\s*/, "")
    .replace(/: Fatal: /g, ": ")
    .trim();
}

/** A line of a Go stack trace: tab-indented file:line, or a bare function name without spaces. */
function isStackLine(line: string): boolean {
  if (line.startsWith("\t")) return true;
  if (/^goroutine \d+ \[/.test(line)) return true;
  return !line.includes(" ") && /^[\w.\-/()*]+$/.test(line) && line.includes(".");
}

/** The line that tells a person what went wrong: exit_error message, `Fatal:` line, panic, or the last plain line. */
function bestLine(err: Stderr): string | null {
  if (err.exitError) {
    const first = err.exitError.message.split("\n")[0] ?? "";
    if (first.trim() !== "") return stripFatal(first);
  }
  for (let i = err.texts.length - 1; i >= 0; i--) {
    const line = err.texts[i] ?? "";
    if (line.startsWith("Fatal:")) return stripFatal(line);
  }
  // A Go crash: `panic: …`, `fatal error: …`, or the runtime's signal header (`SIGQUIT: quit`,
  // `SIGSEGV: segmentation violation`) above the goroutine dump, whose last line is a register.
  const panic = err.texts.find(
    (l) => l.startsWith("panic:") || l.startsWith("fatal error:") || /^SIG[A-Z]+: /.test(l),
  );
  if (panic) return panic.trim();
  for (let i = err.texts.length - 1; i >= 0; i--) {
    const line = err.texts[i] ?? "";
    const t = line.trim();
    if (t === "" || isStackLine(line) || t.includes(RETRY_MARK) || t.startsWith("{")) continue;
    return t;
  }
  return null;
}

function lastLineMatching(err: Stderr, re: RegExp): string | null {
  for (let i = err.texts.length - 1; i >= 0; i--) {
    const line = err.texts[i] ?? "";
    if (re.test(line)) return line.trim();
  }
  return null;
}

function subcommand(command: string): string {
  return command.trim().replace(/^restic\s+/, "");
}

// ---------------------------------------------------------------------------------------------
// Patterns (matched against lowercased stderr)

const LOCKED_TEXT = "repository is already locked";
const WRONG_PASSWORD_TEXT = "wrong password or no key found";
// 0.14: "an empty password is not a password"; 0.17+: "an empty password is not allowed by default.
// Pass the flag `--insecure-no-password` …".
const EMPTY_PASSWORD = /an empty password is not (?:a password|allowed)/;
// 0.14: "all target directories/files do not exist"; 0.18: "all source directories/files do not exist".
const ALL_SOURCES_MISSING = /all (?:target|source) directories\/files do not exist/;
// `ls`/`restore`/`snapshots` of an id that matches nothing: 0.14 "Ignoring "x": no matching ID found",
// 0.15+ "no matching ID found for prefix "x"" (exit 1).
const NO_MATCHING_ID =
  /no matching id found(?: for prefix)?[^"]*"([^"]*)"|ignoring "([^"]*)": no matching id found/;

const HTTP_STATUS = /(?:unexpected http response \((\d{3})\)|server response: \d{3} [^\n(]*\((\d{3})\))/;
const AUTH_FAILURE =
  /401 unauthorized|403 forbidden|access denied|accessdenied|invalidaccesskeyid|the aws access key id you provided does not exist|signaturedoesnotmatch|authenticationfailed|authorizationfailed|permission denied \(publickey/;
const TLS_FAILURE =
  /x509:|tls: |certificate signed by unknown authority|certificate is not valid|certificate has expired/;
const SSH_FAILURE =
  /unable to start the sftp session|subprocess ssh:|ssh: connect to host|host key verification failed|remote host identification has changed/;
const NETWORK_FAILURE =
  /connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset by peer|connection timed out|tls handshake timeout|context deadline exceeded|temporary failure in name resolution|server misbehaving|client\.(?:post|head|get|do|put|delete):|error talking http to rclone|unexpected eof|use of closed network connection/;
const NOT_FOUND_DETAIL =
  /no such file or directory|does not exist|\(404\)|404 not found|nosuchbucket|not found/;

// ---------------------------------------------------------------------------------------------
// Classification

/** True when restic failed because another process holds the repository lock (for retry-on-lock). */
export function isLockedError(input: {
  exitCode: number | null;
  stderrLines: readonly string[];
  version: ResticVersion | null;
}): boolean {
  // 0.17.0+: exit code 11 = "failed to lock repository". Older restic never exits 11.
  if (input.exitCode === 11 && (input.version === null || resticFeatures(input.version).exitCodes10to12))
    return true;
  if (input.exitCode === 0) return false;
  return input.stderrLines.some((l) => l.includes(LOCKED_TEXT));
}

/** What every rule reads: the input, restic's stderr read once, and what the version says about exit codes. */
export interface FailureFacts {
  input: ResticFailureInput;
  /** The subcommand ("backup", "key list"). */
  cmd: string;
  err: Stderr;
  /** The stderr texts lowercased and joined (err.haystack). */
  h: string;
  code: number | null;
  /** The repository's name for hints ("REPO" when not given). */
  repo: string;
  /** The line that tells a person what went wrong (bestLine), or null. */
  best: string | null;
  /** Exit codes 10 and 11 mean what restic 0.17.0+ documents (true for an unknown version). */
  codes10and11: boolean;
  /** Exit code 12 means a wrong password (0.17.1+; true for an unknown version). */
  code12: boolean;
}

/**
 * One rule of restic's failure table: what restic's exit code and output say. The rules are tried in
 * order and the first that answers decides; each answers with one kind only. Every rule is checked
 * against the recorded and synthesized output of every restic version under test/fixtures/restic/
 * (test/restic/error-rules.test.ts), and a rule that no fixture exercises fails that test.
 */
export interface ResticErrorRule {
  /** A stable name ("locked", "wrong-password"), for the fixture test and for reading the table. */
  id: string;
  /** The kind of every error this rule returns. */
  kind: ErrorKind;
  /** What the rule recognises, in words. */
  when: string;
  classify(f: FailureFacts): StepError | null;
}

const withBest = (f: FailureFacts, fallback: string) => f.best ?? fallback;

export const RESTIC_ERROR_RULES: readonly ResticErrorRule[] = [
  {
    id: "go-runtime-error",
    kind: "internal",
    when: "exit 2: a Go runtime error (panic, out of memory, SIGQUIT's stack dump)",
    classify: (f) =>
      f.code === 2
        ? stepError(
            "internal",
            withBest(f, `restic ${f.cmd} crashed (Go runtime error)`),
            "restic crashed (exit 2: Go runtime error). The step log has the trace; if it says out of memory, give restic more memory, otherwise report it to restic.",
          )
        : null,
  },
  {
    id: "killed-by-signal",
    kind: "exit_code",
    when: "restic ended by a signal other than SIGINT, without an exit code (the OOM killer, kill -9)",
    classify: (f) =>
      f.input.signal !== null && f.code === null && f.input.signal !== "SIGINT"
        ? stepError(
            "exit_code",
            `restic ${f.cmd} was killed by ${f.input.signal}`,
            `Something outside holdfast killed restic (the kernel's OOM killer? see \`journalctl -k\`). restic 0.14 leaves its lock behind when killed: if the next run reports a lock, run \`holdfast unlock ${f.repo}\`.`,
          )
        : null,
  },
  {
    id: "interrupted",
    kind: "cancelled",
    when: "SIGINT (or SIGTERM, 0.18+) that holdfast did not send: exit 130, restic's `signal … received`, or death by SIGINT",
    classify: (f) => {
      if (f.input.signal === "SIGINT" && f.code === null)
        return stepError("cancelled", `restic ${f.cmd} was interrupted (SIGINT) from outside holdfast`, null);
      // 130: restic's own answer to SIGINT (SIGINT or SIGTERM since 0.19); we did not send it.
      return f.code === 130 ||
        f.h.includes("signal interrupt received") ||
        f.h.includes("signal terminated received")
        ? stepError("cancelled", `restic ${f.cmd} was interrupted from outside holdfast`, null)
        : null;
    },
  },
  {
    id: "repository-damaged",
    kind: "repository_damaged",
    when: "a command other than check meets a missing or damaged index, pack or tree (DAMAGE_RULES)",
    // check reports damage itself (rule check-found-errors, with restic's exact repair commands).
    classify: (f) =>
      /^check\b/.test(f.cmd) && f.h.includes("repository contains errors")
        ? null
        : classifyDamage(f.err, f.cmd, f.code, f.repo),
  },
  {
    id: "backup-partial",
    kind: "partial",
    when: "backup exit 3: the snapshot was saved, some source files could not be read",
    classify: (f) => (f.code === 3 && /^backup\b/.test(f.cmd) ? classifyPartial(f.err) : null),
  },
  {
    id: "locked",
    kind: "repo_locked",
    when: "exit 11 (0.17+) or `repository is already locked`",
    classify: (f) =>
      (f.code === 11 && f.codes10and11) || f.h.includes(LOCKED_TEXT)
        ? classifyLocked(f.err, f.repo, f.input.lockProbe, f.best, f.input.lockWait)
        : null,
  },
  {
    id: "wrong-password",
    kind: "wrong_password",
    when: "exit 12 (0.17.1+) or `wrong password or no key found`",
    classify: (f) =>
      (f.code === 12 && f.code12) || f.h.includes(WRONG_PASSWORD_TEXT)
        ? stepError(
            "wrong_password",
            withBest(f, "wrong password or no key found"),
            "The password holdfast passed (the repository's password_file or password_command) opens no key of this repository: check that it is the password this repository was created with.",
          )
        : null,
  },
  {
    id: "empty-password",
    kind: "wrong_password",
    when: "`an empty password is not a password` (0.14) / `… is not allowed` (0.17+)",
    // restic 0.17+ advises --insecure-no-password; holdfast never passes it (a repository without a
    // password is not something a backup should create or open by accident).
    classify: (f) =>
      EMPTY_PASSWORD.test(f.h)
        ? stepError(
            "wrong_password",
            "restic got an empty password",
            "The repository's password reached restic empty: set password_file or password_command for this repository, and check that the file is readable and not empty (or that the command prints the password). holdfast does not run restic with --insecure-no-password.",
          )
        : null,
  },
  {
    id: "repo-not-found-code",
    kind: "repo_not_found",
    when: "exit 10 (0.17+): the repository does not exist",
    classify: (f) => (f.code === 10 && f.codes10and11 ? repoNotFound(f.best) : null),
  },
  {
    id: "access-refused",
    kind: "permission",
    when: "the backend refused the credentials or the operation: HTTP 401/403, S3/Azure/GCS auth errors, ssh publickey",
    classify: (f) => classifyPermission(f.err, f.best),
  },
  {
    id: "backend-unreachable",
    kind: "network",
    when: "connection refused, DNS, TLS, ssh, HTTP 5xx, rclone, timeouts",
    classify: (f) => classifyNetwork(f.err, f.best),
  },
  {
    id: "repo-not-found-text",
    kind: "repo_not_found",
    when: "`repository does not exist`, or `unable to open config file` / `Is there a repository …?` with a not-found cause",
    classify: (f) =>
      f.h.includes("repository does not exist") ||
      ((f.h.includes("is there a repository at the following location?") ||
        f.h.includes("unable to open config file")) &&
        NOT_FOUND_DETAIL.test(f.h))
        ? repoNotFound(f.best)
        : null,
  },
  {
    id: "repo-exists",
    kind: "exit_code",
    when: "init: `config file already exists`",
    classify: (f) =>
      f.h.includes("config file already exists")
        ? stepError(
            "exit_code",
            withBest(f, "config file already exists"),
            "A repository already exists at this location: there is nothing to initialize (use it as is, or pick another location).",
          )
        : null,
  },
  {
    id: "unknown-option",
    kind: "exit_code",
    when: "`unknown flag`, `unknown shorthand flag`, `unknown command`",
    classify: (f) => {
      if (
        !f.h.includes("unknown flag") &&
        !f.h.includes("unknown shorthand flag") &&
        !f.h.includes("unknown command")
      )
        return null;
      const version = f.input.version ? `restic ${f.input.version.text}` : "this restic";
      return stepError(
        "exit_code",
        withBest(f, "restic rejected its command line"),
        `${version} does not know an option holdfast passed: upgrade restic, or remove the option from the config.`,
      );
    },
  },
  {
    id: "all-sources-missing",
    kind: "not_found",
    when: "backup: `all target directories/files do not exist` (0.14) / `all source …` (0.18)",
    classify: (f) => {
      if (!ALL_SOURCES_MISSING.test(f.h)) return null;
      const missing = f.err.texts
        .filter((l) => l.endsWith("does not exist, skipping"))
        .map((l) => l.replace(/ does not exist, skipping$/, ""));
      const list = missing.length > 0 ? ` (${missing.join(", ")})` : "";
      return stepError(
        "not_found",
        `none of the backup paths exist${list}`,
        "Check the source's paths (is the disk mounted?); restic made no snapshot.",
      );
    },
  },
  {
    id: "no-matching-id",
    kind: "not_found",
    when: "`no matching ID found …`: a snapshot ID that matches nothing",
    classify: (f) => {
      const noMatch = NO_MATCHING_ID.exec(f.h);
      if (!noMatch) return null;
      const id = noMatch[1] ?? noMatch[2] ?? "";
      return stepError(
        "not_found",
        `no snapshot matches ID ${id}`,
        `The repository has no snapshot whose ID starts with ${id}: list them with \`holdfast snapshots ${f.repo}\`.`,
      );
    },
  },
  {
    id: "check-found-errors",
    kind: "repository_damaged",
    when: "`repository contains errors` (check), with restic's repair commands when it names them",
    classify: (f) => {
      if (!f.h.includes("repository contains errors")) return null;
      // 0.18's JSON error messages span lines (its advice paragraph is one message): look per line.
      const lines = f.err.texts.flatMap((l) => l.split("\n")).map((l) => l.trim());
      const first = lines.find((l) => l !== "" && !l.startsWith("Fatal:") && !l.includes(RETRY_MARK));
      // 0.16.1+ names the exact repair commands ("restic repair packs ID…", "restic repair snapshots --forget").
      const repair = [...new Set(lines.filter((l) => /^restic repair \S/.test(l)))];
      return stepError(
        "repository_damaged",
        first ? `repository contains errors: ${first}` : "repository contains errors",
        repair.length > 0
          ? `Do not prune until this is fixed. restic's repair for this damage (read https://restic.readthedocs.io/en/stable/077_troubleshooting.html first): ${repair.map((c) => `\`${c}\``).join(", then ")}.`
          : "Do not prune until this is fixed. Run `restic check --read-data` to see every problem, then follow restic's repair guide (`repair index`, `repair packs`, `repair snapshots`).",
      );
    },
  },
  {
    id: "lock-refresh-failed",
    kind: "exit_code",
    when: "`failed to refresh lock in time` (0.15+: the machine slept, or the backend was unreachable)",
    classify: (f) =>
      f.h.includes("failed to refresh lock in time")
        ? stepError(
            "exit_code",
            withBest(f, "failed to refresh lock in time"),
            "restic stopped because it could not refresh its repository lock in time (the machine slept, or the backend was unreachable); the step can be retried.",
          )
        : null,
  },
  {
    id: "forget-partial",
    kind: "exit_code",
    when: "forget exit 3 (0.19): some snapshots could not be removed",
    classify: (f) =>
      /^forget\b/.test(f.cmd) && f.code === 3
        ? stepError("exit_code", withBest(f, "forget could not remove one or more snapshots"), null)
        : null,
  },
  {
    id: "permission-denied",
    kind: "permission",
    when: "`permission denied` on the repository or its cache (the filesystem, not a backend's credentials)",
    classify: (f) =>
      f.h.includes("permission denied")
        ? stepError(
            "permission",
            withBest(f, "permission denied"),
            "The user restic runs as cannot read or write the repository (or its cache): check ownership and modes, or run the step as the repository's owner.",
          )
        : null,
  },
  {
    id: "unclassified",
    kind: "exit_code",
    when: "anything else: a failure with restic's most useful line (an undocumented exit code says so)",
    classify: (f) => {
      const code = f.code;
      const known = code !== null && [1, 2, 3, 10, 11, 12, 130].includes(code);
      const fallback = code === null ? `restic ${f.cmd} failed` : `restic ${f.cmd} exited with code ${code}`;
      const unknownNote =
        code !== null && !known
          ? ` (exit code ${code} is not one restic documents; treated as a failure)`
          : "";
      return stepError("exit_code", `${withBest(f, fallback)}${unknownNote}`, null);
    },
  },
];

/**
 * Turns a failed restic run into `{ kind, message, hint }`. Call it for runs that did not succeed
 * (exit code ≠ 0, a signal, a cancel or a timeout). Unknown exit codes are failures (`exit_code`),
 * as restic's docs require.
 */
export function classifyResticFailure(input: ResticFailureInput): StepError {
  return explainResticFailure(input).error;
}

/**
 * classifyResticFailure, and which rule of RESTIC_ERROR_RULES decided (null when holdfast's own
 * knowledge did: it cancelled restic, stopped it at the timeout, or restic succeeded).
 */
export function explainResticFailure(input: ResticFailureInput): { rule: string | null; error: StepError } {
  const cmd = subcommand(input.command);
  const err = readStderr(input.stderrLines);
  const best = bestLine(err);

  // What holdfast did itself decides before restic's output is read.
  if (input.cancelled) {
    const lockHint =
      input.signal === "SIGKILL"
        ? `restic was killed before it could remove its lock; if a later command reports a lock, run \`holdfast unlock ${input.repo ?? "REPO"}\`.`
        : null;
    return { rule: null, error: stepError("cancelled", `restic ${cmd} was cancelled`, lockHint) };
  }
  if (input.timedOut) {
    const limit = input.timeoutMs === undefined ? "" : ` within ${formatDuration(input.timeoutMs)}`;
    const last = best ? ` (last message: ${best})` : "";
    return {
      rule: null,
      error: stepError(
        "timeout",
        `restic ${cmd} did not finish${limit}${last}`,
        "restic keeps retrying an unreachable backend without printing (about 45 s per operation in 0.14, up to 15 minutes since 0.17): check the backend, or raise the step's timeout if the work is just large.",
      ),
    };
  }
  if (input.exitCode === 0 && input.signal === null) {
    return {
      rule: null,
      error: stepError("internal", `restic ${cmd} succeeded but was classified as a failure`, null),
    };
  }

  const features = resticFeatures(input.version);
  const facts: FailureFacts = {
    input,
    cmd,
    err,
    h: err.haystack,
    code: input.exitCode,
    repo: input.repo ?? "REPO",
    best,
    // Older restic never returns 10/11/12, so with an unknown version the codes can be trusted too.
    codes10and11: input.version === null || features.exitCodes10to12,
    code12: input.version === null || features.exitCode12,
  };
  for (const rule of RESTIC_ERROR_RULES) {
    const error = rule.classify(facts);
    if (error) return { rule: rule.id, error };
  }
  // The last rule ("unclassified") always answers.
  throw new Error("RESTIC_ERROR_RULES ends without a rule that always answers");
}

// ---------------------------------------------------------------------------------------------
// Repository damage (issue 12 item 15): a missing index or pack, a blob the index does not know.
// Measured on a real local repository with an index file or a data pack deleted:
//   0.18.0 backup (index gone):   {"message_type":"error","error":{"message":"/: tree 312f… is not known;
//                                  the repository could be damaged, run `repair index` to try to repair it"},…} exit 3
//   0.14.0 backup (index gone):   {"message_type":"error","error":{},"during":"archival","item":"/"}  exit 3 —
//                                  no text at all: "/" is the parent snapshot's root tree, which restic
//                                  could not load, never a source path (a source "/" fails per entry below it)
//   0.14.0 restore (pack gone):   Load(<data/b18c5a54b4>, 2502100, 0) returned error, retrying after …: open …: no such file or directory
//   0.18.0 restore (pack gone):   Load(<data/f09a40a70d>, 2502100, 0) failed: open …: no such file or directory
// Each is a failure, not a warning about unreadable files or a network retry: the snapshots of this
// repository cannot all be restored, and pruning now could lose more.

const DAMAGE_RULES: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /\bis not known\b/, what: "the index does not know a tree or blob the snapshots need" },
  { pattern: /could be damaged/, what: "restic says the repository could be damaged" },
  {
    pattern:
      /load\(<(?:data|tree|index|snapshot|key)\/[0-9a-f]+>[^\n]*(?:no such file or directory|not found|\(404\)|does not exist|ciphertext verification failed|invalid data returned)/,
    what: "a file of the repository is missing or damaged",
  },
  { pattern: /ciphertext verification failed/, what: "a file of the repository is damaged" },
  {
    pattern: /unable to load index|index [0-9a-f]+ (?:is )?(?:missing|not found)/,
    what: "the index cannot be loaded",
  },
];

function classifyDamage(err: Stderr, cmd: string, code: number | null, repo: string): StepError | null {
  // 0.18 starts the message with the item itself ("/: tree … is not known"): not twice.
  const texts = [
    ...err.texts,
    ...err.backupErrors.map((e) =>
      e.message.startsWith(`${e.item}: `) ? e.message : `${e.item}: ${e.message}`,
    ),
  ];
  let found: { line: string; what: string } | null = null;
  for (const rule of DAMAGE_RULES) {
    const line = texts.find((t) => rule.pattern.test(t.toLowerCase()));
    if (line) {
      found = { line: stripFatal(line.trim()), what: rule.what };
      break;
    }
  }
  // restic 0.14's backup: an error without any text on "/" during archival (see above).
  if (
    !found &&
    code === 3 &&
    /^backup\b/.test(cmd) &&
    err.backupErrors.some(
      (e) => e.item === "/" && e.during === "archival" && (e.message === "" || e.message === "unknown error"),
    )
  ) {
    found = {
      line: 'restic 0.14 could not load the tree of "/" of the previous snapshot (it prints no reason)',
      what: "the index is probably missing or damaged",
    };
  }
  if (!found) return null;
  return stepError(
    "repository_damaged",
    `repository ${repo} is damaged: ${found.what} (${found.line})`,
    `Do not forget or prune until this is fixed. Run a check step (holdfast run JOB --step CHECK, or \`restic check\`) to see every problem, then repair: \`restic repair index\` (0.16+; \`rebuild-index\` in 0.14), \`restic repair snapshots\`, and back up again.`,
  );
}

function classifyPartial(err: Stderr): StepError {
  const items = err.backupErrors.map((e) => ({ item: e.item, during: e.during, message: e.message }));
  // 0.19: a missing source path also makes backup exit 3; 0.14 prints it as a text warning.
  for (const line of err.texts) {
    const m = /^(.*) does not exist, skipping$/.exec(line.trim());
    if (m?.[1]) items.push({ item: m[1], during: "scan", message: "does not exist" });
  }
  const summary = summarizeBackupErrors(items);
  const message = summary.message
    ? `snapshot saved, but restic ${summary.message}`
    : "snapshot saved, but at least one source file could not be read";
  return stepError(
    "partial",
    message,
    "The snapshot lacks these paths. Make them readable by the user restic runs as, or exclude them from the source.",
  );
}

/**
 * What the hint says about waiting — it must be what holdfast did. A job's steps wait for a lock
 * another restic holds, up to restic.lock_wait and never past the step's timeout (exec.ts; restic
 * 0.16+ waits itself with --retry-lock); CLI commands do not wait.
 */
function lockWaitText(wait: LockWaitReport | undefined): string {
  const apart =
    "(a backup meets this when a check, prune or forget holds the lock exclusively, and those meet a running backup — schedule them apart)";
  if (wait === undefined)
    return `holdfast does not wait for it here: run this again once that restic has finished ${apart}`;
  if (wait.limitMs === 0)
    return `holdfast did not wait for it (lock_wait is 0): raise restic.lock_wait (or the repository's lock_wait) to let steps wait, or schedule the jobs apart ${apart}`;
  const waited = formatDuration(wait.waitedMs);
  return wait.endedBy === "timeout"
    ? `holdfast waited ${waited} for it, until the step's timeout (restic.lock_wait is ${formatDuration(wait.limitMs)}): raise the step's timeout, or schedule the jobs apart`
    : `holdfast waited ${waited} for it (restic.lock_wait, ${formatDuration(wait.limitMs)}) and gave up: raise restic.lock_wait (or the repository's lock_wait), or schedule the jobs apart`;
}

/** The repo_locked failure for restic's lock text, its hint saying how long holdfast waited (exec.ts). */
export function classifyLockedFailure(
  stderrLines: readonly string[],
  repo: string,
  probe: LockProbe | undefined,
  wait: LockWaitReport | undefined,
): StepError {
  const err = readStderr(stderrLines);
  return classifyLocked(err, repo, probe, bestLine(err), wait);
}

function classifyLocked(
  err: Stderr,
  repo: string,
  probe: LockProbe | undefined,
  best: string | null,
  wait: LockWaitReport | undefined,
): StepError {
  const holder = parseLockHolder(err.texts);
  if (!holder) {
    return stepError(
      "repo_locked",
      best ?? "repository is already locked",
      `Another restic process is using the repository; ${lockWaitText(wait)}.`,
    );
  }
  const how = holder.exclusive ? "locked exclusively" : "locked";
  const user = holder.username ? ` (user ${holder.username})` : "";
  const since = holder.createdAt
    ? `, since ${holder.createdAt}${holder.ageMs === null ? "" : ` (${formatDuration(holder.ageMs)} ago)`}`
    : "";
  const message = `repository is already ${how} by PID ${holder.pid} on ${holder.hostname}${user}${since}`;
  if (isLockStale(holder, probe)) {
    const why =
      holder.ageMs !== null && holder.ageMs > STALE_LOCK_AGE_MS
        ? "it is older than 30 minutes"
        : `process ${holder.pid} no longer runs on ${holder.hostname}`;
    return stepError(
      "repo_locked",
      message,
      `The lock is stale (${why}), left by a restic that was killed: remove it with \`holdfast unlock ${repo}\`.`,
    );
  }
  return stepError(
    "repo_locked",
    message,
    `Another restic (PID ${holder.pid} on ${holder.hostname}) is using the repository; ${lockWaitText(wait)}. If that process is gone, the lock becomes removable once restic considers it stale.`,
  );
}

function repoNotFound(best: string | null): StepError {
  return stepError(
    "repo_not_found",
    best ?? "repository does not exist",
    "No repository at this location: check the repository's path or URL; if it is a new repository, create it with `holdfast init`.",
  );
}

function classifyPermission(err: Stderr, best: string | null): StepError | null {
  const h = err.haystack;
  const status = HTTP_STATUS.exec(h);
  const httpCode = status ? Number(status[1] ?? status[2]) : null;
  const is401 = httpCode === 401 || h.includes("401 unauthorized");
  const is403 = httpCode === 403 || h.includes("403 forbidden");
  if (!is401 && !is403 && !AUTH_FAILURE.test(h)) return null;
  const message = best ?? "the server refused access";
  if (h.includes("permission denied (publickey")) {
    return stepError(
      "permission",
      sshDetail(err, message),
      "ssh refused the key: check the user, the key holdfast's ssh uses, and the server's authorized_keys.",
    );
  }
  if (is403) {
    return stepError(
      "permission",
      message,
      "The server refused the operation (HTTP 403). An append-only REST server refuses deletes: run forget/prune with credentials that may delete (or on the server); otherwise check the account's permissions.",
    );
  }
  return stepError(
    "permission",
    message,
    "The server rejected the credentials: check the repository's user and password (in the URL, or RESTIC_REST_USERNAME/RESTIC_REST_PASSWORD with restic 0.16.1+) or the backend's access keys.",
  );
}

function sshDetail(err: Stderr, message: string): string {
  const ssh = lastLineMatching(err, /^subprocess ssh: /);
  if (!ssh) return message;
  const detail = ssh.replace(/^subprocess ssh:\s*/, "");
  return message.includes(detail) ? message : `${message} (${detail})`;
}

function classifyNetwork(err: Stderr, best: string | null): StepError | null {
  const h = err.haystack;
  const status = HTTP_STATUS.exec(h);
  const httpCode = status ? Number(status[1] ?? status[2]) : null;
  const is5xx = httpCode !== null && httpCode >= 500 && httpCode < 600;
  const tls = TLS_FAILURE.test(h);
  const ssh = SSH_FAILURE.test(h);
  if (!is5xx && !tls && !ssh && !NETWORK_FAILURE.test(h)) return null;
  const message = best ?? "the repository backend could not be reached";
  if (tls) {
    return stepError(
      "network",
      message,
      "The server's TLS certificate is not trusted: give restic its CA with the repository's cacert option (restic --cacert FILE), or fix the server's certificate.",
    );
  }
  if (ssh) {
    const hostKey =
      h.includes("host identification has changed") || h.includes("host key verification failed");
    return stepError(
      "network",
      sshDetail(err, message),
      hostKey
        ? "The ssh host key is unknown or changed: verify the server and update known_hosts (holdfast runs ssh non-interactively, so it cannot ask)."
        : "ssh to the repository host failed: check host, port, key and known_hosts (ssh runs non-interactively, BatchMode=yes).",
    );
  }
  if (is5xx) {
    return stepError(
      "network",
      message,
      `The server answered with an error (HTTP ${httpCode}); this is usually temporary, so the step can be retried. If it persists, check the server's logs.`,
    );
  }
  if (h.includes("error talking http to rclone")) {
    return stepError(
      "network",
      lastLineMatching(err, /^rclone: /) ?? message,
      "rclone could not serve the repository: check the rclone remote name and its config (RCLONE_CONFIG).",
    );
  }
  if (h.includes("no such host") || h.includes("temporary failure in name resolution")) {
    return stepError(
      "network",
      message,
      "The repository's host name does not resolve: check the URL and DNS.",
    );
  }
  if (h.includes("connection refused")) {
    return stepError(
      "network",
      message,
      "Nothing answered at the repository's address: is the server running, and are host and port right? The step can be retried.",
    );
  }
  return stepError(
    "network",
    message,
    "The repository backend could not be reached (network or server trouble); the step can be retried.",
  );
}
