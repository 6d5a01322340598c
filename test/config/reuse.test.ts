// Writing a config once (issue 17 item 3): YAML anchors under x- keys, merge keys, and `defaults:`
// for jobs, every step, and the steps of one type — with errors that point at the line where the
// wrong value is written (in the anchor, or in defaults), through the built CLI.
import { describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

const config = (dir: string, body: string) =>
  writeConfig(dir, `version: 1\nstate_dir: ${dir}/state\n${body}`);

interface ShownStep {
  name: string;
  timeout: number;
  retries: number;
  env: Record<string, string>;
  cwd?: string;
}
interface Shown {
  jobs: Record<string, { max_age?: number; warnings: string; steps: ShownStep[] }>;
}

describe("merge keys, x- anchors and defaults", () => {
  it("fills what a job or step does not set, and what it sets wins", async () => {
    const dir = makeTempDir();
    const file = config(
      dir,
      `x-quick: &quick
  type: exec
  timeout: 5m
defaults:
  job: { max_age: 26h, warnings: fail }
  step: { retries: 2, env: { LANG: C.UTF-8, TZ: UTC } }
  exec: { cwd: ${dir} }
jobs:
  a:
    steps:
      - <<: *quick
        name: one
        command: ["true"]
        env: { TZ: Europe/Berlin }
      - { name: two, type: exec, command: ["true"], retries: 0, timeout: 1h, cwd: /srv }
  b:
    max_age: 8d
    steps:
      - <<: *quick
        name: three
        command: ["true"]
`,
    );
    const shown = await runCli(["--config", file, "config", "show", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const { jobs } = parseJson<Shown>(shown);
    expect(jobs.a!.max_age).toBe(26 * 3_600_000);
    expect(jobs.a!.warnings).toBe("fail");
    expect(jobs.b!.max_age).toBe(8 * 86_400_000);
    const [one, two] = jobs.a!.steps;
    expect(one).toMatchObject({ name: "one", timeout: 300_000, retries: 2, cwd: dir });
    expect(one!.env).toEqual({ TZ: "Europe/Berlin", LANG: "C.UTF-8" });
    expect(two).toMatchObject({ name: "two", timeout: 3_600_000, retries: 0, cwd: "/srv" });
    expect(jobs.b!.steps[0]).toMatchObject({ name: "three", timeout: 300_000, retries: 2 });
  });

  it("points an error at the anchor or the default that holds the wrong value (exit 2)", async () => {
    const dir = makeTempDir();
    const file = config(
      dir,
      `x-quick: &quick
  type: exec
  timeout: 5x
defaults:
  exec: { cwd: 7 }
  step: { name: nope }
  bakup: { tags: [a] }
jobs:
  a:
    steps:
      - <<: *quick
        name: one
        command: ["true"]
`,
    );
    const result = await runCli(["--config", file, "config", "validate"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n");
    const line = (needle: string) => lines.find((l) => l.includes(needle)) ?? "";
    expect(line('"5x" is not a duration')).toMatch(/holdfast\.yaml:5:12\s+jobs\.a\.steps\[0\]\.timeout/);
    expect(line("set by defaults.exec.cwd")).toMatch(/holdfast\.yaml:7:16\s+jobs\.a\.steps\[0\]\.cwd/);
    expect(line('"name" cannot be a default of every step')).toMatch(/holdfast\.yaml:8:/);
    expect(line('unknown key "bakup" in defaults')).toContain('did you mean "backup"?');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
