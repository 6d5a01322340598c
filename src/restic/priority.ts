// restic runs at low CPU and I/O priority unless configured off: `nice` and `ionice` in front of it,
// each only when installed.
import type { Config } from "../config/types.js";
import { findOnPath } from "../util/find-on-path.js";

/**
 * `ionice -c3 nice -n N` (as configured, and only the tools that are installed). ionice goes first:
 * restic ends with the same priorities either way, but a `nice` first makes the `ionice` exec run at
 * low CPU priority too, and on a busy machine that delay (~190 ms measured at load 12) is added
 * to every restic command of a run.
 */
export function priorityPrefix(config: Config, env: Record<string, string>): string[] {
  const prefix: string[] = [];
  const { nice, ionice } = config.restic;
  if (ionice !== "none") {
    // ionice is util-linux; minimal images (and non-Linux systems) may lack it: then skip it.
    const bin = findOnPath("ionice", env.PATH);
    if (bin) prefix.push(bin, ...(ionice === "idle" ? ["-c", "3"] : ["-c", "2", "-n", "7"]));
  }
  if (nice !== null && nice !== 0) {
    const bin = findOnPath("nice", env.PATH);
    if (bin) prefix.push(bin, "-n", String(nice));
  }
  return prefix;
}
