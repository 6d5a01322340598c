// Who runs restic: runRestic needs a host — its config, environment, door to processes, signal,
// deadline and logger. A step adapts its StepContext (steps/restic-host.ts); a CLI command uses
// resticHostForCli. restic/ does not know the engine's types: a StepLogger fits ResticLogger.
import type { Config } from "../config/types.js";
import { runProcess, type ProcessResult, type RunProcessOptions } from "../util/process.js";

export type ResticExecOptions = Omit<RunProcessOptions, "signal"> & { env: Record<string, string> };

/** Where holdfast's lines about a restic command and restic's own output go. */
export interface ResticLogger {
  info(message: string): void;
  warn(message: string): void;
  /** A line of restic's output. */
  output(line: string, stream: "stdout" | "stderr"): void;
  /** Only into the step log (restic's JSON status lines, too chatty for the journal). */
  logOnly(line: string): void;
}

/** What runRestic needs from its caller: a step (steps/restic-host.ts) or a CLI command (resticHostForCli). */
export interface ResticHost {
  config: Config;
  /** The base environment (PATH, HOME, USER, LANG and the config's env layers). */
  env: Record<string, string>;
  /** Starts a process through the caller's door (the step's ctx.exec: its log, cancel and timeout). */
  exec(command: string, args: readonly string[], options: ResticExecOptions): Promise<ProcessResult>;
  /** Fires when the caller is cancelled or timed out. */
  signal: AbortSignal | null;
  /** Epoch ms of the step's timeout, or null for no limit. */
  deadline: number | null;
  killGraceMs: number;
  log: ResticLogger;
}
export interface CliHostOptions {
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Where holdfast's own lines and restic's text output go (default: nowhere). */
  log?: Partial<ResticLogger>;
  deadline?: number | null;
}

/** A host for CLI commands (snapshots, restore, unlock, doctor, init): no step log, the CLI's own signal. */
export function resticHostForCli(config: Config, options: CliHostOptions): ResticHost {
  const noop = () => undefined;
  return {
    config,
    env: options.env,
    exec: (command, args, execOptions) =>
      runProcess(command, args, {
        graceMs: config.kill_grace,
        ...execOptions,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    signal: options.signal ?? null,
    deadline: options.deadline ?? null,
    killGraceMs: config.kill_grace,
    log: {
      info: options.log?.info ?? noop,
      warn: options.log?.warn ?? noop,
      output: options.log?.output ?? noop,
      logOnly: options.log?.logOnly ?? noop,
    },
  };
}
