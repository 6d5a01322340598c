// Locks held by another real restic, through `holdfast run` (issue 11: --retry-lock and the lock
// wait). The holder is a real restic process: a `restic check` (exclusive lock) or a `restic backup`
// (shared lock) frozen with SIGSTOP as soon as its lock file exists — alive, so its lock is not
// stale — and resumed with SIGCONT (it finishes and removes its lock) or SIGKILLed (a stale lock).
// Under restic 0.16+ holdfast lets restic wait (--retry-lock) after a first attempt without it (so
// a stale lock is seen and removed rather than waited out); under 0.14 holdfast's own loop waits.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { collect, parseJson, startCli, type CliResult } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let target: { repo: string; passwordFile: string };
let src: string;
const holders: ChildProcess[] = [];

type Target = Record<string, unknown> & {
  repo: string;
  status: string;
  error: null | Record<string, string>;
};
type Step = { name: string; status: string; targets: Target[] };
const stepOf = (run: { steps: Step[] }, name: string) => run.steps.find((s) => s.name === name) as Step;

beforeAll(() => {
  root = makeSharedDir("holdfast-lock-wait-");
  src = path.join(root, "src");
  fs.mkdirSync(src);
  // Enough data that a check spends a while after taking its lock (read-data), so it is frozen
  // while it holds it.
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), crypto.randomBytes(2 << 20));
  target = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "lock-pw") };
  resticInit(target);
  expect(restic(target, ["backup", "-q", src]).code).toBe(0);
});

afterEach(async () => {
  for (const h of holders.splice(0)) await stopHolder(h, "SIGKILL");
  restic(target, ["unlock"]);
  // A holder killed while it wrote its lock leaves the temporary file: not a lock, restic ignores it.
  for (const f of lockFiles()) if (f.includes("-tmp-")) fs.rmSync(path.join(target.repo, "locks", f));
  expect(lockFiles()).toEqual([]);
});

afterAll(() => removeDir(root));

function config(name: string, repo: Record<string, unknown>, stepTimeout = "5m"): TestConfig {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  return writeTestConfig(dir, {
    repositories: { r: { url: target.repo, password_file: target.passwordFile, ...repo } },
    sources: { s: { paths: [src] } },
    jobs: {
      b: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"], timeout: stepTimeout }] },
      f: { steps: [{ name: "f", type: "forget", repos: ["r"], keep: { last: 1 }, timeout: stepTimeout }] },
    },
  });
}

function lockFiles(): string[] {
  const dir = path.join(target.repo, "locks");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/** Lock files in place (restic writes ID-tmp-N first and renames it: a temporary file is no lock yet). */
function writtenLocks(): string[] {
  return lockFiles().filter((f) => /^[0-9a-f]{64}$/.test(f));
}

/** holdfast's snapshots (not the holdfast-meta ones each run that backed up also stores). */
const snapshotCount = () =>
  (JSON.parse(restic(target, ["snapshots", "--json", "--no-lock", "--tag", "holdfast"]).stdout) as unknown[])
    .length;

/**
 * Starts a real restic (the version under test) and freezes it with SIGSTOP once its lock exists.
 * On a loaded machine the holder may finish before the SIGSTOP lands: then it is started again.
 */
async function frozenHolder(args: string[]): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    const before = new Set(writtenLocks());
    const child = spawn("restic", args, {
      stdio: "ignore",
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        RESTIC_REPOSITORY: target.repo,
        RESTIC_PASSWORD_FILE: target.passwordFile,
        RESTIC_CACHE_DIR: path.join(os.tmpdir(), "holdfast-test-restic-cache"),
      },
    });
    holders.push(child);
    const until = Date.now() + 30_000;
    let lock: string | undefined;
    while ((lock = writtenLocks().find((f) => !before.has(f))) === undefined) {
      if (child.exitCode !== null) break;
      if (Date.now() > until) throw new Error(`restic ${args[0]} made no lock file`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGSTOP");
    // Frozen while its lock is in place: a holder that is alive, so its lock is not stale.
    if (lock !== undefined && child.exitCode === null && writtenLocks().includes(lock)) return child;
    await stopHolder(child, "SIGKILL");
    restic(target, ["unlock"]);
    if (attempt === 3) throw new Error(`restic ${args[0]} ended before it could be frozen with its lock`);
  }
}

/**
 * `holdfast run` started in the background, resolved once its output says that it waits for the lock
 * (CLI start-up on a loaded machine takes seconds, so no fixed sleep decides when to free it).
 */
