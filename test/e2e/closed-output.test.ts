// Output is best effort (issue 12 item 5): a reader that goes away — `holdfast run | head`, a pager
// quit, journald restarted — never stops a run and never prints a stack trace. Every command is run
// with its stdout (or stderr) already closed, through the built CLI.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI, parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";
import { STACK_TRACE, waitFor } from "../helpers/reliability.js";

const CHILD_ENV = { ...process.env, NO_COLOR: "1", HOLDFAST_CONFIG: undefined, XDG_CACHE_HOME: "" };

interface ClosedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs the CLI with stdout (or stderr) closed by its reader: at once, or after the first `afterBytes`
 * bytes arrived. The other stream is collected.
 */
function runWithClosed(
  args: string[],
  which: "stdout" | "stderr",
  options: { afterBytes?: number; cwd: string },
): Promise<ClosedResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...CHILD_ENV, XDG_CACHE_HOME: path.join(options.cwd, "cache") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const closed = which === "stdout" ? child.stdout : child.stderr;
  const open = which === "stdout" ? child.stderr : child.stdout;
  let seen = 0;
  let kept = "";
  if (!options.afterBytes) closed.destroy();
  else
    closed.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen >= (options.afterBytes ?? 0)) closed.destroy();
    });
  open.setEncoding("utf8").on("data", (d: string) => (kept += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stderr: which === "stdout" ? kept : "",
        stdout: which === "stderr" ? kept : "",
      });
    }),
  );
}

function setup(dir = makeTempDir("holdfast-closed-")): { dir: string; config: string } {
  const repo = path.join(dir, "repo");
  fs.writeFileSync(path.join(dir, "pw"), "closed-output-test-password\n", { mode: 0o600 });
  execFileSync("restic", ["init", "--repo", repo, "--password-file", path.join(dir, "pw")], {
    stdio: "pipe",
  });
  fs.mkdirSync(path.join(dir, "data"));
  fs.writeFileSync(path.join(dir, "data", "a.txt"), "a\n");
  const config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
host: testhost
repositories:
  local: { url: ${repo}, password_file: ${dir}/pw }
sources:
  data: { paths: [${dir}/data] }
jobs:
  j:
    max_age: 1h
    steps:
      - { name: loud, type: exec, command: [sh, -c, "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; sleep 0.5; echo done"] }
      - { name: backup, type: backup, source: data, repos: [local] }
      - { name: after, type: exec, command: [echo, after] }
`,
  );
  return { dir, config };
}

describe("a closed stdout or stderr", () => {
  test("run: the run goes on to its end and is recorded as it ends, without a stack trace", async () => {
    const { dir, config } = setup();
    for (const which of ["stdout", "stderr"] as const) {
      // stderr carries the run's lines with --json; stdout with the human view.
      const args = which === "stdout" ? ["--config", config, "run"] : ["--config", config, "run", "--json"];
      const result = await runWithClosed(args, which, { afterBytes: 1, cwd: dir });
      expect(result.signal).toBeNull();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr + result.stdout).not.toMatch(STACK_TRACE);
      expect(result.stderr + result.stdout).not.toMatch(/EPIPE|internal error/);
      const last = parseJson(await runCli(["--config", config, "show", "latest", "--json"], { cwd: dir }));
      expect(last.status).toBe("succeeded");
      expect(last.steps.map((s: { status: string }) => s.status)).toEqual([
        "succeeded",
        "succeeded",
        "succeeded",
      ]);
    }
  });

  // One test per command (69 CLI runs in one test outlived its timeout on a loaded machine, and the
  // temp dir was removed under the commands still running); the run they read is made once.
  describe("every read command exits as it would with an open pipe, without a stack trace", () => {
    let shared: { dir: string; config: string };
    beforeAll(async () => {
      shared = setup(fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-closed-read-")));
      const run = await runCli(["--config", shared.config, "run", "--quiet"], { cwd: shared.dir });
      expect(run.code, run.stderr).toBe(0);
    });
    afterAll(() => fs.rmSync(shared.dir, { recursive: true, force: true }));
    const commands = [
      ["status"],
      ["status", "--json"],
      ["status", "--check"],
      ["history"],
      ["history", "--json"],
      ["show", "latest"],
      ["show", "latest", "--json"],
      ["logs", "latest"],
      ["snapshots"],
      ["snapshots", "--json"],
      ["config", "show"],
      ["config", "show", "--json"],
      ["config", "validate"],
      ["config", "schema"],
      ["metrics"],
      ["watch"],
      ["watch", "--json"],
      ["doctor"],
      ["schedule", "list"],
      ["schedule", "next", "daily"],
      ["run", "--dry-run"],
      ["--help"],
      ["nosuchcommand"],
    ];
    test.each(commands.map((c) => [c.join(" "), c]))("%s", async (_name, command) => {
      const { dir, config } = shared;
      const args = ["--config", config, ...command];
      const open = await runCli(args, { cwd: dir });
      for (const which of ["stdout", "stderr"] as const) {
        const closed = await runWithClosed(args, which, { cwd: dir });
        const label = `${command.join(" ")} with ${which} closed`;
        expect(closed.signal, label).toBeNull();
        expect(closed.code, `${label}\n${closed.stderr}`).toBe(open.code);
        expect(closed.stderr + closed.stdout, label).not.toMatch(STACK_TRACE);
        expect(closed.stderr + closed.stdout, label).not.toMatch(/EPIPE|internal error/);
      }
    });

    test("--version", async () => {
      const version = await runWithClosed(["--version"], "stdout", { cwd: shared.dir });
      expect(version.code).toBe(0);
      expect(version.stderr).not.toMatch(STACK_TRACE);
    });
  });

  test("logs --follow stops when its reader goes away, not when the run ends", async () => {
    const dir = makeTempDir("holdfast-closed-");
    const config = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(
      config,
      `version: 1
state_dir: ${dir}/state
jobs:
  slow:
    steps:
      - { name: talk, type: exec, command: [sh, -c, "while :; do echo tick; sleep 0.1; done"] }
`,
    );
    const run = spawn(process.execPath, [CLI, "--config", config, "run", "--quiet"], {
      cwd: dir,
      env: CHILD_ENV,
      stdio: "ignore",
    });
    try {
      await waitFor(() => fs.existsSync(path.join(dir, "state", "logs")), 20_000, "the run to start");
      const follow = await runWithClosed(["--config", config, "logs", "latest", "--follow"], "stdout", {
        afterBytes: 1,
        cwd: dir,
      });
      expect(follow.code).toBe(0);
      expect(follow.stderr).not.toMatch(STACK_TRACE);
      expect(run.exitCode).toBeNull();
    } finally {
      run.kill("SIGTERM");
      await new Promise((r) => run.on("close", r));
    }
  });
});
