// S8: a state dir, locks/ or logs/ that another user could write is refused; only log paths under the
// state dir's logs/ are read.
//
// The attacks, as root through the built CLI:
//   - the state dir (or its locks/) is writable by others, and `locks/JOB.lock` is a symlink to a
//     file of root's: `holdfast run JOB` used to chmod that file 0600 (and open it as SQLite);
//   - the state dir, or its logs/, belongs to another user;
//   - a history.db whose step log_path names a file outside the logs (or a symlink inside them):
//     `holdfast logs` and GET /api/runs/ID/logs used to print that file.
//   - a config cache directory that others can write: the cache used to be read from and written there.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { ensureUser, type TestUser } from "../helpers/users.js";
import { serve } from "../server/serve-helper.js";

let base: string;
let other: TestUser;
const secret = `s8RootOnly-${crypto.randomBytes(8).toString("hex")}`;
let victim: string;

beforeAll(() => {
  other = ensureUser("hfs6owner");
  base = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-s8-"));
  victim = path.join(base, "root-only.txt");
  fs.writeFileSync(victim, `${secret}\n`, { mode: 0o640 });
  fs.chmodSync(victim, 0o640);
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

function config(name: string): TestConfig {
  const dir = path.join(base, name);
  fs.mkdirSync(dir);
  return writeTestConfig(dir, {
    jobs: { j: { steps: [{ name: "hello", type: "exec", command: ["echo", "hello from the step"] }] } },
  });
}

const mode = (p: string) => fs.statSync(p).mode & 0o7777;

function expectRefused(
  result: { code: number | null; stdout: string; stderr: string },
  what: string | RegExp,
) {
  expect(result.code, result.stdout + result.stderr).toBe(2);
  expect(result.stderr).toContain("refusing the state dir");
  if (typeof what === "string") expect(result.stderr).toContain(what);
  else expect(result.stderr).toMatch(what);
  expect(result.stderr).toMatch(/hint: .*chown/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe("S8: the state dir must be holdfast's own", () => {
  it("a state dir writable by others, with locks/JOB.lock linked to root's file: refused, the file untouched", async () => {
    const cfg = config("world-writable");
    fs.mkdirSync(path.join(cfg.stateDir, "locks"), { recursive: true });
    fs.chmodSync(cfg.stateDir, 0o777);
    fs.symlinkSync(victim, path.join(cfg.stateDir, "locks", "j.lock"));
    const result = await cfg.run(["run", "j"]);
    expectRefused(result, /is writable by its group and others \(mode 0777\)/);
    expect(mode(victim)).toBe(0o640);
    expect(fs.readFileSync(victim, "utf8")).toBe(`${secret}\n`);
    // Read-only commands are refused too: they would read a history.db someone else put there.
    expectRefused(await cfg.run(["status"]), cfg.stateDir);
    expectRefused(await cfg.run(["history", "--json"]), cfg.stateDir);
  });

  it("locks/ writable by others, or a lock file that is a symlink: refused, the file untouched", async () => {
    const cfg = config("locks-open");
    const locks = path.join(cfg.stateDir, "locks");
    fs.mkdirSync(locks, { recursive: true, mode: 0o700 });
    fs.chmodSync(locks, 0o733);
    fs.symlinkSync(victim, path.join(locks, "j.lock"));
    expectRefused(await cfg.run(["run", "j"]), `${locks} is writable by its group and others (mode 0733)`);
    expect(mode(victim)).toBe(0o640);

    // Even in a closed locks/, a link where the lock goes is not followed.
    fs.chmodSync(locks, 0o700);
    const result = await cfg.run(["run", "j"]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain("refusing the lock file");
    expect(result.stderr).toContain("symbolic link");
    expect(mode(victim)).toBe(0o640);
  });

  it("a state dir, or logs/, owned by another user: refused", async () => {
    const cfg = config("other-owner");
    fs.mkdirSync(cfg.stateDir, { mode: 0o700 });
    fs.chownSync(cfg.stateDir, other.uid, other.gid);
    expectRefused(await cfg.run(["run", "j"]), `owned by uid ${other.uid}`);

    const cfg2 = config("other-logs");
    fs.mkdirSync(path.join(cfg2.stateDir, "logs"), { recursive: true, mode: 0o700 });
    fs.chownSync(path.join(cfg2.stateDir, "logs"), other.uid, other.gid);
    expectRefused(
      await cfg2.run(["run", "j"]),
      `${path.join(cfg2.stateDir, "logs")} is owned by uid ${other.uid}`,
    );
    expectRefused(await cfg2.run(["logs", "latest"]), "logs");
  });

  it("a state dir of holdfast's own works as before (0700, the run recorded)", async () => {
    const cfg = config("own");
    const result = await cfg.run(["run", "j", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    for (const d of ["", "locks", "logs"]) expect(mode(path.join(cfg.stateDir, d))).toBe(0o700);
    const logs = await cfg.run(["logs", parseJson(result).id]);
    expect(logs.stdout).toContain("hello from the step");
  });
});

describe("S8: only step logs under the state dir's logs/ are read", () => {
  it("a history.db naming another file, or a link inside logs/: neither `logs` nor the API prints it", async () => {
    const cfg = config("swapped-db");
    const run = parseJson(await cfg.run(["run", "j", "--json"]));
    const logPath: string = run.steps[0].log_path;
    expect(logPath.startsWith(path.join(cfg.stateDir, "logs"))).toBe(true);

    // A second run whose log is replaced by a link to root's file, inside logs/RUN/.
    const run2 = parseJson(await cfg.run(["run", "j", "--json"]));
    const linked: string = run2.steps[0].log_path;
    fs.rmSync(linked);
    fs.symlinkSync(victim, linked);

    // The history says the first run's log is root's file (a database from elsewhere, or swapped in).
    const db = new Database(path.join(cfg.stateDir, "history.db"));
    for (const p of [victim, path.join(cfg.stateDir, "logs", "..", "..", "root-only.txt")]) {
      db.prepare("UPDATE steps SET log_path = ? WHERE run_id = ?").run(p, run.id);
      const shown = await cfg.run(["logs", run.id]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).not.toContain(secret);
      expect(shown.stdout).toContain("not a step log under");
    }
    db.close();
    const shown2 = await cfg.run(["logs", run2.id]);
    expect(shown2.stdout + shown2.stderr).not.toContain(secret);

    const s = await serve(cfg.file, "127.0.0.1:0");
    for (const id of [run.id, run2.id]) {
      const res = await fetch(`${s.base}/api/runs/${id}/logs`);
      const body = await res.text();
      expect(body).not.toContain(secret);
    }
    const res = await fetch(`${s.base}/api/runs/${run.id}/logs`);
    expect(await res.text()).toContain("not a step log under");
    s.child.kill("SIGTERM");
    await s.done;
  });
});

describe("S8: the config and code caches are used only in a directory of holdfast's own", () => {
  it("a cache directory others can write is neither read nor written", async () => {
    const cfg = config("cache");
    const cacheHome = path.join(base, "cache-home");
    const cacheDir = path.join(cacheHome, "holdfast");
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.chmodSync(cacheDir, 0o777);
    const status = await cfg.run(["status", "--json"], { env: { XDG_CACHE_HOME: cacheHome } });
    expect(status.code, status.stderr).toBe(0);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
    // In a closed one it is written (0600), as before.
    fs.chmodSync(cacheDir, 0o700);
    await cfg.run(["status", "--json"], { env: { XDG_CACHE_HOME: cacheHome } });
    // Beside it: v8/, the CLI's code cache (src/cli/load-program.ts), 0700.
    expect(mode(path.join(cacheDir, "v8"))).toBe(0o700);
    const files = fs.readdirSync(cacheDir).filter((name) => name !== "v8");
    expect(files).toHaveLength(1);
    expect(mode(path.join(cacheDir, files[0] as string))).toBe(0o600);
  });
});
