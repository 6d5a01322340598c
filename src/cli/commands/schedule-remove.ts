import { UsageError } from "../../errors.js";
import {
  applyRemove,
  createSystemctlRunner,
  isSystemdRunning,
  manifestPathFor,
} from "../../scheduler/install.js";
import { defaultStateDir, findConfigFile, loadConfigFile } from "../../config/load.js";
import { quoteArgv } from "../../util/shell-quote.js";
import type { GlobalOptions } from "../context.js";
import { errColor, printJson } from "../output.js";
import { resolveMode, resolveRoot, type ModeFlags } from "./schedule-shared.js";

interface RemoveFlags extends ModeFlags {
  json?: boolean;
}

export default async function scheduleRemove(global: GlobalOptions, flags: RemoveFlags): Promise<number> {
  const mode = resolveMode(flags);
  const root = resolveRoot(flags);
  // With --root the manifest is inside DIR; otherwise in the state dir, which the config may move.
  let stateDir = defaultStateDir();
  if (!root) {
    const file = findConfigFile({ configPath: global.config });
    try {
      if (file) stateDir = loadConfigFile(file).state_dir;
    } catch {
      // A config that no longer loads must not keep its units installed; its state_dir is a guess then.
      process.stderr.write(`warning: ${file} does not load; looking for the install record in ${stateDir}\n`);
    }
  }
  const manifestPath = manifestPathFor(mode, root, stateDir);
  const systemctl = root === null && isSystemdRunning() ? createSystemctlRunner(mode) : null;
  const result = await applyRemove(manifestPath, mode, systemctl);
  if (!result.found) {
    throw new UsageError(
      `no ${mode} install recorded (${manifestPath} does not exist)`,
      mode === "system"
        ? "was it installed with --user, or with --root DIR?"
        : "was it installed with --system, or with --root DIR?",
    );
  }
  if (flags.json) {
    printJson({
      mode,
      root,
      manifest: manifestPath,
      files: result.files.map((f) => ({ path: f.path, action: f.action, note: f.note ?? null })),
      removed_dirs: result.removedDirs,
      commands: result.commands,
      ran_commands: result.ranCommands,
      errors: result.errors,
    });
  } else {
    const out = process.stdout;
    for (const f of result.files)
      out.write(`  ${f.action.padEnd(8)} ${f.path}${f.note ? `  (${f.note})` : ""}\n`);
    for (const d of result.removedDirs) out.write(`  removed  ${d}/\n`);
    if (result.ranCommands) for (const argv of result.commands) out.write(`ran: ${quoteArgv(argv)}\n`);
    else if (!root) {
      out.write("systemd is not running here; where it runs these units, run:\n");
      for (const argv of result.commands) out.write(`  ${quoteArgv(argv)}\n`);
    }
  }
  for (const error of result.errors) process.stderr.write(`${errColor.red("error")}: ${error}\n`);
  return result.errors.length > 0 ? 1 : 0;
}
