// Writes and removes the systemd units of `holdfast schedule install|remove`. Every file is written
// atomically, and a manifest records what was written and which directories were created, so
// `remove` undoes exactly what `install` did and nothing else — never a file holdfast did not write.
import crypto from "node:crypto";
import fs from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import os from "node:os";
import path from "node:path";
import type { Config } from "../config/types.js";
import { runProcess } from "../util/process.js";
import { commandPrograms, minimalPath } from "./install-checks.js";
import {
  renderEnvironmentFile,
  renderUnitFiles,
  timerNames,
  type UnitMode,
  type UnitSettings,
} from "./systemd.js";
import { HoldfastError } from "../errors.js";

export const UNIT_FILE_MODE = 0o644;
export const ENV_FILE_MODE = 0o600;
const DIR_MODE = 0o755;
const MANIFEST_VERSION = 1;

export interface PlannedFile {
  /** Absolute path on the target system (without --root). */
  path: string;
  content: string;
  mode: number;
  kind: "unit" | "env";
}

export interface InstallPlan {
  mode: UnitMode;
  /** --root DIR (absolute), or null for the live system. */
  root: string | null;
  unitDir: string;
  configPath: string;
  files: PlannedFile[];
  timers: string[];
  manifestPath: string;
}

export interface ManifestFile {
  /** Path on disk (with --root). */
  path: string;
  sha256: string;
  mode: number;
  kind: "unit" | "env";
}

export interface InstallManifest {
  version: number;
  mode: UnitMode;
  root: string | null;
  config: string;
  installed_at: string;
  files: ManifestFile[];
  /** Directories install created, parents first (on disk). */
  dirs: string[];
  timers: string[];
}

export interface InstallEnv {
  env: NodeJS.ProcessEnv;
  /** The state dir, where the manifest lives for a live install. */
  stateDir: string;
}

export class InstallConflictError extends HoldfastError {
  readonly paths: string[];
  constructor(paths: string[]) {
    super(
      `${paths.length === 1 ? "a file" : "files"} holdfast did not write already exist: ${paths.join(", ")}`,
      { kind: "conflict" },
    );
    this.name = "InstallConflictError";
    this.paths = paths;
  }
}

export function defaultUnitMode(): UnitMode {
  return process.getuid?.() === 0 ? "system" : "user";
}

function configHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME || path.join(env.HOME ?? os.homedir(), ".config");
}

export function unitDirFor(mode: UnitMode, env: NodeJS.ProcessEnv = process.env): string {
  return mode === "system" ? "/etc/systemd/system" : path.join(configHome(env), "systemd", "user");
}

/** The services' EnvironmentFile=: outside the unit directory, next to where holdfast's config usually lives. */
export function environmentFileFor(mode: UnitMode, env: NodeJS.ProcessEnv = process.env): string {
  return mode === "system"
    ? "/etc/holdfast/systemd.env"
    : path.join(configHome(env), "holdfast", "systemd.env");
}

export function manifestPathFor(mode: UnitMode, root: string | null, stateDir: string): string {
  // With --root the manifest stays inside DIR, so a packaging root is self-contained and the live
  // system's state dir is never touched.
  return root
    ? path.join(root, `.holdfast-schedule-${mode}.json`)
    : path.join(stateDir, `schedule-${mode}.json`);
}

export function onDisk(root: string | null, target: string): string {
  return root ? path.join(root, target) : target;
}

export interface PlanOptions {
  mode: UnitMode;
  root: string | null;
  command: readonly string[];
  watchArgs: readonly string[];
  installEnv: InstallEnv;
}

