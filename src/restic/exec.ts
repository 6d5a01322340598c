// The only place that starts restic (architecture.md, convention 3). Every restic command goes
// through runRestic, which:
//   - builds restic's environment from the repository's config (secrets only in env/files),
//   - runs restic at low CPU and I/O priority (`nice -n N`, `ionice -c3`) unless configured off
//     (priority.ts),
//   - streams stdout/stderr line by line to the caller's handlers and to the step log,
//   - detects the restic version once per process (detect.ts) and classifies failures with it,
//   - never runs two commands against the same repository at once within this process (repo-mutex.ts),
//   - in a step, waits for a lock another live restic holds (backup meets a check's or prune's
//     exclusive lock; forget, prune and check meet any lock) up to restic.lock_wait, never past the
//     step's deadline: the first attempt runs without waiting, so a stale lock is seen and removed
//     (restic's --retry-lock would wait a stale lock out), then restic 0.16+ waits itself with
//     `--retry-lock`, older restic is retried by holdfast's own loop (0.14 has no --retry-lock),
//   - removes restic's own stale locks (restic's definition: dead PID on this host, or older than
//     30 minutes) when they are in the way, and after a cancel or a stop that may have left one
//     (locks.ts),
//   - stops restic when it is still retrying to open the repository after restic.open_timeout (a
//     backend that refuses connections: restic 0.17+ retries for 15 minutes) and reports `network`
//     with restic's own cause — for every command, steps and CLI alike (open-watch.ts),
//   - stops restic a little before the step's deadline when its backend stopped answering mid-run, so
//     the failure is reported as `network` (restic 0.14 retries a dead backend for ~3 minutes in silence).
// Its caller is a ResticHost (host.ts): a step's context or a CLI command.
import type { Writable } from "node:stream";
import type { Config, RepositoryConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import { waitUnlessAborted } from "../util/abort.js";
import { formatDuration, timerDelay } from "../util/units.js";
import { detectRestic, type DetectedRestic } from "./detect.js";
import type { ResticHost } from "./host.js";
import { unlockStale } from "./locks.js";
import { priorityPrefix } from "./priority.js";
import { withRepoMutex } from "./repo-mutex.js";
import {
  classifyLockedFailure,
  classifyResticFailure,
  isLockStale,
  localLockProbe,
  parseLockHolder,
} from "./errors.js";
import { readableStderrLine, stripAnsi } from "./outputs.js";
import { createOpenWatch, lastRetryCause } from "./open-watch.js";
import { refusedRemovals } from "./removals.js";
import { RepositoryConfigError, repositoryAccess, type RepositoryAccess } from "./repository.js";
import { passwordCommandFailure } from "./password-command.js";
import { resticFeatures, type ResticVersion } from "./version.js";

// ---------------------------------------------------------------------------------------------
// Running restic

export interface ResticCall {
  /** The repository, by config. */
  repo: RepositoryConfig;
  /** The subcommand and its arguments: ["backup", "--json", …]. */
  args: string[];
  /** restic's view of the command for messages and classification ("backup", "forget"). */
  command?: string;
  /** Each stdout line; without it, stdout lines go to the log like stderr text. */
  onStdout?: (line: string) => void;
  /** Each stderr line; return true when handled (then it is not echoed to the log). */
  onStderr?: (line: string) => boolean | void;
  /** Keep the whole stdout (commands that print one JSON document). */
  collectStdout?: boolean;
  /** Extra environment (RESTIC_FROM_* for copy; a dump's client settings for --stdin-from-command). */
  extraEnv?: Record<string, string>;
  /** restic's stdin as a pipe, for `backup --stdin` (the caller writes and ends it). */
  stdinStream?: (stdin: Writable) => void;
  /** Needs restic's exclusive lock (forget, prune, check): any other lock is in its way. */
  exclusive?: boolean;
  /** Stop restic before the step's deadline so a dead backend is reported as `network` (default: true). */
  stopBeforeDeadline?: boolean;
  /** A cap of its own (doctor's reachability probe); the step deadline applies as well. */
  timeoutMs?: number;
  /** Whether restic's text lines go to the log/terminal (default true). */
  echo?: boolean;
  /** Run with `--no-lock` (read-only commands that must work while a lock is held). */
  noLock?: boolean;
  /** Skip nice/ionice (quick metadata commands). */
  normalPriority?: boolean;
  /** Do not take this process's per-repository mutex (the caller already holds it). */
  insideMutex?: boolean;
  /** The open timeout when the command opens more than one repository (copy); default: the repository's. */
  openTimeoutMs?: number;
  /** Called once, at restic's first retry to open the repository (its backend does not answer yet). */
  onOpenRetry?: () => void;
}

const DEFAULT_OPEN_TIMEOUT_MS = 60_000;

/** restic.open_timeout, or the repository's own open_timeout. */
export function openTimeoutFor(config: Config, repo: RepositoryConfig): number {
  return repo.open_timeout ?? config.restic.open_timeout ?? DEFAULT_OPEN_TIMEOUT_MS;
}

const DEFAULT_LOCK_WAIT_MS = 30 * 60_000;

/** restic.lock_wait, or the repository's own lock_wait. */
export function lockWaitFor(config: Config, repo: RepositoryConfig): number {
  return repo.lock_wait ?? config.restic.lock_wait ?? DEFAULT_LOCK_WAIT_MS;
}

export interface ResticOutcome {
  ok: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** Our caller's signal fired (cancel or the step timeout). */
  cancelled: boolean;
  /** We stopped restic before the deadline (see stopBeforeDeadline) or at the open timeout. */
  stoppedEarly: boolean;
  /** restic never opened the repository: it was still retrying at restic.open_timeout and was stopped. */
  notOpened: boolean;
  /** Files restic said it could not remove ("snapshot/…", "data/…"): the backend refused the delete. */
  refusedFiles?: string[];
  stdout: string | null;
  stderrLines: string[];
  /** Set when !ok: the classified failure with its hint. */
  error: StepError | null;
  version: ResticVersion | null;
  /** How many times restic ran (lock retries). */
  attempts: number;
  /** How long holdfast (or restic's --retry-lock) waited for another restic's lock; 0 when it did not. */
  lockWaitedMs?: number;
}

const LOCK_WAIT_FIRST_MS = 2_000;
const LOCK_WAIT_MAX_MS = 30_000;
/**
 * One `--retry-lock` attempt waits at most this long: restic waits out a lock that goes stale while
 * it waits (its holder killed), so holdfast looks at the holder again between attempts.
 */
const RETRY_LOCK_CHUNK_MS = 5 * 60_000;
/** Time an attempt needs besides the wait: opening the repository (KDF) before restic waits. */
const ATTEMPT_OVERHEAD_MS = 5_000;
/** The open watch's last look comes this long before restic's own stop (timeoutMs), so it wins the race. */
const OPEN_CHECK_MARGIN_MS = 1_000;

// restic is stopped this long (plus the kill grace) before the step's deadline, to report and clean up.
const EARLY_STOP_MARGIN_MS = 5_000;

/**
 * How long before the deadline restic is stopped: the kill grace plus a margin, but never more than
 * a third of the time left — a kill_grace as long as the step's timeout must not leave restic with
 * nothing (the engine's own timeout still ends the step at the deadline).
 */
function stopMargin(host: ResticHost, remainingMs: number): number {
  return Math.min(host.killGraceMs + EARLY_STOP_MARGIN_MS, Math.max(0, remainingMs) / 3);
}
const MIN_ATTEMPT_MS = 2_000;

/** Resolves the repository's access or returns an outcome carrying a config error. */
export function accessFor(host: ResticHost, repo: RepositoryConfig): RepositoryAccess | StepError {
  try {
    return repositoryAccess(host.config, repo, host.env);
  } catch (err) {
    if (err instanceof RepositoryConfigError) return stepError("config", err.message, err.hint);
    throw err;
  }
}

function failed(error: StepError, version: ResticVersion | null = null): ResticOutcome {
  return {
    ok: false,
    exitCode: null,
    signal: null,
    durationMs: 0,
    cancelled: error.kind === "cancelled",
    stoppedEarly: false,
    notOpened: false,
    stdout: null,
    stderrLines: [],
    error,
    version,
    attempts: 0,
  };
}

/** Runs one restic command against a repository. Never throws for restic's own failures. */
export async function runRestic(host: ResticHost, call: ResticCall): Promise<ResticOutcome> {
  const detected = await detectRestic(host.config, host.env);
  if (detected.error) return failed(detected.error);
  const access = accessFor(host, call.repo);
  if ("kind" in access) return failed(access, detected.version);
  if (call.insideMutex) return runWithRetries(host, call, access, detected);
  const result = await withRepoMutex(access.lockKey, host.signal, () =>
    runWithRetries(host, call, access, detected),
  );
  if (result === "cancelled")
    return failed(
      stepError("cancelled", `cancelled while waiting for another operation on ${call.repo.name}`),
      detected.version,
    );
  return result;
}

async function runWithRetries(
  host: ResticHost,
  call: ResticCall,
  access: RepositoryAccess,
  detected: DetectedRestic,
): Promise<ResticOutcome> {
  const name = call.repo.name;
  // Steps wait for a lock another restic holds; CLI commands (no deadline) do not.
  const lockWaitMs = host.deadline === null ? null : lockWaitFor(host.config, call.repo);
  const resticWaits = resticFeatures(detected.version).retryLock;
  let wait = LOCK_WAIT_FIRST_MS;
  let staleRemovals = 0;
  let firstLockedAt: number | null = null;
  let retryLockMs = 0;
  for (let attempt = 1; ; attempt++) {
    const outcome = await runOnce(host, call, access, detected, retryLockMs);
    outcome.attempts = attempt;
    if (firstLockedAt !== null) outcome.lockWaitedMs = Date.now() - firstLockedAt;
    if (outcome.ok || outcome.cancelled || outcome.error?.kind !== "repo_locked") return outcome;

    const holder = parseLockHolder(outcome.stderrLines.map(stripAnsi));
    if (holder && isLockStale(holder, localLockProbe()) && staleRemovals < 3) {
      staleRemovals++;
      host.log.warn(
        `repository ${name} holds a stale lock (restic PID ${holder.pid} on ${holder.hostname} is gone or the lock is older than 30 minutes); removing stale locks with \`restic unlock\` and trying again`,
      );
      await unlockStale(host, call.repo, access, detected, false);
      // Once more without waiting: another holder (a live one) shows itself before restic waits.
      retryLockMs = 0;
      continue;
    }
    if (lockWaitMs === null || host.deadline === null) return outcome;
    const now = Date.now();
    firstLockedAt ??= now;
    const waitedMs = now - firstLockedAt;
    outcome.lockWaitedMs = waitedMs;
    // What is left of lock_wait, and of the step's time once restic needs its margin to stop.
    const lockLeft = lockWaitMs - waitedMs;
    const remaining = host.deadline - now;
    const timeLeft = remaining - stopMargin(host, remaining) - ATTEMPT_OVERHEAD_MS;
    // restic 0.16+ waits itself (and takes the lock the moment it is free); older restic is tried
    // again after a pause. Either way, no wait past lock_wait or past the step's time.
    const usable = resticWaits ? timeLeft : timeLeft - MIN_ATTEMPT_MS;
    const next = Math.min(lockLeft, usable, resticWaits ? RETRY_LOCK_CHUNK_MS : wait);
    if (lockWaitMs === 0 || next < 1_000) {
      outcome.error = classifyLockedFailure(outcome.stderrLines, name, localLockProbe(), {
        waitedMs,
        limitMs: lockWaitMs,
        endedBy: lockLeft <= usable ? "lock_wait" : "timeout",
      });
      return outcome;
    }
    const who = holder
      ? ` (PID ${holder.pid} on ${holder.hostname}${holder.exclusive ? ", exclusive" : ""})`
      : "";
    const limits = `restic.lock_wait ${formatDuration(lockWaitMs)}, never past the step's timeout`;
    if (resticWaits) {
      retryLockMs = next;
      host.log.info(
        `repository ${name} is locked by another restic${who}; restic waits up to ${formatDuration(next)} for it (--retry-lock; ${limits})`,
      );
      continue;
    }
    const pause = next;
    host.log.info(
      `repository ${name} is locked by another restic${who}; waiting ${formatDuration(pause)} and trying again (${limits})`,
    );
    if ((await waitUnlessAborted(pause, host.signal)) === "aborted") return outcome;
    wait = Math.min(wait * 2, LOCK_WAIT_MAX_MS);
  }
}

async function runOnce(
  host: ResticHost,
  call: ResticCall,
  access: RepositoryAccess,
  detected: DetectedRestic,
  retryLockMs = 0,
): Promise<ResticOutcome> {
  const config = host.config;
  const command = call.command ?? call.args[0] ?? "restic";
  const echo = call.echo ?? true;
  const stderrLines: string[] = [];
  const MAX_STDERR = 400;

  const prefix = call.normalPriority ? [] : priorityPrefix(config, host.env);
  // restic 0.16+: wait for the lock inside restic (whole seconds; restic's own backoff, up to 1 min).
  const retryLock = retryLockMs >= 1_000 ? ["--retry-lock", `${Math.floor(retryLockMs / 1_000)}s`] : [];
  const resticArgs = [
    ...access.globalArgs,
    ...(call.noLock ? ["--no-lock"] : []),
    ...retryLock,
    ...call.args,
  ];
  const [program, ...args] =
    prefix.length > 0 ? [...prefix, detected.binary, ...resticArgs] : [detected.binary, ...resticArgs];

  let timeoutMs = call.timeoutMs;
  let earlyStopAt: number | null = null;
  // Every call by default: a listing (snapshots, ls, stats) meeting a dead backend at the step's end
  // is then reported from restic's own words (`network`), not as a bare timeout.
  if ((call.stopBeforeDeadline ?? true) && host.deadline !== null) {
    // Leave restic the kill grace (SIGINT → SIGKILL) plus a margin to end before the engine's timer.
    const remaining = host.deadline - Date.now();
    const budget = Math.max(1_000, remaining - stopMargin(host, remaining));
    if (timeoutMs === undefined || budget < timeoutMs) {
      timeoutMs = budget;
      earlyStopAt = Date.now() + budget;
    }
  }

  // The open watch: stop restic when, open_timeout after its start, it is still retrying to open
  // the repository (and at any later retry line while it still is).
  const configuredOpenTimeoutMs = call.openTimeoutMs ?? openTimeoutFor(config, call.repo);
  // A step whose own time ends before open_timeout: look once more just before that stop, so a
  // backend that never answered is reported as `network` with restic's cause, not as a bare timeout.
  const openTimeoutMs =
    timeoutMs !== undefined && timeoutMs - OPEN_CHECK_MARGIN_MS < configuredOpenTimeoutMs
      ? Math.max(500, timeoutMs - OPEN_CHECK_MARGIN_MS)
      : configuredOpenTimeoutMs;
  const openWatch = createOpenWatch();
  const openStop = new AbortController();
  const startedAt = Date.now();
  const checkOpen = () => {
    const now = Date.now();
    if (!openStop.signal.aborted && now - startedAt >= openTimeoutMs && openWatch.stillOpening(now))
      openStop.abort();
  };
  const openTimer = setTimeout(checkOpen, timerDelay(openTimeoutMs));

  const result = await host.exec(program as string, args, {
    env: { ...access.env, ...(call.extraEnv ?? {}) },
    stopSignal: openStop.signal,
    collectStdout: call.collectStdout ?? false,
    ...(call.stdinStream ? { stdinStream: call.stdinStream } : {}),
    stderrTailLines: 50,
    // snapshots/forget print one JSON array on one line, which grows with the snapshot count.
    maxLineLength: 512 * 1024 * 1024,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    onLine: (line, stream) => {
      if (!openWatch.opened()) {
        const before = openWatch.retries();
        openWatch.line(line, stream, Date.now());
        if (before === 0 && openWatch.retries() > 0) call.onOpenRetry?.();
        if (stream === "stderr") checkOpen();
      }
      if (stream === "stdout") {
        if (call.onStdout) call.onStdout(line);
        else if (echo) host.log.output(line, "stdout");
        return;
      }
      if (stderrLines.length < MAX_STDERR) stderrLines.push(line);
      else {
        // Keep the first lines (the cause) and the last ones (the verdict).
        stderrLines.splice(MAX_STDERR / 2, 1);
        stderrLines.push(line);
      }
      const handled = call.onStderr?.(line) === true;
      // 0.18's JSON exit_error/error lines are logged as their text, never raw.
      if (!handled && echo) host.log.output(readableStderrLine(line), "stderr");
    },
  });
  clearTimeout(openTimer);

  const outcome: ResticOutcome = {
    ok: result.exitCode === 0 && !result.spawnError,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: result.durationMs,
    cancelled: result.cancelled,
    stoppedEarly: false,
    notOpened: false,
    stdout: result.stdout,
    stderrLines,
    error: null,
    version: detected.version,
    attempts: 1,
  };
  if (result.spawnError) {
    outcome.error = stepError(
      "not_found",
      `could not start ${program}: ${result.spawnError.message}`,
      "check restic.binary and the PATH",
    );
    return outcome;
  }
  // restic 0.18.0 exits 0 when the backend refused its deletes (0.19: exit 3): not a success.
  const refused =
    (result.exitCode === 0 || result.exitCode === 3) && !result.cancelled && !result.stopped
      ? refusedRemovals(stderrLines)
      : null;
  if (outcome.ok && !result.cancelled && !result.stopped && !refused) return outcome;
  outcome.ok = false;

  const base = {
    exitCode: result.exitCode,
    signal: result.signal,
    stderrLines,
    version: detected.version,
    command,
    repo: call.repo.name,
    lockProbe: localLockProbe(),
  };
  if (refused) {
    outcome.refusedFiles = refused.files;
    outcome.error = refusedError(command, refused.files, refused.cause, base);
    return outcome;
  }
  if (result.cancelled) {
    // Accept 130 or 1 after a cancel we started (restic 0.14 answers SIGINT with 130, 0.19 notes it "used to return 1").
    const reason = host.signal?.reason === "timeout" ? "timeout" : "cancelled";
    outcome.error =
      reason === "timeout"
        ? classifyResticFailure({ ...base, timedOut: true })
        : classifyResticFailure({ ...base, cancelled: true });
    await cleanupAfterStop(host, call, access, detected);
    return outcome;
  }
  if (result.stopped) {
    // restic never opened the repository, so it holds no lock there: nothing to clean up.
    outcome.stoppedEarly = true;
    outcome.notOpened = true;
    outcome.error = notOpenedError(
      call.repo.name,
      openTimeoutMs,
      configuredOpenTimeoutMs,
      openWatch.cause(),
      base,
    );
    return outcome;
  }
  if (result.timedOut) {
    outcome.stoppedEarly = earlyStopAt !== null;
    // Was the backend failing? Then the honest answer is `network`, not a timeout.
    // Only what restic said before our SIGINT (its "signal interrupt received" would read as a cancel).
    const cut = stderrLines.findIndex((l) => l.includes("signal interrupt received"));
    const beforeStop = cut === -1 ? stderrLines : stderrLines.slice(0, cut);
    const asIfFailed = classifyResticFailure({ ...base, stderrLines: beforeStop, exitCode: 1, signal: null });
    if (asIfFailed.kind === "repository_damaged") {
      // restic 0.14 retries a missing pack ~10 times per blob before it gives up: the time ran out
      // on damage, and saying "timeout" would hide it.
      await cleanupAfterStop(host, call, access, detected);
      outcome.error = asIfFailed;
      return outcome;
    }
    if (asIfFailed.kind === "network") {
      // The backend is gone, so restic's lock there cannot be removed now; say how, for later.
      if (result.signal === "SIGKILL" || call.exclusive) {
        host.log.warn(
          `restic may have left its lock in ${call.repo.name}; once the backend answers again, run \`holdfast unlock ${call.repo.name}\``,
        );
      }
      // restic's retry lines carry the cause ("… returned error, retrying after 1.9s: client.Post: … connection refused").
      const cause = lastRetryCause(beforeStop) ?? asIfFailed.message;
      outcome.error = stepError(
        "network",
        `the repository backend stopped answering and restic was still retrying when the step's time ran out: ${cause}`,
        asIfFailed.hint,
      );
      return outcome;
    }
    await cleanupAfterStop(host, call, access, detected);
    outcome.error = classifyResticFailure({
      ...base,
      timedOut: true,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    if (earlyStopAt !== null && host.signal && host.deadline !== null) {
      // Not a backend problem: let the engine's own timeout fire, so the step is recorded `timed_out`.
      await waitUnlessAborted(Math.max(0, host.deadline - Date.now()) + 2_000, host.signal);
    }
    return outcome;
  }
  // A password_command that hung or failed is named as such, whatever else restic said after it.
  outcome.error =
    passwordCommandFailure(config, call.repo, call.extraEnv, stderrLines) ?? classifyResticFailure(base);
  return outcome;
}

/**
 * restic was stopped by the open watch: it was still retrying to open the repository. The kind and
 * hint come from restic's own cause (connection refused, unknown TLS CA, …), classified like any
 * failure; the message says how long holdfast let it try and what restic last said.
 */
function notOpenedError(
  repoName: string,
  openTimeoutMs: number,
  configuredOpenTimeoutMs: number,
  cause: string | null,
  base: Parameters<typeof classifyResticFailure>[0],
): StepError {
  const said = cause ?? "the backend did not answer";
  const classified = classifyResticFailure({ ...base, stderrLines: [said], exitCode: 1, signal: null });
  const kind = classified.kind === "permission" ? "permission" : "network";
  const hint = kind === classified.kind && classified.hint ? `${classified.hint} ` : "";
  return stepError(
    kind,
    `restic could not open repository ${repoName}: its backend did not answer within ${formatDuration(openTimeoutMs)} (${said})`,
    openTimeoutMs < configuredOpenTimeoutMs
      ? `${hint}The step's time ran out while restic still retried to open the repository; raise the step's timeout for a backend that is slow to come up.`
      : `${hint}holdfast stops restic once it has retried opening a repository for restic.open_timeout (${formatDuration(openTimeoutMs)}); raise it (restic.open_timeout, or open_timeout on the repository) for a backend that is slow to come up.`,
  );
}

/**
 * The backend refused deletes that restic reported as done (0.18.0 exits 0, 0.19 exits 3): kind and
 * hint from restic's cause (403 → `permission`, the append-only hint), the files in the message.
 */
function refusedError(
  command: string,
  files: readonly string[],
  cause: string | null,
  base: Parameters<typeof classifyResticFailure>[0],
): StepError {
  const said = cause ?? "the backend refused the delete";
  const classified = classifyResticFailure({ ...base, stderrLines: [said], exitCode: 1, signal: null });
  const kind = classified.kind === "exit_code" ? "permission" : classified.kind;
  const shown = files.slice(0, 3).map((f) => f.replace(/^(\w+\/[0-9a-f]{10})[0-9a-f]*$/, "$1"));
  const more = files.length > shown.length ? ` and ${files.length - shown.length} more` : "";
  return stepError(
    kind,
    `restic ${command} could not remove ${files.length} file${files.length === 1 ? "" : "s"} from the repository (${shown.join(", ")}${more}): ${said}`,
    classified.hint,
  );
}

/**
 * After we stopped restic: SIGINT lets restic remove its own lock, but a SIGKILL after the grace
 * period (or restic 0.14 on SIGTERM) leaves it behind, and even an exit 130 is no proof that the
 * lock file went away. `restic unlock` removes only stale locks (a dead PID on this host, or older
 * than 30 minutes), so a lock of another live restic is never touched; running it costs one
 * repository open and makes "no lock left behind by holdfast" hold after every stop.
 */
async function cleanupAfterStop(
  host: ResticHost,
  call: ResticCall,
  access: RepositoryAccess,
  detected: DetectedRestic,
): Promise<void> {
  await unlockStale(host, call.repo, access, detected, true);
}
