// What `schedule install` tells the user about the environment its units will run in (issue 17
// item 8): the service is not the installing shell. A system unit has its own /tmp (PrivateTmp=),
// a user manager stops with the last session unless lingering is on, and the unit's PATH is written
// once, at install time — so it holds what the job needs, not whatever the shell had.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isExecutable } from "../util/find-on-path.js";
import type { UnitMode } from "./systemd.js";

/** systemd's own PATH for services (systemd.exec(5), "Environment variables in spawned processes"). */
export const SYSTEMD_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Programs holdfast itself starts for its step kinds, beside restic (whose name the config gives). */
const HOLDFAST_TOOLS = ["rsync", "git", "ssh", "rclone", "nice", "ionice", "timeout"];

export interface MinimalPath {
  /** The PATH written to systemd.env. */
  path: string;
  /** Entries of the installer's PATH that were left out (said in the file, so a user can add one back). */
  dropped: string[];
}

/**
 * The unit's PATH: systemd's default, preceded by the installer's PATH entries where a program the
 * config names was found (nix profiles, /opt, ~/.local/bin — the seed's nix-wrapper case), in the
 * installer's order. Relative entries ("", ".") are never kept: a service must not look up programs
 * in its working directory.
 */
export function minimalPath(installerPath: string | undefined, programs: readonly string[]): MinimalPath {
  const defaults = SYSTEMD_DEFAULT_PATH.split(":");
  const wanted = [...new Set([...programs, ...HOLDFAST_TOOLS])].filter((p) => p && !p.includes("/"));
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const dir of (installerPath ?? "").split(path.delimiter)) {
    if (defaults.includes(dir) || kept.includes(dir) || dropped.includes(dir)) continue;
    const useful = path.isAbsolute(dir) && wanted.some((program) => isExecutable(path.join(dir, program)));
    (useful ? kept : dropped).push(dir);
  }
  // Absolute program paths in the config need no PATH entry; their directories are not added.
  return { path: [...kept, ...defaults].join(":"), dropped: dropped.filter((d) => d !== "") };
}

/** Where a config value lives, for a note: `jobs.nightly.steps[2].target`. */
interface FoundValue {
  where: string;
  value: string;
}

/** Every string in the config, with where it is; the config is a tree of plain values. */
function* strings(value: unknown, where: string): Generator<FoundValue> {
  if (typeof value === "string") yield { where, value };
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* strings(item, `${where}[${i}]`);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) yield* strings(item, where ? `${where}.${key}` : key);
  }
}

const PRIVATE_TMP_DIRS = ["/tmp", "/var/tmp"];

/** Absolute paths (a restic `local:` URL included) that PrivateTmp= would hide from a system unit. */
export function pathsUnderPrivateTmp(config: object): FoundValue[] {
  const found: FoundValue[] = [];
  for (const item of strings(config, "")) {
    const candidate = item.value.startsWith("local:") ? item.value.slice("local:".length) : item.value;
    if (!candidate.startsWith("/")) continue;
    const resolved = path.resolve(candidate);
    if (PRIVATE_TMP_DIRS.some((dir) => resolved === dir || resolved.startsWith(`${dir}/`))) found.push(item);
  }
  return found;
}

/** The first word of every `command:` argv in the config: the programs steps and notifiers run. */
export function commandPrograms(config: object): string[] {
  const programs: string[] = [];
  for (const item of strings(config, "")) {
    if (/(^|\.)command\[0\]$/.test(item.where)) programs.push(item.value);
  }
  return programs;
}

/** `loginctl enable-linger` is on for this user (logind keeps a flag file per user). */
export function lingerEnabled(user = os.userInfo().username, lingerDir = "/var/lib/systemd/linger"): boolean {
  return fs.existsSync(path.join(lingerDir, user));
}

export interface InstallCheckInput {
  mode: UnitMode;
  /** The loaded config; its `file` counts too — a unit cannot read a config that lives in /tmp. */
  config: object;
  lingerEnabled: boolean;
  user: string;
}

/** Warnings for `schedule install`: what will differ when systemd, not this shell, runs the job. */
export function installWarnings(input: InstallCheckInput): string[] {
  const warnings: string[] = [];
  if (input.mode === "system") {
    const hidden = pathsUnderPrivateTmp(input.config);
    if (hidden.length > 0) {
      const list = hidden.map((h) => `${h.where}: ${h.value}`).join("; ");
      warnings.push(
        `the system units run with PrivateTmp=yes (a /tmp and /var/tmp of their own, emptied when the service stops), so these paths are not the ones you see: ${list} — move them out of /tmp, or the backups read an empty directory and write where nobody looks`,
      );
    }
  }
  if (input.mode === "user" && !input.lingerEnabled) {
    warnings.push(
      `lingering is off for ${input.user}: user timers run only while you are logged in, so a 03:00 backup does not run after you log out — run \`loginctl enable-linger ${input.user}\` (or install with --system)`,
    );
  }
  return warnings;
}