export function planInstall(config: Config, options: PlanOptions): InstallPlan {
  const { env, stateDir } = options.installEnv;
  if (!config.file) throw new Error("schedule install needs a config file");
  const unitDir = unitDirFor(options.mode, env);
  const environmentFile = environmentFileFor(options.mode, env);
  const settings: UnitSettings = {
    mode: options.mode,
    command: options.command,
    configPath: config.file,
    environmentFile,
    watchArgs: options.watchArgs,
  };
  const files: PlannedFile[] = renderUnitFiles(config, settings).map((unit) => ({
    path: path.join(unitDir, unit.name),
    content: unit.content,
    mode: UNIT_FILE_MODE,
    kind: "unit",
  }));
  // The unit's own PATH is systemd's minimal one; restic, rsync and git may live elsewhere for the
  // user who set this up (nix profiles, /opt, ~/.local/bin — the seed's nix-wrapper). Keep only the
  // installer's entries where a program the job runs was found, not the whole shell's PATH.
  const unitPath = minimalPath(env.PATH, [config.restic.binary, ...commandPrograms(config)]);
  const pathNote = unitPath.dropped.length
    ? `\nLeft out of the installer's PATH (no program this config runs was found there): ${unitPath.dropped.join(":")}`
    : "";
  files.push({
    path: environmentFile,
    content: renderEnvironmentFile(
      { PATH: unitPath.path },
      `Environment of holdfast's systemd services (0600: add proxy or backend variables here, never in a unit).\nholdfast schedule install wrote it and leaves your edits alone; schedule remove deletes it only if unchanged.${pathNote}`,
    ),
    mode: ENV_FILE_MODE,
    kind: "env",
  });
  return {
    mode: options.mode,
    root: options.root,
    unitDir,
    configPath: config.file,
    files,
    timers: timerNames(renderUnitFiles(config, settings)),
    manifestPath: manifestPathFor(options.mode, options.root, stateDir),
  };
}

export function readManifest(file: string): InstallManifest | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const manifest = JSON.parse(text) as InstallManifest;
  if (manifest.version !== MANIFEST_VERSION)
    throw new Error(`${file}: unknown manifest version ${manifest.version}`);
  return manifest;
}

const sha256 = (content: string | Buffer) => crypto.createHash("sha256").update(content).digest("hex");

function fileHash(file: string): string | null {
  try {
    return sha256(fs.readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** A unit or env file, written whole with its exact mode (util/atomic-write.ts): readers see the old file or the new one. */
export function writeFileAtomic(file: string, content: string, mode: number): void {
  writeFileAtomicSync(file, content, { mode });
}

/** Creates dir and its missing parents; returns the ones it created, parents first. */
function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let cur = dir; !fs.existsSync(cur); cur = path.dirname(cur)) {
    missing.unshift(cur);
    if (path.dirname(cur) === cur) break;
  }
  for (const d of missing) {
    fs.mkdirSync(d, { mode: DIR_MODE });
    fs.chmodSync(d, DIR_MODE);
  }
  return missing;
}

/** Removes the directories (children before parents) that are empty now; returns the ones it removed. */
function removeEmptyDirs(dirs: readonly string[]): string[] {
  const removed: string[] = [];
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
      removed.push(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
      if (code === "ENOENT") removed.push(d);
    }
  }
  return removed;
}

export type FileAction = "created" | "updated" | "unchanged" | "kept" | "removed" | "left";

export interface FileOutcome {
  path: string;
  action: FileAction;
  note?: string;
}

export interface SystemctlRunner {
  /** Runs `systemctl [--user] ARGS`; resolves with an error message, or null on success. */
  run(args: readonly string[]): Promise<string | null>;
}

export interface ApplyResult {
  files: FileOutcome[];
  /** Timers of an earlier install whose jobs are gone (disabled and removed). */
  staleTimers: string[];
  /** systemctl commands that ran, or that the user must run (no systemd, --root). */
  commands: string[][];
  ranCommands: boolean;
  errors: string[];
}

/** The systemctl commands for an install: reload, then enable and start the timers. */
export function installCommands(mode: UnitMode, timers: readonly string[]): string[][] {
  const user = mode === "user" ? ["--user"] : [];
  const commands = [["systemctl", ...user, "daemon-reload"]];
  if (timers.length > 0) commands.push(["systemctl", ...user, "enable", "--now", ...timers]);
  return commands;
}

