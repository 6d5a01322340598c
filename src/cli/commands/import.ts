// holdfast import autorestic|resticprofile FILE: writes a holdfast config translated from the other
// tool's (src/import/), each part commented with where it came from, and prints the report — secrets
// to put in place, templates not resolved, fields not mapped and why. --check then runs this
// holdfast on the new file: `config validate` and `run --all --dry-run`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { UsageError } from "../../errors.js";
import { IMPORT_TOOLS, importFile, renderConfig, reportLines, type ImportTool } from "../../import/index.js";
import { resolveHoldfastCommand } from "../../scheduler/holdfast-command.js";
import { writeFileAtomic } from "../../util/atomic-write.js";
import { runProcess } from "../../util/process.js";
import type { GlobalOptions } from "../context.js";
import { color, errColor, printJson } from "../output.js";

interface ImportFlags {
  output?: string;
  secretsDir?: string;
  force?: boolean;
  check?: boolean;
  json?: boolean;
}

export default async function importCommand(
  _global: GlobalOptions,
  tool: string,
  file: string,
  flags: ImportFlags,
): Promise<number> {
  if (!(IMPORT_TOOLS as readonly string[]).includes(tool))
    throw new UsageError(`cannot import from "${tool}"`, `use one of: ${IMPORT_TOOLS.join(", ")}`);
  const toStdout = flags.output === "-";
  const output = toStdout ? null : path.resolve(flags.output ?? "holdfast.yaml");
  if (toStdout && flags.check)
    throw new UsageError("--check needs the config written to a file", "pass --output FILE with --check");
  if (output && fs.existsSync(output) && !flags.force)
    throw new UsageError(`${output} exists`, "pass --output ANOTHER-FILE, or --force to replace it");
  const secretsDir = path.resolve(
    flags.secretsDir ?? path.join(output ? path.dirname(output) : process.cwd(), "secrets"),
  );
  const result = importFile(tool as ImportTool, {
    file: path.resolve(file),
    secretsDir,
    hostname: os.hostname(),
    cwd: process.cwd(),
    home: os.homedir(),
  });
  const text = renderConfig(result, new Date().toISOString().slice(0, 10));
  if (output) {
    try {
      await writeFileAtomic(output, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new UsageError(
        `cannot write ${output} (${code === "ENOENT" ? `no directory ${path.dirname(output)}` : code})`,
        code === "EISDIR"
          ? "--output names a directory: name the file, e.g. DIR/holdfast.yaml"
          : "pass --output FILE in a directory you can write (or - for stdout)",
      );
    }
  } else process.stdout.write(text);

  const counts = (key: string) => Object.keys((result.config[key] as object | undefined) ?? {}).length;
  if (flags.json && output) {
    printJson({
      tool,
      file: result.file,
      output,
      repositories: counts("repositories"),
      sources: counts("sources"),
      jobs: Object.keys((result.config.jobs as object | undefined) ?? {}),
      secrets: result.secrets,
      unresolved: result.unresolved,
      unmapped: result.unmapped,
      notes: result.notes,
    });
  } else {
    const err = process.stderr;
    err.write(
      `${color.green("imported")} ${result.file} (${tool}) → ${output ?? "stdout"}: ${counts("repositories")} repositories, ${counts("sources")} sources, ${counts("jobs")} jobs\n`,
    );
    if (counts("jobs") === 0)
      err.write(
        `${color.yellow("warning")}: no job could be made from ${result.file}: see what was not mapped and why below\n`,
      );
    for (const line of reportLines(result)) err.write(`${line}\n`);
  }
  if (!flags.check || !output) return 0;

  // The new config, checked by this holdfast as a user would: validate, then every job's plan.
  const [node, main] = resolveHoldfastCommand();
  let worst = 0;
  for (const args of [
    ["config", "validate"],
    ["run", "--all", "--dry-run"],
  ]) {
    process.stderr.write(`${errColor.dim(`$ holdfast --config ${output} ${args.join(" ")}`)}\n`);
    const r = await runProcess(node!, [main!, "--config", output, ...args], {
      env: Object.fromEntries(
        Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
      ),
      terminal: true,
    });
    const code = r.exitCode ?? 1;
    worst = Math.max(worst, code);
    if (code !== 0) break;
  }
  return worst;
}
