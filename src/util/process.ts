// The one door to child processes (architecture.md, convention 3). Every program holdfast runs —
// restic, rsync, git, a user's `exec` step — goes through runProcess, which gives:
//   - an explicit environment (never process.env by accident),
//   - its own process group, so a timeout or cancel reaches grandchildren too,
//   - a wall-clock timeout and an AbortSignal, both ending in SIGINT → grace → SIGKILL of the group,
//   - output delivered line by line as it arrives, never buffered whole (unless asked to collect stdout),
//   - a typed result; a failure to start is a result field, not an exception,
//   - judged by the leader's exit: a background child that keeps the output pipes open (`sh -c 'tool &'`)
//     does not hold the caller. After a short grace its process group is ended (SIGTERM, then SIGKILL —
//     systemd's KillMode=control-group), the pipes are closed, and the result names what was left over.
// Children that outlive the call — the daemon's runs, the dashboard's launches — start through
// spawnDetached, the same door's detached mode: their caller holds the handle and decides their end.
// Nothing else imports node:child_process (eslint no-restricted-imports).
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import fs from "node:fs";
import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { timerDelay } from "./units.js";

export type OutputStream = "stdout" | "stderr";

export interface RunProcessOptions {
  /** The complete environment of the child. Build it with the engine's env helpers; secrets only here. */
  env: Record<string, string>;
  cwd?: string;
  /** Cancellation from outside (user signal, run cancel). */
  signal?: AbortSignal;
  /**
   * A stop decided by the caller while watching the output (restic's open watch): ends the process
   * like the timeout does (SIGINT → grace → SIGKILL) and sets `stopped` instead of `cancelled`.
   */
  stopSignal?: AbortSignal;
  /** Wall-clock limit; on expiry the group gets SIGINT, then SIGKILL after graceMs. */
  timeoutMs?: number;
  /** Time between SIGINT and SIGKILL. */
  graceMs?: number;
  /** Called for every complete line (without the newline), in arrival order per stream. */
  onLine?: (line: string, stream: OutputStream) => void;
  /** Collect the whole stdout into result.stdout (for commands whose output is one JSON document). */
  collectStdout?: boolean;
  /** Data written to the child's stdin, which is then closed. Default: stdin is /dev/null. */
  input?: string | Buffer;
  /**
   * The child's stdin as a pipe, handed to the caller, who writes and ends it (a dump streamed into
   * `restic backup --stdin`). Called once, right after the spawn. Not with `input`.
   */
  stdinStream?: (stdin: Writable) => void;
  /**
   * The child's stdout as bytes, handed to the caller, who must read it to its end (a database dump):
   * no lines, nothing collected. Called once, right after the spawn.
   */
  stdoutStream?: (stdout: Readable) => void;
  /** How many stderr lines to keep for the result's tail. */
  stderrTailLines?: number;
  /** Run the child as this user and group (holdfast as root, dropping to a repository's owner). The
   * supplementary groups are dropped with them (libuv calls setgroups(0) before setgid/setuid). */
  uid?: number;
  gid?: number;
  /** A file descriptor the child's stdin is read from directly (a FIFO a dump writes into): the
   * bytes never pass through holdfast. Not with `input` or `stdinStream`. */
  stdinFd?: number;
  /** A file descriptor the child's stdout goes to directly (no lines, no collecting): for large
   * binary output written into a file holdfast opened itself. */
  stdoutFd?: number;
  /** A stream the child's stdout is piped into as bytes, with backpressure (no lines, no collecting):
   * `restic dump` streamed to an HTTP response. The sink is ended when stdout ends. */
  stdoutSink?: NodeJS.WritableStream;
  /**
   * The child shares holdfast's terminal (`holdfast restic REPO -- mount …`): stdin, stdout and stderr
   * are inherited and it stays in holdfast's process group, so a prompt can read the TTY and Ctrl-C
   * reaches it directly. Nothing is read from its output (no lines, no stderr tail).
   */
  terminal?: boolean;
  /** Lines longer than this are cut (with a marker) before onLine, so one runaway line cannot exhaust memory. */
  maxLineLength?: number;
  /**
   * How long after the leader's exit its output pipes may stay open (a grandchild still writing its last
   * lines) before the leftover processes are ended and the pipes closed. Internal; tests shorten it.
   */
  leftoverGraceMs?: number;
}

/** A process still holding the output pipes after the leader exited. */
export interface LeftoverProcess {
  pid: number;
  /** Its command line from /proc, cut to 200 characters. */
  command: string;
}

