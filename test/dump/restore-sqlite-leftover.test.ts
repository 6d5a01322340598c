// A SQLite restore killed mid-copy (SIGKILL: no cleanup ran) leaves .NAME.holdfast-restore-PID-TIME
// next to its target, a full copy of the database. The next restore --database of that target
// removes such files of processes no longer alive — and keeps one of a live process, one another
// name's restore wrote, and anything not a regular file.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";

let dir: string;
let config: string;

const cli = (args: string[]) => runCli(["--config", config, ...args], { timeoutMs: 120_000 });

beforeAll(async () => {
  dir = makeSharedDir("holdfast-sqlite-leftover-");
  const repo = path.join(dir, "repo");
  const pw = writePassword(path.join(dir, "pw"), "lp");
  resticInit({ repo, passwordFile: pw });
  const db = new Database(path.join(dir, "app.db"));
  db.exec("CREATE TABLE log (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO log(body) VALUES ('x');");
  db.close();
  config = writeConfig(
    dir,
    `version: 1
state_dir: ${path.join(dir, "state")}
repositories:
  local: { url: ${repo}, password_file: ${pw} }
jobs:
  lite:
    steps:
      - name: lite
        type: dump
        engine: sqlite
        path: ${path.join(dir, "app.db")}
        repos: [local]
`,
  );
  const run = await cli(["run", "lite", "--json"]);
  expect(run.code, run.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  if (dir) removeDir(dir);
});

describe(`restore --database of SQLite after a killed restore (${resticUnderTest.label})`, () => {
  it("a dead process's .NAME.holdfast-restore-PID-TIME is removed by the next restore; others stay", async () => {
    const into = path.join(dir, "restored", "app.db");
    fs.mkdirSync(path.dirname(into), { recursive: true, mode: 0o700 });
    // A process that has exited: its pid is no longer alive.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    const deadPid = Number(dead.stdout);
    expect(deadPid).toBeGreaterThan(0);
    const place = (name: string) => path.join(path.dirname(into), name);
    const stale = place(`.app.db.holdfast-restore-${deadPid}-1733346000000`);
    const live = place(`.app.db.holdfast-restore-${process.pid}-1733346000000`);
    const other = place(`.other.db.holdfast-restore-${deadPid}-1733346000000`);
    const link = place(`.app.db.holdfast-restore-${deadPid}-1733346000001`);
    fs.writeFileSync(stale, "a copy of the database", { mode: 0o600 });
    fs.writeFileSync(live, "a live restore's copy", { mode: 0o600 });
    fs.writeFileSync(other, "another target's copy", { mode: 0o600 });
    fs.symlinkSync(path.join(dir, "app.db"), link);

    const out = await cli(["restore", "--database", "app", "local", "--to-database", into]);
    expect(out.code, out.stderr).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(path.join(dir, "app.db"))).toBe(true);
    const names = fs.readdirSync(path.dirname(into)).sort();
    expect(names).toEqual(
      [path.basename(into), path.basename(live), path.basename(other), path.basename(link)].sort(),
    );
  });
});
