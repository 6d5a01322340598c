// The one door to child processes (architecture.md, convention 3). Every program holdfast runs —
// restic, rsync, git, a user's `exec` step — goes through runProcess, which gives:
//   - an explicit environment (never process.env by accident),
//   - its own process group, so a timeout or cancel reaches grandchildren too,
//   - a wall-clock timeout and an AbortSignal, both ending in SIGINT → grace → SIGKILL of the group,
//   - output delivered line by line as it arrives, never buffered whole (unless asked to collect stdout),
//   - a typed result; a failure to start is a result field, not an exception.
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { timerDelay } from "./units.js";

export type OutputStream = "stdout" | "stderr";

export interface RunProcessOptions {
  /** The complete environment of the child. Build it with the engine's env helpers; secrets only here. */
  env: Record<string, string>;
  cwd?: string;
  /** Cancellation from outside (user signal, run cancel). */
  signal?: AbortSignal;
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
  /** How many stderr lines to keep for the result's tail. */
  stderrTailLines?: number;
  /** Lines longer than this are cut (with a marker) before onLine, so one runaway line cannot exhaust memory. */
  maxLineLength?: number;
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
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError: { code: string; message: string } | null;
  stderrTail: string[];
  stdout: string | null;
}

const DEFAULT_GRACE_MS = 10_000;
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

  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;

    const finish = (partial: Partial<ProcessResult>) => {
      if (settled) return;
      settled = true;
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve({
        command,
        args,
        pid: child.pid ?? null,
        exitCode: null,
        signal: null,
        durationMs: Math.round(performance.now() - started),
        timedOut,
        cancelled,
        spawnError: null,
        stderrTail,
        stdout: stdoutChunks ? Buffer.concat(stdoutChunks).toString("utf8") : null,
        ...partial,
      });
    };

    const child = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      // Own process group: SIGINT/SIGKILL reach the whole tree (sh -c, restic's rclone/ssh children).
      detached: true,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      windowsHide: true,
    });

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
      stop();
    };

    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(onAbort);
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        if (settled) return;
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

    child.stdout?.on("data", (chunk: Buffer) => {
      stdoutChunks?.push(chunk);
      stdoutSplitter?.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => stderrSplitter.push(chunk));

    if (options.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        /* the child may exit without reading stdin (EPIPE); its exit code tells the story */
      });
      child.stdin.end(options.input);
    }

    child.on("error", (err: NodeJS.ErrnoException) => {
      // Only spawn failures reach here before 'close'; the process never ran.
      finish({ spawnError: { code: err.code ?? "EUNKNOWN", message: err.message }, exitCode: null });
    });

    // 'close' fires after the stdio streams ended, so every line has been delivered.
    child.on("close", (code, sig) => {
      stdoutSplitter?.end();
      stderrSplitter.end();
      // The leader is gone; make sure nothing it started lingers in the group after a stop.
      if (timedOut || cancelled) signalGroup("SIGKILL");
      finish({ exitCode: code, signal: sig });
    });
  });
}

/** A one-line description of how a process ended, for logs and error messages. */
export function describeExit(result: ProcessResult): string {
  if (result.spawnError) return `could not start ${result.command}: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${result.durationMs} ms`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.exitCode}`;
}
