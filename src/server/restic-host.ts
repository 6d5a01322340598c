// How the server runs restic: a ResticHost per call (its own signal and time limit), from the
// environment `serve` built once. restic itself still starts through runRestic and util/process.ts;
// the host only adds, for `restic dump`, the stream its stdout is piped into (bytes, not lines).
import type { Config } from "../config/schema.js";
import { resticHostForCli, type ResticHost, type ResticLogger } from "../restic/host.js";

export interface ServerResticOptions {
  /** Fires when the request or the operation is cancelled (and when the server stops). */
  signal?: AbortSignal;
  /** A limit for the call; restic is stopped (SIGINT, then SIGKILL) when it has passed. */
  timeoutMs?: number;
  /** restic's stdout goes here as bytes (dump). */
  stdoutSink?: NodeJS.WritableStream;
  /** restic's output lines (restore's progress and summary). */
  log?: Partial<ResticLogger>;
}

export type ServerResticHost = (options: ServerResticOptions) => ResticHost;

/** The hosts of one server: `env` is the base environment of restic (cliResticEnv), `stopping` the
 * server's own shutdown. */
export function createServerResticHost(
  config: Config,
  env: Record<string, string>,
  stopping?: AbortSignal,
): ServerResticHost {
  return (options) => {
    const signals = [stopping, options.signal].filter((s): s is AbortSignal => s !== undefined);
    if (options.timeoutMs !== undefined) signals.push(AbortSignal.timeout(options.timeoutMs));
    const host = resticHostForCli(config, {
      env,
      ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
      deadline: options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : null,
      ...(options.log ? { log: options.log } : {}),
    });
    const sink = options.stdoutSink;
    if (!sink) return host;
    return {
      ...host,
      exec: (command, args, execOptions) => host.exec(command, args, { ...execOptions, stdoutSink: sink }),
    };
  };
}