export interface ProcessResult {
  command: string;
  args: readonly string[];
  pid: number | null;
  /** null when the process was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  timedOut: boolean;
  /** The AbortSignal fired before the process ended. */
  cancelled: boolean;
  /** The stopSignal fired before the process ended. */
  stopped: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError: { code: string; message: string } | null;
  stderrTail: string[];
  stdout: string | null;
  /**
   * Set when the leader exited but its output pipes were still open after leftoverGraceMs: the processes
   * of its group found then (they were ended). Empty when the holder is outside the group (it called
   * setsid). null in the normal case.
   */
  leftovers: LeftoverProcess[] | null;
}

const DEFAULT_GRACE_MS = 10_000;
/** Long enough for a grandchild to flush its last lines after the leader exits; short enough not to linger. */
export const DEFAULT_LEFTOVER_GRACE_MS = 2_000;

export interface DetachedOptions {
  /** The complete environment of the child (never process.env by accident). */
  env: NodeJS.ProcessEnv;
  stdio: StdioOptions;
}

/**
 * Starts a long-lived child in its own process group and hands back its handle: a signal to
 * holdfast's group (Ctrl-C on a terminal) does not reach it, and the caller stops it when it decides.
 */
export function spawnDetached(
  program: string,
  args: readonly string[],
  options: DetachedOptions,
): ChildProcess {
  return spawn(program, args, { env: options.env, stdio: options.stdio, detached: true });
}
/** After SIGTERM, how long the leftover group may take to go before SIGKILL. */
const LEFTOVER_TERM_MS = 1_000;
const DEFAULT_MAX_LINE = 1 << 20;

/** Splits a byte stream into lines without holding more than the current partial line. */
export function createLineSplitter(onLine: (line: string) => void, maxLineLength = DEFAULT_MAX_LINE) {
  const decoder = new StringDecoder("utf8");
  let partial = "";
  let truncated = false;
  const emit = (line: string) => {
    const clean = line.endsWith("\r") ? line.slice(0, -1) : line;
    onLine(truncated ? `${clean} …[line cut at ${maxLineLength} bytes]` : clean);
    truncated = false;
  };
  return {
    push(chunk: Buffer) {
      const text = decoder.write(chunk);
      let start = 0;
      let nl = text.indexOf("\n", start);
      if (nl === -1) {
        partial = appendBounded(partial, text);
        return;
      }
      emit(partial + text.slice(start, nl));
      partial = "";
      start = nl + 1;
      while ((nl = text.indexOf("\n", start)) !== -1) {
        emit(text.slice(start, nl));
        start = nl + 1;
      }
      partial = appendBounded("", text.slice(start));
    },
    end() {
      const rest = partial + decoder.end();
      partial = "";
      if (rest.length > 0) emit(rest);
    },
  };
  function appendBounded(prefix: string, text: string): string {
    const next = prefix + text;
    if (next.length <= maxLineLength) return next;
    truncated = true;
    return next.slice(0, maxLineLength);
  }
}

