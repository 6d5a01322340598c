import os from "node:os";
import { UsageError } from "../../errors.js";
import {
  applyInstall,
  createSystemctlRunner,
  findConflicts,
  installCommands,
  isSystemdRunning,
  onDisk,
  planInstall,
  readManifest,
  InstallConflictError,
} from "../../scheduler/install.js";
import { resolveHoldfastCommand } from "../../scheduler/holdfast-command.js";
import { installWarnings, lingerEnabled } from "../../scheduler/install-checks.js";
import { quoteArgv } from "../../util/shell-quote.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { errColor, printJson } from "../output.js";
import { resolveMode, resolveRoot, WATCH_ARGS, type ModeFlags } from "./schedule-shared.js";

interface InstallFlags extends ModeFlags {
  dryRun?: boolean;
  json?: boolean;
}

export default async function scheduleInstall(global: GlobalOptions, flags: InstallFlags): Promise<number> {
  const mode = resolveMode(flags);
  const root = resolveRoot(flags);
  const { config } = loadCliConfig(global);

  const plan = planInstall(config, {
    mode,
    root,
    command: resolveHoldfastCommand(),
    watchArgs: [...WATCH_ARGS],
    installEnv: { env: process.env, stateDir: config.state_dir },
  });
  const user = os.userInfo().username;
  // With --root the units are for another system, whose lingering this one cannot see.
  const warnings = installWarnings({
    mode,
    config,
    user,
    lingerEnabled: root !== null || lingerEnabled(user),
  });
  const notes: string[] = [];
  if (mode === "user") {
    for (const job of Object.values(config.jobs)) {
      if (job.user || job.group) {
        notes.push(
          `job ${job.name}: user/group are left out of user units (a user manager runs everything as you); use --system for them`,
        );
      }
    }
  }
  if (plan.timers.length === 1) notes.push("no job has a schedule: only the freshness check gets a timer");

  if (flags.dryRun) {
    const conflicts = findConflicts(plan, readManifest(plan.manifestPath));
    if (flags.json) {
      printJson({
        dry_run: true,
        mode,
        root,
        unit_dir: plan.unitDir,
        manifest: plan.manifestPath,
        files: plan.files.map((f) => ({
          path: onDisk(root, f.path),
          mode: `0${f.mode.toString(8)}`,
          content: f.content,
        })),
        timers: plan.timers,
        commands: installCommands(mode, plan.timers),
        conflicts,
        warnings,
        notes,
      });
    } else {
      for (const f of plan.files) {
        process.stdout.write(`# ${onDisk(root, f.path)} (0${f.mode.toString(8)})\n${f.content}\n`);
      }
      process.stdout.write(`# then: ${installCommands(mode, plan.timers).map(quoteArgv).join(" && ")}\n`);
      for (const note of notes) process.stderr.write(`note: ${note}\n`);
      for (const w of warnings) process.stderr.write(`${errColor.yellow("warning")}: ${w}\n`);
      for (const c of conflicts)
        process.stderr.write(`${errColor.red("conflict")}: ${c} exists and was not written by holdfast\n`);
      process.stderr.write("dry run: nothing was written\n");
    }
    return conflicts.length > 0 ? 2 : 0;
  }

  const systemctl = root === null && isSystemdRunning() ? createSystemctlRunner(mode) : null;
  let result;
  try {
    result = await applyInstall(plan, systemctl);
  } catch (err) {
    if (err instanceof InstallConflictError) {
      throw new UsageError(
        err.message,
        "holdfast only overwrites files it wrote itself; move them away (or delete them) and install again",
      );
    }
    throw err;
  }

  if (flags.json) {
    printJson({
      dry_run: false,
      mode,
      root,
      unit_dir: plan.unitDir,
      manifest: plan.manifestPath,
      files: result.files.map((f) => ({ path: f.path, action: f.action, note: f.note ?? null })),
      timers: plan.timers,
      stale_timers: result.staleTimers,
      commands: result.commands,
      ran_commands: result.ranCommands,
      errors: result.errors,
      warnings,
      notes,
    });
  } else {
    const out = process.stdout;
    out.write(`${mode} units for ${config.file ?? "the config"}${root ? ` under ${root}` : ""}:\n`);
    for (const f of result.files)
      out.write(`  ${f.action.padEnd(9)} ${f.path}${f.note ? `  (${f.note})` : ""}\n`);
    for (const note of notes) out.write(`note: ${note}\n`);
    for (const w of warnings) process.stderr.write(`${errColor.yellow("warning")}: ${w}\n`);
    if (result.ranCommands) {
      for (const argv of result.commands) out.write(`ran: ${quoteArgv(argv)}\n`);
    } else {
      out.write(
        root
          ? "--root given: nothing was enabled. On the target system, run:\n"
          : "systemd is not running here: nothing was enabled. Where systemd runs these units, run:\n",
      );
      for (const argv of result.commands) out.write(`  ${quoteArgv(argv)}\n`);
    }
    out.write(
      `manifest: ${plan.manifestPath} (\`holdfast schedule remove${flagsText(flags, root)}\` undoes this install)\n`,
    );
  }
  for (const error of result.errors) process.stderr.write(`${errColor.red("error")}: ${error}\n`);
  return result.errors.length > 0 ? 1 : 0;
}

function flagsText(flags: ModeFlags, root: string | null): string {
  return `${flags.user ? " --user" : ""}${flags.system ? " --system" : ""}${root ? ` --root ${quoteArgv([root])}` : ""}`;
}
