// The restic commands of the CLI: the quickstart on a fresh machine (no config), init, doctor,
// unlock, and the usage errors of snapshots/restore.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  writePassword,
  writeSampleTree,
} from "../helpers/restic-backends.js";

let root: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-cli-");
});
afterAll(() => removeDir(root));

/** An environment where holdfast finds no config file and keeps its state in the test's directory. */
function freshMachine(name: string) {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, "home"), { recursive: true });
  const env = {
    HOME: path.join(dir, "home"),
    XDG_STATE_HOME: path.join(dir, "state"),
    XDG_CONFIG_HOME: path.join(dir, "config"),
  };
  return { dir, env, run: (args: string[]) => runCli(args, { cwd: dir, env, timeoutMs: 120_000 }) };
}

describe("quickstart: the embedded job on a machine without a config file", () => {
  it("the first `holdfast run` backs up the sample folder into a local repository; `holdfast status` shows it", async () => {
    const m = freshMachine("quickstart");
    const first = await m.run(["run"]);
    expectExit(first, 0);
    expect(first.stdout).toMatch(/quickstart: created a sample folder/);
    expect(first.stdout).toMatch(/quickstart: generated the repository password: .*\(mode 0600\)/);
    expect(first.stdout).toMatch(/quickstart: creating the restic repository/);
    expect(first.stdout).toMatch(/hello from holdfast/);
    const base = path.join(m.env.XDG_STATE_HOME, "holdfast", "quickstart");
    expect(fs.statSync(path.join(base, "secrets", "local.pass")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(base, "secrets")).mode & 0o777).toBe(0o700);

    // Idempotent: the second run prepares nothing and makes a second snapshot.
    const second = await m.run(["run", "--json"]);
    expectExit(second, 0);
    expect(second.stderr).not.toMatch(/quickstart: created/);
    const run = parseJson(second);
    expect(run.job).toBe("main");
    expect(run.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ["hello", "succeeded"],
      ["backup", "succeeded"],
    ]);
    expect(run.steps[1].targets[0]).toMatchObject({
      repo: "local",
      status: "succeeded",
      total_files_processed: 4,
    });

    const status = await m.run(["status", "--json"]);
    expectExit(status, 0);
    const job = parseJson(status).jobs[0];
    expect(job).toMatchObject({ name: "main", state: "ok" });
    expect(job.steps.map((s: { name: string }) => s.name)).toEqual(["hello", "backup"]);
    const snaps = parseJson(await m.run(["snapshots", "--json"]));
    expect(snaps.repositories[0].snapshots).toHaveLength(2);
  });
});

describe("init", () => {
  it("writes a starter config with a 0600 password in a 0700 secrets dir, creates the repository, and is idempotent", async () => {
    const m = freshMachine("init");
    writeSampleTree(path.join(m.env.HOME, "docs"));
    const cfgDir = path.join(m.dir, "etc");
    const init = await m.run(["init", "--dir", cfgDir, "--yes", "--json"]);
    expectExit(init, 0);
    const out = parseJson(init);
    expect(out).toMatchObject({ config: path.join(cfgDir, "holdfast.yaml"), config_created: true });
    expect(out.repositories).toEqual([expect.objectContaining({ name: "local", status: "created" })]);
    expect(out.secrets_created).toEqual([path.join(cfgDir, "secrets", "local.pass")]);
    expect(fs.statSync(path.join(cfgDir, "secrets", "local.pass")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(cfgDir, "secrets")).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(cfgDir, "secrets", "local.pass"), "utf8").trim()).toMatch(
      /^[A-Za-z0-9_-]{43}$/,
    );
    const config = path.join(cfgDir, "holdfast.yaml");
    expectExit(await m.run(["--config", config, "config", "validate"]), 0);

    const again = await m.run(["init", "--dir", cfgDir, "--yes", "--json"]);
    expectExit(again, 0);
    expect(parseJson(again)).toMatchObject({
      config_created: false,
      secrets_created: [],
      repositories: [{ name: "local", status: "exists" }],
    });

    const run = await m.run(["--config", config, "run", "--json"]);
    expectExit(run, 0);
    expect(parseJson(run).steps.map((s: { status: string }) => s.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  });

  it("a repository that exists but whose password file is missing is an error, and no password is left behind", async () => {
    const dir = path.join(root, "init-lost-pw");
    fs.mkdirSync(dir, { recursive: true });
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "old.pass"), "original"),
    };
    resticInit(target);
    const lost = path.join(dir, "secrets", "lost.pass");
    const cfg = writeTestConfig(dir, {
      repositories: { old: { url: target.repo, password_file: lost } },
      jobs: { j: { steps: [{ name: "e", type: "exec", command: ["true"] }] } },
    });
    const init = await cfg.run(["init", "--json"]);
    expectExit(init, 1);
    const repo = parseJson(init).repositories[0];
    expect(repo).toMatchObject({ name: "old", status: "failed", error: { kind: "wrong_password" } });
    expect(repo.error.hint).toMatch(/password back/);
    expect(fs.existsSync(lost)).toBe(false);
  });
});