/** Runs a program to completion. Never throws for the program's own failures. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunProcessOptions,
): Promise<ProcessResult> {
  const started = performance.now();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const tailSize = options.stderrTailLines ?? 40;
  const stderrTail: string[] = [];
  const stdoutChunks: Buffer[] | null = options.collectStdout ? [] : null;

  const leftoverGraceMs = options.leftoverGraceMs ?? DEFAULT_LEFTOVER_GRACE_MS;

  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let stopped = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let leftoverTimer: NodeJS.Timeout | undefined;
    let leaderExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let endingLeftovers = false;

    const finish = (partial: Partial<ProcessResult>) => {
      if (settled) return;
      settled = true;
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
      if (leftoverTimer) clearTimeout(leftoverTimer);
      options.signal?.removeEventListener("abort", onAbort);
      options.stopSignal?.removeEventListener("abort", onStop);
      resolve({
        command,
        args,
        pid: child?.pid ?? null,
        exitCode: null,
        signal: null,
        durationMs: Math.round(performance.now() - started),
        timedOut,
        cancelled,
        stopped,
        spawnError: null,
        stderrTail,
        stdout: stdoutChunks ? Buffer.concat(stdoutChunks).toString("utf8") : null,
        leftovers: null,
        ...partial,
      });
    };

    let child: ReturnType<typeof spawn>;
    try {
      child = spawnChild();
    } catch (err) {
      // Errors such as EPERM (a uid the caller may not switch to) are thrown, not emitted.
      const e = err as NodeJS.ErrnoException;
      finish({ spawnError: { code: e.code ?? "EUNKNOWN", message: e.message } });
      return;
    }
    function spawnChild() {
      return spawn(command, args, {
        env: options.env,
        cwd: options.cwd,
        // Own process group: SIGINT/SIGKILL reach the whole tree (sh -c, restic's rclone/ssh children).
        // (Not for a terminal child: a background group cannot read the TTY.)
        detached: !options.terminal,
        stdio: options.terminal
          ? "inherit"
          : [
              options.stdinFd ??
                (options.input === undefined && options.stdinStream === undefined ? "ignore" : "pipe"),
              options.stdoutFd ?? "pipe",
              "pipe",
            ],
        windowsHide: true,
        ...(options.uid === undefined ? {} : { uid: options.uid }),
        ...(options.gid === undefined ? {} : { gid: options.gid }),
      });
    }

    // What the child's stdout/stderr are (socket:[inode]), read now — spawn returns after the exec, so these
    // are the child's own — to find later who still holds them, even a process that left the group (setsid).
    // A leader that has already exited by now cannot be read: its setsid children then go unnamed (its
    // group is still found by pgid, and the pipes are still closed after the grace).
    const outputLinks = child.pid === undefined ? [] : readOutputLinks(child.pid);

    const signalGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is gone already; try the process itself in case it left the group.
        try {
          child.kill(sig);
        } catch {
          /* already exited */
        }
      }
    };

    // SIGINT first: restic removes its own lock on SIGINT, but not on SIGTERM in 0.14.
    const stop = () => {
      signalGroup("SIGINT");
      killTimer ??= setTimeout(() => signalGroup("SIGKILL"), timerDelay(graceMs));
    };

    const onAbort = () => {
      if (settled) return;
      cancelled = true;
      if (leaderExit) endLeftovers();
      else stop();
    };

    const onStop = () => {
      if (settled || cancelled || timedOut) return;
      stopped = true;
      stop();
    };

    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(onAbort);
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
    if (options.stopSignal) {
      if (options.stopSignal.aborted) queueMicrotask(onStop);
      else options.stopSignal.addEventListener("abort", onStop, { once: true });
    }
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        if (settled) return;
        // The leader ended in time; only its leftovers are still holding the pipes.
        if (leaderExit) return endLeftovers();
        timedOut = true;
        stop();
      }, timerDelay(options.timeoutMs));
    }

    const onLine = options.onLine;
    const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
    const stdoutSplitter = onLine ? createLineSplitter((l) => onLine(l, "stdout"), maxLine) : null;
    const stderrSplitter = createLineSplitter((line) => {
      stderrTail.push(line);
      if (stderrTail.length > tailSize) stderrTail.shift();
      onLine?.(line, "stderr");
    }, maxLine);

    if (options.stdoutSink && child.stdout) {
      child.stdout.pipe(options.stdoutSink);
    } else if (options.stdoutStream && child.stdout) {
      options.stdoutStream(child.stdout);
    } else {
      child.stdout?.on("data", (chunk: Buffer) => {
        stdoutChunks?.push(chunk);
        stdoutSplitter?.push(chunk);
      });
    }
    child.stderr?.on("data", (chunk: Buffer) => stderrSplitter.push(chunk));

    if (options.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        /* the child may exit without reading stdin (EPIPE); its exit code tells the story */
      });
      child.stdin.end(options.input);
    } else if (options.stdinStream && child.stdin) {
      child.stdin.on("error", () => {
        /* the child exited without reading all of stdin (EPIPE); its exit code tells the story */
      });
      options.stdinStream(child.stdin);
    }

    child.on("error", (err: NodeJS.ErrnoException) => {
      // Only spawn failures reach here before 'close'; the process never ran.
      finish({ spawnError: { code: err.code ?? "EUNKNOWN", message: err.message }, exitCode: null });
    });

    // The leader is judged by its own exit. Its pipes normally close right after ('close' below); if
    // something it started keeps them open, that is a leftover, ended after the grace.
    child.on("exit", (code, sig) => {
      leaderExit = { code, signal: sig };
      if (settled) return;
      // After a stop, nothing the leader started may outlive it.
      if (timedOut || cancelled) signalGroup("SIGKILL");
      leftoverTimer = setTimeout(endLeftovers, timerDelay(leftoverGraceMs));
    });

    // The pipes are still open after the grace: name who holds them (the group's members, from /proc),
    // end the group — SIGTERM, SIGKILL if it is still there after LEFTOVER_TERM_MS — and close the pipes.
    // The result carries the leader's exit and the leftovers, so the caller can warn.
    function endLeftovers(): void {
      if (settled || endingLeftovers || child.pid === undefined) return;
      endingLeftovers = true;
      if (leftoverTimer) clearTimeout(leftoverTimer);
      const pgid = child.pid;
      const leftovers = findLeftovers(pgid, outputLinks);
      const outsiders = leftovers.filter((p) => p.pgid !== pgid).map((p) => p.pid);
      signalGroup("SIGTERM");
      signalEach(outsiders, "SIGTERM");
      child.stdout?.destroy();
      child.stderr?.destroy();
      stdoutSplitter?.end();
      stderrSplitter.end();
      const termSent = performance.now();
      const waitGone = () => {
        const named = leftovers.map(({ pid, command }) => ({ pid, command }));
        const alive = outsiders.filter(isAlive);
        if (processGroupMembers(pgid).length === 0 && alive.length === 0) {
          finish({
            exitCode: leaderExit?.code ?? null,
            signal: leaderExit?.signal ?? null,
            leftovers: named,
          });
          return;
        }
        if (performance.now() - termSent > LEFTOVER_TERM_MS) {
          signalGroup("SIGKILL");
          signalEach(alive, "SIGKILL");
        }
        if (performance.now() - termSent > LEFTOVER_TERM_MS + 1_000) {
          // Unkillable (D state): do not wait for it; it holds no pipe of ours any more.
          finish({
            exitCode: leaderExit?.code ?? null,
            signal: leaderExit?.signal ?? null,
            leftovers: named,
          });
          return;
        }
        setTimeout(waitGone, 25);
      };
      waitGone();
    }

    // 'close' fires after the stdio streams ended, so every line has been delivered.
    child.on("close", (code, sig) => {
      if (endingLeftovers) return;
      stdoutSplitter?.end();
      stderrSplitter.end();
      // The leader is gone; make sure nothing it started lingers in the group after a stop.
      if (timedOut || cancelled || stopped) signalGroup("SIGKILL");
      finish({ exitCode: code, signal: sig });
    });
  });
}

