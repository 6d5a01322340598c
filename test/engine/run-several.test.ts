// `holdfast run JOB…` and `run --all` (issue 17 item 3): jobs in order, each under its own lock, a
// summary table, and the worst exit code — a busy job is reported and the next one still runs.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

function jobsConfig(dir: string): string {
  return writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
jobs:
  first: { steps: [ { name: one, type: exec, command: [sh, -c, "echo first >> ${dir}/order"] } ] }
  broken: { steps: [ { name: two, type: exec, command: [sh, -c, "echo broken >> ${dir}/order; exit 1"] } ] }
  slow: { steps: [ { name: three, type: exec, command: [sh, -c, "echo slow >> ${dir}/order; sleep 20"] } ] }
  last: { steps: [ { name: four, type: exec, command: [sh, -c, "echo last >> ${dir}/order"] } ] }
`,
  );
}

describe("run several jobs", () => {
  it("runs the named jobs in the order given and exits with the worst code, with a summary", async () => {
    const dir = makeTempDir();
    const file = jobsConfig(dir);
    const result = await runCli(["--config", file, "run", "last", "broken", "first"]);
    expect(result.code).toBe(1);
    expect(fs.readFileSync(path.join(dir, "order"), "utf8")).toBe("last\nbroken\nfirst\n");
    expect(result.stdout).toMatch(/JOB\s+STATUS\s+DURATION\s+EXIT/);
    expect(result.stdout).toMatch(/broken\s+failed\s+\S+\s+1/);
    expect(result.stdout).toContain("3 of 3 jobs run, exit 1");

    const history = await runCli(["--config", file, "history", "--json"]);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.stringify(parseJson(history))).toContain('"job":"broken"');
  });

  it("--all reports a busy job (exit 4 for it) and still runs the ones after it; --json is one document", async () => {
    const dir = makeTempDir();
    const file = jobsConfig(dir);
    // `slow` is running already, from another holdfast.
    const holder = spawn(process.execPath, [CLI, "--config", file, "run", "slow"], { stdio: "ignore" });
    try {
      const deadline = Date.now() + 15_000;
      while (!fs.existsSync(path.join(dir, "order")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const result = await runCli(["--config", file, "run", "--all", "--json"]);
      const report = parseJson<{
        exit_code: number;
        runs: { job: string; exit_code: number; error: string | null }[];
      }>(result);
      expect(report.runs.map((r) => [r.job, r.exit_code])).toEqual([
        ["first", 0],
        ["broken", 1],
        ["slow", 4],
        ["last", 0],
      ]);
      expect(report.runs[2]!.error).toContain(String(holder.pid));
      // Failed is worse than busy.
      expect(report.exit_code).toBe(1);
      expect(result.code).toBe(1);
    } finally {
      holder.kill("SIGTERM");
      await new Promise((r) => holder.once("exit", r));
    }
  });

  it("refuses --all with names, a job named twice and --step across jobs (exit 2)", async () => {
    const dir = makeTempDir();
    const file = jobsConfig(dir);
    for (const args of [
      ["run", "--all", "first"],
      ["run", "first", "first"],
      ["run", "first", "last", "--step", "one"],
    ]) {
      const result = await runCli(["--config", file, ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/hint: /);
    }
    expect(fs.existsSync(path.join(dir, "order"))).toBe(false);
  });
});