export function removeCommands(
  mode: UnitMode,
  timers: readonly string[],
): { before: string[][]; after: string[][] } {
  const user = mode === "user" ? ["--user"] : [];
  return {
    before: timers.length > 0 ? [["systemctl", ...user, "disable", "--now", ...timers]] : [],
    after: [["systemctl", ...user, "daemon-reload"]],
  };
}

/** Files that exist but were not written by holdfast: install refuses to overwrite them. */
export function findConflicts(plan: InstallPlan, previous: InstallManifest | null): string[] {
  const ours = new Set(previous?.files.map((f) => f.path) ?? []);
  return plan.files
    .filter((f) => f.kind === "unit")
    .map((f) => onDisk(plan.root, f.path))
    .filter((file) => fs.existsSync(file) && !ours.has(file));
}

export async function applyInstall(
  plan: InstallPlan,
  systemctl: SystemctlRunner | null,
): Promise<ApplyResult> {
  const previous = readManifest(plan.manifestPath);
  if (previous && previous.root !== plan.root)
    throw new Error(`${plan.manifestPath} belongs to another root`);
  const conflicts = findConflicts(plan, previous);
  if (conflicts.length > 0) throw new InstallConflictError(conflicts);

  const result: ApplyResult = {
    files: [],
    staleTimers: [],
    commands: [],
    ranCommands: systemctl !== null,
    errors: [],
  };
  const run = async (argv: string[]) => {
    result.commands.push(argv);
    if (!systemctl) return;
    const error = await systemctl.run(argv.slice(1));
    if (error) result.errors.push(`${argv.join(" ")}: ${error}`);
  };

  const planned = new Set(plan.files.map((f) => onDisk(plan.root, f.path)));
  const stale = (previous?.files ?? []).filter((f) => !planned.has(f.path));
  result.staleTimers = (previous?.timers ?? []).filter((t) => !plan.timers.includes(t));
  // Stop the timers of jobs that left the config while their unit files still exist.
  for (const argv of removeCommands(plan.mode, result.staleTimers).before) await run(argv);

  const dirs = [...(previous?.dirs ?? [])];
  const manifestFiles: ManifestFile[] = [];
  const previousByPath = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  if (!plan.root) fs.mkdirSync(path.dirname(plan.manifestPath), { recursive: true, mode: 0o700 });
  else dirs.push(...makeDirs(path.dirname(plan.manifestPath)).filter((d) => !dirs.includes(d)));

  for (const file of plan.files) {
    const target = onDisk(plan.root, file.path);
    const before = previousByPath.get(target);
    const current = fileHash(target);
    const wanted = sha256(file.content);
    if (file.kind === "env" && current !== null) {
      if (!before) {
        // Someone else's environment file: the services read it, holdfast never owns it.
        result.files.push({ path: target, action: "kept", note: "existing file, not written by holdfast" });
        continue;
      }
      if (current !== before.sha256) {
        result.files.push({ path: target, action: "kept", note: "edited since install; left as it is" });
        manifestFiles.push(before);
        continue;
      }
    }
    for (const d of makeDirs(path.dirname(target))) if (!dirs.includes(d)) dirs.push(d);
    if (current === wanted) {
      fs.chmodSync(target, file.mode);
      result.files.push({ path: target, action: "unchanged" });
    } else {
      writeFileAtomic(target, file.content, file.mode);
      result.files.push({ path: target, action: current === null ? "created" : "updated" });
    }
    manifestFiles.push({ path: target, sha256: wanted, mode: file.mode, kind: file.kind });
  }

  for (const file of stale) result.files.push(removeManifestFile(file));
  const stillNeeded = (d: string) =>
    manifestFiles.some((f) => f.path.startsWith(`${d}/`)) || plan.manifestPath.startsWith(`${d}/`);
  const removedDirs = new Set(removeEmptyDirs(dirs.filter((d) => !stillNeeded(d))));

  const manifest: InstallManifest = {
    version: MANIFEST_VERSION,
    mode: plan.mode,
    root: plan.root,
    config: plan.configPath,
    installed_at: new Date().toISOString(),
    files: manifestFiles,
    dirs: dirs.filter((d) => !removedDirs.has(d)),
    timers: plan.timers,
  };
  writeFileAtomic(plan.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, 0o600);

  for (const argv of installCommands(plan.mode, plan.timers)) await run(argv);
  return result;
}