function readOutputLinks(pid: number): string[] {
  const links: string[] = [];
  for (const fd of [1, 2]) {
    try {
      links.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* not Linux, or the child is gone already */
    }
  }
  return links;
}

function signalEach(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

interface ProcInfo extends LeftoverProcess {
  pgid: number;
}

/** One process from /proc, or null when it is gone or a zombie. */
function readProc(entry: string): ProcInfo | null {
  try {
    const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    // Fields after the command (which may hold spaces and parentheses): state ppid pgrp …
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    const raw = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
    const cmd = raw.replaceAll("\0", " ").trim() || stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    return {
      pid: Number(entry),
      pgid: Number(fields[2]),
      command: cmd.length > 200 ? `${cmd.slice(0, 200)}…` : cmd,
    };
  } catch {
    return null;
  }
}

function procEntries(): string[] {
  try {
    return fs.readdirSync("/proc").filter((e) => e.charCodeAt(0) >= 48 && e.charCodeAt(0) <= 57);
  } catch {
    return [];
  }
}

/** The members of the group, and any other process that holds one of the child's output sockets. */
function findLeftovers(pgid: number, outputLinks: readonly string[]): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const entry of procEntries()) {
    if (Number(entry) === process.pid) continue;
    const info = readProc(entry);
    if (!info) continue;
    if (info.pgid === pgid || (outputLinks.length > 0 && holdsAny(entry, outputLinks))) found.push(info);
  }
  return found;
}

function holdsAny(entry: string, links: readonly string[]): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${entry}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (links.includes(fs.readlinkSync(`/proc/${entry}/fd/${fd}`))) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * The live (not zombie) processes of a process group, read from /proc. A process holdfast started
 * leads its own group (runProcess spawns detached), so these are what it left behind.
 */
export function processGroupMembers(pgid: number): LeftoverProcess[] {
  const found: LeftoverProcess[] = [];
  for (const entry of procEntries()) {
    const info = readProc(entry);
    if (info && info.pgid === pgid) found.push({ pid: info.pid, command: info.command });
  }
  return found;
}

/** "pid 123 (sleep 300), pid 124 (…)" for logs and warnings. */
export function describeLeftovers(leftovers: readonly LeftoverProcess[]): string {
  if (leftovers.length === 0) return "a process outside its process group";
  return leftovers.map((p) => `pid ${p.pid} (${p.command})`).join(", ");
}

/** A one-line description of how a process ended, for logs and error messages. */
export function describeExit(result: ProcessResult): string {
  if (result.spawnError) return `could not start ${result.command}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${result.durationMs} ms`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.exitCode}`;
}
