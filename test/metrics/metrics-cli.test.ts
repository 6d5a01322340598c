// `holdfast metrics` and the textfile through the built CLI, checked by promtool in every job state.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, runCli, startCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

function promtool(text: string): string {
  // promtool exits non-zero (and execFileSync throws with its complaint) on any format or lint problem.
  return execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
}

const stateOf = (text: string, job: string) =>
  [...text.matchAll(/^holdfast_job_state\{job="([^"]+)",state="([^"]+)"\} 1$/gm)].find(
    (m) => m[1] === job,
  )?.[2];

describe("holdfast metrics", () => {
  it("prints an exposition promtool accepts in the never, ok, warning, failed, stale and running states", async () => {
    const dir = makeTempDir();
    const textfile = path.join(dir, "node-exporter", "holdfast.prom");
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
jobs:
  good: { steps: [{ name: hello, type: exec, command: [echo, hi] }] }
  partial: { steps: [{ name: unreadable, type: exec, shell: "exit 3", warning_codes: [3] }] }
  broken:
    steps:
      - { name: boom, type: exec, shell: "exit 7" }
      - { name: later, type: exec, command: [echo, later] }
  overdue: { max_age: 1s, steps: [{ name: hello, type: exec, command: [echo, hi] }] }
  slow: { steps: [{ name: nap, type: exec, command: [sleep, "4"] }] }
metrics:
  textfile: ${textfile}
`,
    );
    const cli = (args: string[]) => runCli(["--config", config, ...args]);

    const before = await cli(["metrics"]);
    expect(before.code).toBe(0);
    expect(promtool(before.stdout)).toBe("");
    expect(stateOf(before.stdout, "good")).toBe("never");

    expect((await cli(["run", "good", "-q"])).code).toBe(0);
    // Every run rewrites the textfile: 0644, no temp file left beside it.
    expect(fs.statSync(textfile).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(path.dirname(textfile))).toEqual(["holdfast.prom"]);
    expect(promtool(fs.readFileSync(textfile, "utf8"))).toBe("");
    expect(stateOf(fs.readFileSync(textfile, "utf8"), "good")).toBe("ok");

    expect((await cli(["run", "partial", "-q"])).code).toBe(3);
    expect((await cli(["run", "broken", "-q"])).code).toBe(1);
    expect((await cli(["run", "overdue", "-q"])).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    const slow = startCli(["--config", config, "run", "slow", "-q"]);
    const slowDone = collect(slow);
    let during = "";
    for (let i = 0; i < 40 && stateOf(during, "slow") !== "running"; i++) {
      during = (await cli(["metrics"])).stdout;
      if (stateOf(during, "slow") !== "running") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stateOf(during, "slow")).toBe("running");
    expect(during).toMatch(/^holdfast_job_running\{job="slow"\} 1$/m);
    expect(promtool(during)).toBe("");
    expect((await slowDone).code).toBe(0);

    const after = (await cli(["metrics"])).stdout;
    expect(promtool(after)).toBe("");
    expect(stateOf(after, "good")).toBe("ok");
    expect(stateOf(after, "partial")).toBe("warning");
    expect(stateOf(after, "broken")).toBe("failed");
    expect(stateOf(after, "overdue")).toBe("stale");
    expect(after).toMatch(/^holdfast_job_stale\{job="overdue"\} 1$/m);
    expect(after).toMatch(/^holdfast_job_last_run_status\{job="broken",status="failed"\} 1$/m);
    expect(after).toMatch(/^holdfast_job_last_run_exit_code\{job="partial"\} 3$/m);
    expect(after).toMatch(/^holdfast_step_last_status\{job="broken",step="later",status="skipped"\} 1$/m);
    expect(after).not.toMatch(/run_id|01[0-9A-HJKMNP-TV-Z]{24}/);

    // --write puts the same exposition in the textfile.
    fs.rmSync(textfile);
    expect((await cli(["metrics", "--write"])).code).toBe(0);
    expect(promtool(fs.readFileSync(textfile, "utf8"))).toBe("");
  });
});
