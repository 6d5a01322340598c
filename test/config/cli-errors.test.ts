// A job, step, repository or source name that the config does not define, given on the command
// line: exit 2 (usage), nothing run, and the close name suggested — `holdfast run backup-jb` says
// did you mean "backup-job" — with the names there are as the hint. One error for every command.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI, runCli } from "../helpers/cli.js";

let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-unknown-names-"));
  fs.writeFileSync(path.join(dir, "pass"), "correct horse battery staple\n", { mode: 0o600 });
  fs.mkdirSync(path.join(dir, "data"));
  fs.writeFileSync(
    path.join(dir, "holdfast.yaml"),
    [
      "version: 1",
      "repositories:",
      `  local: { url: ${dir}/repo, password_file: ${dir}/pass }`,
      "sources:",
      `  home: { paths: [${dir}/data] }`,
      "jobs:",
      "  backup-job:",
      "    steps:",
      "      - { name: hello, type: exec, command: [echo, hello] }",
      "      - { name: local, type: exec, command: [echo, local] }",
      "  offsite:",
      "    steps:",
      "      - { name: hi, type: exec, command: [echo, hi] }",
      "",
    ].join("\n"),
  );
  env = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, "config"),
    XDG_STATE_HOME: path.join(dir, "state"),
    HOLDFAST_CONFIG: path.join(dir, "holdfast.yaml"),
  };
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("a name the config does not define", () => {
  test.each([
    [
      ["run", "backup-jb"],
      'no job named "backup-jb"; did you mean "backup-job"?',
      "jobs in the config: backup-job, offsite",
    ],
    [
      ["history", "ofsite"],
      'no job named "ofsite"; did you mean "offsite"?',
      "jobs in the config: backup-job, offsite",
    ],
    [
      ["run", "backup-job", "--step", "lcal"],
      'no step of job "backup-job" named "lcal"; did you mean "local"?',
      "its steps: hello, local",
    ],
    [
      ["snapshots", "lokal"],
      'no repository named "lokal"; did you mean "local"?',
      "repositories in the config: local",
    ],
    [
      ["snapshots", "--source", "hom"],
      'no source named "hom"; did you mean "home"?',
      "sources in the config: home",
    ],
  ])("holdfast %j", async (args, message, hint) => {
    const result = await runCli(args, { env });
    expect(result.stderr).toBe(`error: ${message}\nhint: ${hint}\n`);
    expect(result.code).toBe(2);
    expect(fs.existsSync(path.join(dir, "state/holdfast/logs"))).toBe(false);
  });

  test("a name close to none is not guessed at", async () => {
    const result = await runCli(["run", "zzzzzzzz"], { env });
    expect(result.stderr).toBe(
      'error: no job named "zzzzzzzz"\nhint: jobs in the config: backup-job, offsite\n',
    );
    expect(result.code).toBe(2);
  });
});

describe("colour follows each stream", () => {
  // stdout on a terminal (script(1) gives it one), stderr into a file: the file gets no ANSI codes,
  // while the terminal's own error line (the same command without the redirect) is coloured.
  const onTerminal = (command: string) =>
    spawnSync("script", ["-qec", command, "/dev/null"], {
      encoding: "utf8",
      env: { ...process.env, ...env, NO_COLOR: undefined, TERM: "xterm" },
    });

  test("an error line redirected to a file has no colour although stdout is a terminal", () => {
    const file = path.join(dir, "err.log");
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`;
    const redirected = onTerminal(`${cli} run nope 2>${JSON.stringify(file)}`);
    expect(redirected.status).toBe(2);
    expect(fs.readFileSync(file, "utf8")).toBe(
      'error: no job named "nope"\nhint: jobs in the config: backup-job, offsite\n',
    );
    const both = onTerminal(`${cli} run nope`);
    expect(both.stdout).toContain("\x1b[31merror\x1b[0m: no job named");
  });
});
