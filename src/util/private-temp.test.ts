import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makePrivateTempDir, removeStalePrivateTempDirs } from "./private-temp.js";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "private-temp-test-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The pid of a process that has just ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(r.stdout);
}

describe("makePrivateTempDir", () => {
  it("makes PREFIX-PID.XXXXXX, 0700, under any umask", () => {
    const old = process.umask(0);
    try {
      const dir = makePrivateTempDir("holdfast-dbauth-", tmp);
      expect(path.basename(dir)).toMatch(new RegExp(`^holdfast-dbauth-${process.pid}\\.[A-Za-z0-9]{6}$`));
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it("removes what a killed holdfast left (its password file with it), keeps the live ones and others' names", () => {
    const dead = deadPid();
    const left = path.join(tmp, `holdfast-dbauth-${dead}.Ab3dE9`);
    fs.mkdirSync(left, { mode: 0o700 });
    fs.writeFileSync(path.join(left, "pgpass"), "*:*:*:*:secret\n", { mode: 0o600 });
    const copy = path.join(tmp, `holdfast-sqlite-${dead}.zz9ZZ9`);
    fs.mkdirSync(copy, { mode: 0o700 });
    const live = path.join(tmp, `holdfast-dbauth-${process.pid}.Qw1eR2`);
    fs.mkdirSync(live);
    const parent = path.join(tmp, `holdfast-drill-db-${process.ppid}.Xy1xY2`);
    fs.mkdirSync(parent);
    // Not names this makes: another tool's, or an old-style holdfast-dbauth-XXXXXX (no pid to judge by).
    const others = ["holdfast-dbauth-Ab3dE9", `holdfast-s4-${dead}`, `other-${dead}.Ab3dE9`];
    for (const o of others) fs.mkdirSync(path.join(tmp, o));
    const file = path.join(tmp, `holdfast-sqlite-${dead}.Ff0fF0`);
    fs.writeFileSync(file, "a file, not a directory");

    const made = makePrivateTempDir("holdfast-dbauth-", tmp);
    expect(fs.existsSync(left)).toBe(false);
    expect(fs.existsSync(copy)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(parent)).toBe(true);
    for (const o of others) expect(fs.existsSync(path.join(tmp, o))).toBe(true);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.existsSync(made)).toBe(true);
    expect(removeStalePrivateTempDirs(tmp)).toBe(0);
  });
});
