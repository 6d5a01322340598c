import { ConfigError, formatConfigIssue } from "../../errors.js";
import { findConfigFile, loadConfigFile } from "../../config/load.js";
import type { GlobalOptions } from "../context.js";
import { color, printJson } from "../output.js";
import { UsageError } from "../../errors.js";

export default async function validate(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const file = findConfigFile({ configPath: global.config });
  if (!file)
    throw new UsageError("no config file found", "create one with `holdfast init`, or pass --config PATH");
  try {
    const config = loadConfigFile(file);
    // Options the installed restic lacks (skip_if_unchanged needs 0.17) make the config invalid here.
    const { refuseUnsupportedOptions } = await import("../restic-preflight.js");
    await refuseUnsupportedOptions(config);
    const jobs = Object.values(config.jobs);
    if (flags.json) printJson({ file, valid: true, problems: [], jobs: jobs.map((j) => j.name) });
    else {
      process.stdout.write(
        `${color.green("ok")}: ${file} — ${jobs.length} job${jobs.length === 1 ? "" : "s"} (${jobs.map((j) => `${j.name}: ${j.steps.length} steps`).join(", ")}), ` +
          `${Object.keys(config.repositories).length} repositories, ${Object.keys(config.sources).length} sources\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError && flags.json) {
      printJson({ file, valid: false, problems: err.issues });
      return 2;
    }
    if (err instanceof ConfigError) {
      for (const issue of err.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
      process.stderr.write(
        `${color.red("error")}: ${err.issues.length} problem${err.issues.length === 1 ? "" : "s"} in ${file}\n`,
      );
      return 2;
    }
    throw err;
  }
}
