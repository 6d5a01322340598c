// Each way a repository can be unusable gets its own error kind and a hint that says what to do:
// wrong password, missing repository, a repository locked by a live restic (an exclusive step waits
// and retries until its timeout), a REST server that is down. A stale lock left by a killed restic
// is removed (restic's own `unlock`, stale locks only) and the step goes on.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import {
  freePort,
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  writePassword,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let holder: ChildProcess | null = null;

beforeAll(() => {
  root = makeSharedDir("holdfast-errors-");
});

afterAll(() => {
  holder?.kill("SIGKILL");
  removeDir(root);
});

function resticEnv(repo: string, passwordFile: string) {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/",
    RESTIC_REPOSITORY: repo,
    RESTIC_PASSWORD_FILE: passwordFile,
    RESTIC_CACHE_DIR: path.join(os.tmpdir(), "holdfast-test-restic-cache"),
  };
}

/** A live restic that holds a (non-exclusive) lock until killed: a backup reading a stdin that never ends. */
async function holdLock(repo: string, passwordFile: string): Promise<ChildProcess> {
  const child = spawn("restic", ["backup", "--stdin", "--stdin-filename", "held"], {
    env: resticEnv(repo, passwordFile),
    stdio: ["pipe", "ignore", "ignore"],
  });
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const locks = restic({ repo, passwordFile }, ["list", "locks", "--no-lock"]);
    if (locks.stdout.trim() !== "") return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("restic did not take its lock");
}

describe("repository errors", () => {
  it("wrong password, missing repository, live lock, REST server down: each its own kind and hint", async () => {
    const src = path.join(root, "src");
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, "a.txt"), "a\n");
    const good = {
      repo: path.join(root, "good"),
      passwordFile: writePassword(path.join(root, "good.pass"), "right-password"),
    };
    resticInit(good);
    const wrongPw = writePassword(path.join(root, "wrong.pass"), "not-the-password");
    const locked = {
      repo: path.join(root, "locked"),
      passwordFile: writePassword(path.join(root, "locked.pass"), "locked-pw"),
    };
    resticInit(locked);
    holder = await holdLock(locked.repo, locked.passwordFile);
    const downPort = await freePort();

    const cfg = writeTestConfig(root, {
      repositories: {
        wrongpw: { url: good.repo, password_file: wrongPw },
        missing: { url: path.join(root, "does-not-exist"), password_file: good.passwordFile },
        locked: { url: locked.repo, password_file: locked.passwordFile },
        // restic 0.17+ retries a refused connection; holdfast stops it after open_timeout (open-timeout.test.ts).
        down: {
          url: `rest:http://127.0.0.1:${downPort}/repo`,
          password_file: good.passwordFile,
          open_timeout: "5s",
        },
      },
      sources: { s: { paths: [src] } },
      jobs: {
        j: {
          steps: [
            { name: "wrongpw", type: "backup", source: "s", repos: ["wrongpw"], on_failure: "continue" },
            { name: "missing", type: "backup", source: "s", repos: ["missing"], on_failure: "continue" },
            { name: "down", type: "backup", source: "s", repos: ["down"], on_failure: "continue" },
            { name: "locked", type: "check", repos: ["locked"], timeout: "20s", on_failure: "continue" },
          ],
        },
      },
    });
    const started = Date.now();
    const result = await cfg.run(["run", "--json"]);
    expectExit(result, 1);
    const run = parseJson(result);
    const byName = Object.fromEntries(run.steps.map((s: { name: string }) => [s.name, s]));

    expect(byName.wrongpw.error).toMatchObject({ kind: "wrong_password" });
    expect(byName.wrongpw.error.hint).toMatch(/password_file or password_command/);
    expect(byName.wrongpw.targets[0]).toMatchObject({
      repo: "wrongpw",
      status: "failed",
      exit_code: resticUnderTest.exitCodes.wrongPassword,
    });

    expect(byName.missing.error).toMatchObject({ kind: "repo_not_found" });
    expect(byName.missing.error.hint).toMatch(/holdfast init/);

    expect(byName.down.error).toMatchObject({ kind: "network" });
    expect(byName.down.error.message).toMatch(/connection refused/);
    expect(byName.down.error.hint).toMatch(/server running/);

    // The exclusive check waited (never ran over its timeout), then said who holds the lock and how
    // long it waited.
    expect(byName.locked.status).toBe("failed");
    expect(byName.locked.error).toMatchObject({ kind: "repo_locked" });
    expect(byName.locked.error.message).toMatch(new RegExp(`locked by PID ${holder.pid}`));
    expect(byName.locked.error.hint).toMatch(/holdfast waited [\d.]+s for it, until the step's timeout/);
    expect(byName.locked.duration_ms).toBeGreaterThan(6_000);
    expect(byName.locked.duration_ms).toBeLessThan(20_000);
    expect(Date.now() - started).toBeLessThan(60_000);
    const logs = await cfg.run(["logs", run.id, "--step", "locked"]);
    // restic 0.16+ waits itself (--retry-lock) after a first attempt; 0.14 is tried again by holdfast.
    expect(logs.stdout).toMatch(
      resticUnderTest.has("retryLock")
        ? /is locked by another restic .*; restic waits up to .* for it \(--retry-lock/
        : /is locked by another restic .*; waiting .* and trying again/,
    );
    // The live lock was never touched.
    expect(restic(locked, ["list", "locks", "--no-lock"]).stdout.trim()).not.toBe("");
  });

  it("a stale lock (restic killed with SIGKILL) is removed and the exclusive step succeeds", async () => {
    holder?.kill("SIGKILL");
    holder = null;
    const stale = {
      repo: path.join(root, "stale"),
      passwordFile: writePassword(path.join(root, "stale.pass"), "stale-pw"),
    };
    resticInit(stale);
    const victim = await holdLock(stale.repo, stale.passwordFile);
    victim.kill("SIGKILL");
    await new Promise((r) => victim.once("exit", r));
    expect(restic(stale, ["list", "locks", "--no-lock"]).stdout.trim()).not.toBe("");
    const cfg = writeTestConfig(
      root,
      {
        repositories: { stale: { url: stale.repo, password_file: stale.passwordFile } },
        jobs: { j: { steps: [{ name: "check", type: "check", repos: ["stale"] }] } },
      },
      "stale.yaml",
    );
    const result = await cfg.run(["run", "--json"]);
    expectExit(result, 0);
    const run = parseJson(result);
    const logs = await cfg.run(["logs", run.id]);
    expect(logs.stdout).toMatch(/holds a stale lock .* removing stale locks/);
    expect(restic(stale, ["list", "locks", "--no-lock"]).stdout.trim()).toBe("");
  });
});
