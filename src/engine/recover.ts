// Crash recovery (behavior.md): a run left `running` by a process that died (SIGKILL, power loss)
// is recorded `interrupted` at the next holdfast start.
import fs from "node:fs";
import type { RunStore } from "../store/types.js";

export interface RecoverOptions {
  host: string;
  /** Limit to one job. */
  job?: string;
  /** The caller holds this job's lock, so every `running` run of it on this host is dead. */
  lockHeld?: boolean;
  now?: () => Date;
}

/** Is `pid` a live holdfast (node) process? A dead pid, or a pid reused by another program, is not. */
export function isHoldfastProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /holdfast|node/.test(cmdline);
  } catch {
    // No /proc (macOS, BSD): the signal probe is all we have.
    return true;
  }
}

/** For commands that only read: a recovery that cannot be written (full disk) is a warning, not a failure. */
export async function recoverInterruptedRunsQuietly(store: RunStore, options: RecoverOptions): Promise<void> {
  try {
    await recoverInterruptedRuns(store, options);
  } catch (err) {
    process.stderr.write(`holdfast: warning: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

export async function recoverInterruptedRuns(store: RunStore, options: RecoverOptions): Promise<string[]> {
  const now = options.now ?? (() => new Date());
  const recovered: string[] = [];
  for (const run of await store.runningRuns()) {
    if (run.host !== options.host) continue;
    if (options.job !== undefined && run.job !== options.job) continue;
    const dead = (options.lockHeld && run.job === options.job) || !isHoldfastProcessAlive(run.pid);
    if (!dead || (run.pid === process.pid && !options.lockHeld)) continue;
    await store.markInterrupted(run.id, now().toISOString());
    recovered.push(run.id);
  }
  return recovered;
}
