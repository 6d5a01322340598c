// Starts `holdfast run` for the API ("Run now") as a detached child process of the built CLI,
// so a run outlives the dashboard (stopping `serve` never cancels a backup), takes the job's lock
// itself, and is recorded exactly like one started from a shell. Output goes to a file per launch
// under <state_dir>/server/ (the run's own step logs are where they always are).
import fs from "node:fs";
import path from "node:path";
import type { RunStore } from "../store/types.js";
import { spawnDetached } from "../util/process.js";

export interface LaunchResult {
  pid: number;
  /** The run's id once the child has recorded it (null when it had not within the wait). */
  run_id: string | null;
  /** Set when the child already ended within the wait (4: the job's lock is held by another run). */
  exit_code: number | null;
  /** The end of the child's own output (start/finish lines, errors), for early failures. */
  output_tail: string;
}

export interface CliLauncherOptions {
  /** dist/cli/main.js */
  cliPath: string;
  configFile: string | null;
  stateDir: string;
  store: RunStore;
  /** How long to wait for the run record (or an early exit) before answering. */
  waitMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface CliLauncher {
  readonly runJob: (job: string, steps?: readonly string[]) => Promise<LaunchResult>;
}

const KEEP_LAUNCH_LOGS = 50;

export function createCliLauncher(options: CliLauncherOptions): CliLauncher {
  const logDir = path.join(options.stateDir, "server");
  const waitMs = options.waitMs ?? 5_000;

  const launch = async (label: string, args: string[], job: string): Promise<LaunchResult> => {
    fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });
    pruneLaunchLogs(logDir);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const logFile = path.join(logDir, `${stamp}-${label}.log`);
    const fd = fs.openSync(logFile, "a", 0o600);
    const configArgs = options.configFile ? ["--config", options.configFile] : [];
    let child;
    try {
      child = spawnDetached(process.execPath, [options.cliPath, ...configArgs, ...args], {
        stdio: ["ignore", fd, fd],
        env: { ...(options.env ?? process.env), NO_COLOR: "1" },
      });
    } finally {
      fs.closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new Error(`cannot start holdfast: ${error.message}`);
    }
    let exitCode: number | null = null;
    let exited = false;
    const exit = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        exited = true;
        exitCode = code ?? (signal ? 128 : null);
        resolve();
      });
    });
    child.unref();

    let runId: string | null = null;
    const deadline = Date.now() + waitMs;
    while (!exited && Date.now() < deadline) {
      const running = await options.store.runningRuns();
      runId = running.find((r) => r.pid === pid && r.job === job)?.id ?? null;
      if (runId !== null) break;
      await Promise.race([exit, new Promise((r) => setTimeout(r, 50))]);
    }
    if (exited && runId === null) {
      // A job that ended within the wait: find its record by the child's pid.
      const recent = await options.store.listRuns({ job, limit: 10 });
      runId = recent.find((r) => r.pid === pid)?.id ?? null;
    }
    return {
      pid,
      run_id: runId,
      exit_code: exited ? exitCode : null,
      output_tail: exited ? readTail(logFile) : "",
    };
  };

  return {
    runJob: (job, steps = []) =>
      launch(
        `run-${job}`,
        ["run", job, "--trigger", "api", "--quiet", ...steps.flatMap((s) => ["--step", s])],
        job,
      ),
  };
}

function readTail(file: string, bytes = 2_000): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.length > bytes ? text.slice(-bytes) : text;
  } catch {
    return "";
  }
}

function pruneLaunchLogs(dir: string): void {
  try {
    const logs = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort();
    for (const old of logs.slice(0, Math.max(0, logs.length - KEEP_LAUNCH_LOGS))) {
      fs.rmSync(path.join(dir, old), { force: true });
    }
  } catch {
    /* pruning is housekeeping; a failure here must not stop a run */
  }
}
