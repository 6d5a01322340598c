// What the schedule commands share: which unit mode and root they act on, and how the freshness check is started.
import path from "node:path";
import { UsageError } from "../../errors.js";
import { defaultUnitMode } from "../../scheduler/install.js";
import type { UnitMode } from "../../scheduler/systemd.js";

export interface ModeFlags {
  user?: boolean;
  system?: boolean;
  root?: string;
}

export function resolveMode(flags: ModeFlags): UnitMode {
  if (flags.user && flags.system) throw new UsageError("--user and --system exclude each other", "pick one");
  if (flags.user) return "user";
  if (flags.system) return "system";
  return defaultUnitMode();
}

export function resolveRoot(flags: ModeFlags): string | null {
  if (flags.root === undefined) return null;
  if (flags.root.trim() === "") throw new UsageError("--root needs a directory", "e.g. --root ./pkgroot");
  return path.resolve(flags.root);
}

/** The arguments of the freshness check that the timer units and the daemon start. */
export const WATCH_ARGS: readonly string[] = ["watch"];