function removeManifestFile(file: ManifestFile): FileOutcome {
  const current = fileHash(file.path);
  if (current === null) return { path: file.path, action: "removed", note: "already gone" };
  if (file.kind === "env" && current !== file.sha256) {
    // It may hold credentials the user added; deleting it would lose them.
    return {
      path: file.path,
      action: "left",
      note: "edited since install; delete it yourself if it is no longer needed",
    };
  }
  fs.rmSync(file.path, { force: true });
  return {
    path: file.path,
    action: "removed",
    ...(current !== file.sha256 ? { note: "had been edited since install" } : {}),
  };
}

export interface RemoveResult {
  manifestPath: string;
  found: boolean;
  files: FileOutcome[];
  removedDirs: string[];
  commands: string[][];
  ranCommands: boolean;
  errors: string[];
}

export async function applyRemove(
  manifestPath: string,
  mode: UnitMode,
  systemctl: SystemctlRunner | null,
): Promise<RemoveResult> {
  const result: RemoveResult = {
    manifestPath,
    found: false,
    files: [],
    removedDirs: [],
    commands: [],
    ranCommands: systemctl !== null,
    errors: [],
  };
  const manifest = readManifest(manifestPath);
  if (!manifest) return result;
  result.found = true;
  const run = async (argv: string[]) => {
    result.commands.push(argv);
    if (!systemctl) return;
    const error = await systemctl.run(argv.slice(1));
    if (error) result.errors.push(`${argv.join(" ")}: ${error}`);
  };
  const { before, after } = removeCommands(mode, manifest.timers);
  for (const argv of before) await run(argv);
  for (const file of manifest.files) result.files.push(removeManifestFile(file));
  fs.rmSync(manifestPath, { force: true });
  result.removedDirs = removeEmptyDirs(manifest.dirs);
  for (const argv of after) await run(argv);
  return result;
}

/** systemd is the running init (sd_booted(3)) and systemctl is on PATH. */
export function isSystemdRunning(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!fs.existsSync("/run/systemd/system")) return false;
  return (env.PATH ?? "")
    .split(path.delimiter)
    .some((dir) => dir && fs.existsSync(path.join(dir, "systemctl")));
}

export function createSystemctlRunner(mode: UnitMode, env: NodeJS.ProcessEnv = process.env): SystemctlRunner {
  const childEnv = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return {
    async run(args) {
      const result = await runProcess("systemctl", [...(mode === "user" ? ["--user"] : []), ...args], {
        env: childEnv,
        timeoutMs: 120_000,
        graceMs: 5_000,
      });
      if (result.exitCode === 0) return null;
      if (result.spawnError) return result.spawnError.message;
      return result.stderrTail.join(" ").trim() || `exit code ${result.exitCode}`;
    },
  };
}

/** Which of the jobs' timers are installed: from the manifests of both modes. */
export function installedTimers(
  installEnv: InstallEnv,
  root: string | null,
): Map<string, { mode: UnitMode; path: string }> {
  const found = new Map<string, { mode: UnitMode; path: string }>();
  for (const mode of ["system", "user"] as const) {
    const dir = onDisk(root, unitDirFor(mode, installEnv.env));
    let manifest: InstallManifest | null = null;
    try {
      manifest = readManifest(manifestPathFor(mode, root, installEnv.stateDir));
    } catch {
      manifest = null;
    }
    const names = new Set(manifest?.timers ?? []);
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      entries = [];
    }
    for (const name of entries) if (name.startsWith("holdfast@") && name.endsWith(".timer")) names.add(name);
    for (const name of names) {
      const file = path.join(dir, name);
      if (!found.has(name) && fs.existsSync(file)) found.set(name, { mode, path: file });
    }
  }
  return found;
}
