// Shared by the step integration tests: write a config, run a job through the built CLI, read the run.
import fs from "node:fs";
import path from "node:path";
import { parseJson, runCli, type CliResult } from "../helpers/cli.js";
import { writeConfig } from "../helpers/tmp.js";

export interface RunOutput {
  cli: CliResult;
  run: any;
  step(name: string): any;
}

/** Writes holdfast.yaml (state under dir/state) with the given jobs block and runs JOB with --json. */
export async function runJobWith(
  dir: string,
  body: string,
  job = "j",
  extraArgs: string[] = [],
): Promise<RunOutput> {
  const config = writeConfig(dir, `version: 1\nstate_dir: ${path.join(dir, "state")}\n${body}`);
  const cli = await runCli(["--config", config, "run", job, "--json", ...extraArgs]);
  const run = parseJson(cli);
  return {
    cli,
    run,
    step(name: string) {
      const found = run.steps.find((s: any) => s.name === name);
      if (!found) throw new Error(`no step ${name} in run: ${cli.stdout}`);
      return found;
    },
  };
}

export interface TreeEntry {
  type: "file" | "dir" | "link";
  mode: number;
  content?: string;
  target?: string;
}

/** Every entry below dir by relative path, with type, mode and content, for comparing two trees. */
export function readTree(dir: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const visit = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, relPath);
      const st = fs.lstatSync(abs);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out[relPath] = { type: "link", mode: 0, target: fs.readlinkSync(abs) };
      else if (st.isDirectory()) {
        out[relPath] = { type: "dir", mode };
        visit(relPath);
      } else out[relPath] = { type: "file", mode, content: fs.readFileSync(abs).toString("base64") };
    }
  };
  visit("");
  return out;
}

/** Quotes a string for YAML (double-quoted scalar). */
export function yamlString(text: string): string {
  return JSON.stringify(text);
}