async function runUntilWaiting(cfg: TestConfig, args: string[]): Promise<{ done: Promise<CliResult> }> {
  const child = startCli(["--config", cfg.file, ...args], {
    cwd: cfg.dir,
    env: { XDG_STATE_HOME: path.join(cfg.dir, "xdg-state") },
  });
  let said = "";
  child.stderr?.on("data", (d: Buffer | string) => (said += d.toString()));
  const done = collect(child, { timeoutMs: 300_000 });
  const until = Date.now() + 120_000;
  while (!said.includes("is locked by another restic")) {
    if (child.exitCode !== null || Date.now() > until) {
      const r = await done;
      throw new Error(`holdfast never waited for the lock (exit ${r.code}):\n${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { done };
}

function stopHolder(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
    if (signal !== "SIGKILL") child.kill("SIGCONT");
  });
}

describe(`a lock another restic holds, under ${resticUnderTest.label}`, () => {
  it("a backup meets a check's exclusive lock: it waits (restic.lock_wait) and succeeds once the check is done", async () => {
    const holder = await frozenHolder(["check", "--read-data"]);
    const cfg = config("backup-waits", {});
    const running = await runUntilWaiting(cfg, ["run", "b", "--json"]);
    // The check resumes 3 s after the backup met its lock, finishes and removes its lock.
    await new Promise((r) => setTimeout(r, 3_000));
    const freed = Date.now();
    holder.kill("SIGCONT");
    const result = await running.done;
    expectExit(result, 0);
    const run = parseJson(result);
    expect(stepOf(run, "b").targets[0]).toMatchObject({ status: "succeeded", error: null });
    // The snapshot was made after the check let go of the lock.
    expect(Date.parse(run.finished_at as string)).toBeGreaterThan(freed);
    // What holdfast said it did is what it did: restic 0.16+ waited itself, 0.14 was retried.
    const said = result.stderr;
    if (resticUnderTest.has("retryLock")) {
      expect(said).toMatch(
        /repository r is locked by another restic \(PID \d+ on [^,]+, exclusive\); restic waits up to [\dms.]+ for it \(--retry-lock; restic\.lock_wait 30m/,
      );
    } else {
      expect(said).toMatch(
        /repository r is locked by another restic \(PID \d+ on [^,]+, exclusive\); waiting 2\.0s and trying again \(restic\.lock_wait 30m/,
      );
    }
    expect(said).not.toContain("holds a stale lock");
  });

  it("a forget meets a backup's lock: it waits and then runs", async () => {
    const cfg = config("forget-waits", {});
    // Two snapshots of the source, so that the forget has one to remove (and runs restic forget).
    for (let i = 0; i < 2; i++) expectExit(await cfg.run(["run", "b"]), 0);
    const holder = await frozenHolder(["backup", "-q", "--limit-upload", "1024", src]);
    const running = await runUntilWaiting(cfg, ["run", "f", "--json"]);
    await new Promise((r) => setTimeout(r, 2_000));
    // The frozen backup goes on and ends (SIGINT after SIGCONT: it removes its lock).
    await stopHolder(holder, "SIGINT");
    const result = await running.done;
    expectExit(result, 0);
    expect(stepOf(parseJson(result), "f").targets[0]).toMatchObject({ status: "succeeded" });
    expect((stepOf(parseJson(result), "f").targets[0] as Target).snapshots_removed).toBeGreaterThan(0);
    expect(result.stderr).toMatch(
      /repository r is locked by another restic \(PID \d+ on [^)]+\); (restic waits up to|waiting)/,
    );
  });

  it("lock_wait of the repository ends the wait: repo_locked, and the hint says how long holdfast waited", async () => {
    await frozenHolder(["check", "--read-data"]);
    const cfg = config("lock-wait-ends", { lock_wait: "6s" });
    const started = Date.now();
    const result = await cfg.run(["run", "b", "--json"]);
    const elapsed = Date.now() - started;
    expectExit(result, 1);
    const t = stepOf(parseJson(result), "b").targets[0] as Target;
    expect(t.status).toBe("failed");
    expect(t.error).toMatchObject({ kind: "repo_locked" });
    expect(t.error?.message).toMatch(/^repository is already locked exclusively by PID \d+/);
    expect(t.error?.hint).toMatch(
      /is using the repository; holdfast waited [\d.]+s for it \(restic\.lock_wait, 6\.0s\) and gave up/,
    );
    // About lock_wait, not the step's 5 minutes (plus holdfast's start and the repository opens).
    expect(elapsed).toBeGreaterThan(5_000);
    expect(elapsed).toBeLessThan(25_000);
  });

  it("lock_wait: 0 fails at once, and the hint says holdfast did not wait", async () => {
    await frozenHolder(["check", "--read-data"]);
    const cfg = config("lock-wait-zero", { lock_wait: "0" });
    const result = await cfg.run(["run", "b", "--json"]);
    expectExit(result, 1);
    const t = stepOf(parseJson(result), "b").targets[0] as Target;
    expect(t.error).toMatchObject({ kind: "repo_locked" });
    expect(t.error?.hint).toMatch(/holdfast did not wait for it \(lock_wait is 0\)/);
    expect(result.stderr).not.toMatch(/--retry-lock|waiting [\d.]+s and trying again/);
  });

  it("a stale lock (its restic was killed) is removed, not waited out — also by restic 0.16+'s --retry-lock", async () => {
    const holder = await frozenHolder(["check", "--read-data"]);
    await stopHolder(holder, "SIGKILL");
    expect(writtenLocks()).toHaveLength(1);
    const before = snapshotCount();
    const cfg = config("stale", {});
    const started = Date.now();
    const result = await cfg.run(["run", "b", "--json"]);
    expectExit(result, 0);
    // Far below a --retry-lock wait (restic waits out a stale lock: 30 min of lock_wait here).
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.stderr).toContain("holds a stale lock");
    expect(result.stderr).not.toMatch(
      /--retry-lock|waiting [\d.]+s and trying again|is locked by another restic/,
    );
    expect(snapshotCount()).toBe(before + 1);
    expect(lockFiles()).toEqual([]);
  });

  it("a CLI command (restore) does not wait, and says so", async () => {
    const id = resticSnapshots(target)[0]?.id ?? "";
    await frozenHolder(["check", "--read-data"]);
    const cfg = config("cli", {});
    // restore needs a (shared) lock; the CLI does not wait for it.
    const out = path.join(root, "cli", "restored");
    const result = await cfg.run(["restore", "r", id, "--target", out, "--json"]);
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/holdfast does not wait for it here/);
  });
});
