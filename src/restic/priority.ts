// restic runs at low CPU and I/O priority unless configured off: `nice` and `ionice` in front of it,
// each only when installed.
import type { Config } from "../config/types.js";
import { findOnPath } from "../util/find-on-path.js";

/** `nice -n N ionice -c3` (as configured, and only the tools that are installed). */
export function priorityPrefix(config: Config, env: Record<string, string>): string[] {
  const prefix: string[] = [];
  const { nice, ionice } = config.restic;
  if (nice !== null && nice !== 0) {
    const bin = findOnPath("nice", env.PATH);
    if (bin) prefix.push(bin, "-n", String(nice));
  }
  if (ionice !== "none") {
    // ionice is util-linux; minimal images (and non-Linux systems) may lack it: then skip it.
    const bin = findOnPath("ionice", env.PATH);
    if (bin) prefix.push(bin, ...(ionice === "idle" ? ["-c", "3"] : ["-c", "2", "-n", "7"]));
  }
  return prefix;
}