describe("doctor and unlock", () => {
  it("reports tools, config, loose secret modes, stale locks — each with what to do — and unlock keeps live locks", async () => {
    const dir = path.join(root, "doctor");
    fs.mkdirSync(dir, { recursive: true });
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "doctor-pw"),
    };
    resticInit(target);
    const cfg = writeTestConfig(dir, {
      repositories: { local: { url: target.repo, password_file: target.passwordFile } },
      jobs: { j: { steps: [{ name: "e", type: "exec", command: ["true"] }] } },
    });
    fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    const healthy = await cfg.run(["doctor", "--json"]);
    expectExit(healthy, 0);
    const checks = parseJson(healthy).checks as Array<{
      check: string;
      status: string;
      message: string;
      hint: string | null;
    }>;
    expect(checks.find((c) => c.check === "restic")?.message).toMatch(/restic 0\.\d+\.\d+/);
    expect(checks.find((c) => c.check === "repository local")).toMatchObject({ status: "ok" });
    expect(checks.find((c) => c.check === "repository local")?.message).toMatch(/reachable, 0 snapshots/);

    // A group-readable password and a stale lock (a restic killed with SIGKILL).
    fs.chmodSync(target.passwordFile, 0o640);
    const victim = spawn("restic", ["backup", "--stdin", "--stdin-filename", "x"], {
      env: {
        PATH: process.env.PATH,
        HOME: os.tmpdir(),
        RESTIC_REPOSITORY: target.repo,
        RESTIC_PASSWORD_FILE: target.passwordFile,
      },
      stdio: ["pipe", "ignore", "ignore"],
    });
    for (let i = 0; i < 100 && restic(target, ["list", "locks", "--no-lock"]).stdout.trim() === ""; i++)
      await new Promise((r) => setTimeout(r, 100));
    victim.kill("SIGKILL");
    await new Promise((r) => victim.once("exit", r));

    const sick = await cfg.run(["doctor"]);
    expectExit(sick, 1);
    expect(sick.stdout).toMatch(/password_file .*pw is readable by its group \(mode 0640\)\n\s+→ chmod 600 /);
    expect(sick.stdout).toMatch(/stale lock left by PID \d+ .*\n\s+→ holdfast unlock local/);

    // A live lock next to the stale one: unlock removes only the stale one.
    const live = spawn("restic", ["backup", "--stdin", "--stdin-filename", "y"], {
      env: {
        PATH: process.env.PATH,
        HOME: os.tmpdir(),
        RESTIC_REPOSITORY: target.repo,
        RESTIC_PASSWORD_FILE: target.passwordFile,
      },
      stdio: ["pipe", "ignore", "ignore"],
    });
    try {
      for (
        let i = 0;
        i < 100 && restic(target, ["list", "locks", "--no-lock"]).stdout.trim().split("\n").length < 2;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const unlock = await cfg.run(["unlock", "local", "--json"]);
      expectExit(unlock, 0);
      const result = parseJson(unlock).repositories[0];
      expect(result.removed).toHaveLength(1);
      expect(result.removed[0]).toMatchObject({ stale: true });
      expect(result.remaining).toEqual([expect.objectContaining({ pid: live.pid, stale: false })]);
      const human = await cfg.run(["unlock", "local"]);
      expect(human.stdout).toMatch(
        /kept lock of PID \d+ .*still running — holdfast never removes a live lock/,
      );
    } finally {
      // SIGKILL: restic 0.18 ignores SIGINT while `backup --stdin` waits on an open stdin.
      live.kill("SIGKILL");
      await new Promise((r) => live.once("exit", r));
    }
  });
});

describe("usage errors say what to do", () => {
  it("unknown repository, ambiguous source, non-empty restore target", async () => {
    const dir = path.join(root, "usage");
    fs.mkdirSync(path.join(dir, "target"), { recursive: true });
    fs.writeFileSync(path.join(dir, "target", "x"), "x");
    const cfg = writeTestConfig(dir, {
      repositories: { local: { url: path.join(dir, "repo"), password_file: path.join(dir, "pw") } },
      sources: { a: { paths: [dir] }, b: { paths: [dir] } },
      jobs: { j: { steps: [{ name: "e", type: "exec", command: ["true"] }] } },
    });
    const unknown = await cfg.run(["snapshots", "nope"]);
    expectExit(unknown, 2);
    expect(unknown.stderr).toMatch(/no repository named "nope"\nhint: repositories in the config: local/);
    const ambiguous = await cfg.run(["restore", "local", "--target", path.join(dir, "new")]);
    expectExit(ambiguous, 2);
    expect(ambiguous.stderr).toMatch(/hint: name one with --source \(a, b\)/);
    const busy = await cfg.run(["restore", "local", "--source", "a", "--target", path.join(dir, "target")]);
    expectExit(busy, 2);
    expect(busy.stderr).toMatch(/is not empty\nhint: .*--force/);
    expect(busy.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
