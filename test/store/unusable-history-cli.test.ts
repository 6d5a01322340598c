// The history store never stops a backup (issue 12 items 7 and 8), through the built CLI with a real
// webhook receiver on 127.0.0.1: a damaged, replaced, read-only or EROFS history.db, and one whose
// write lock another process holds. The job's steps run; an unusable history makes the run `failed`
// with an error of kind `history` (notified as `failure`, exit 1) and keeps the record in
// pending-history/ until the database is usable; a lock only delays the record. `watch` counts every
// job with max_age stale when the history cannot be read; `doctor` says what is wrong.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { parseJson, runCli, type CliResult } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";
import { STACK_TRACE, waitFor } from "../helpers/reliability.js";
import { startReceiver, type Receiver } from "../notify/receiver.js";
import { REPO_ROOT } from "../helpers/cli.js";

const mounts: string[] = [];
const receivers: Receiver[] = [];
const holders: ChildProcess[] = [];
afterEach(async () => {
  for (const h of holders.splice(0)) h.kill("SIGKILL");
  for (const m of mounts.splice(0).reverse()) execFileSync("umount", ["-l", m], { stdio: "pipe" });
  for (const r of receivers.splice(0)) await r.close();
});

interface World {
  dir: string;
  state: string;
  db: string;
  hook: Receiver;
  cli(args: string[]): Promise<CliResult>;
  events(): Array<{ event: string; job: string; run: any; details: any }>;
}

async function world(stateDir?: string): Promise<World> {
  const dir = makeTempDir("holdfast-unusable-");
  const state = stateDir ?? path.join(dir, "state");
  const hook = await startReceiver();
  receivers.push(hook);
  const config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${state}
host: testhost
jobs:
  j:
    max_age: 1h
    notify: [hook]
    steps:
      - { name: first, type: exec, command: [sh, -c, "echo first >> ${dir}/ran"] }
      - { name: second, type: exec, command: [sh, -c, "sleep 1; echo second >> ${dir}/ran"] }
notifications:
  hook: { type: webhook, url: "${hook.url}/hook", events: [failure, stale, success], timeout: 5s }
`,
  );
  return {
    dir,
    state,
    db: path.join(state, "history.db"),
    hook,
    cli: (args) => runCli(["--config", config, ...args], { cwd: dir, timeoutMs: 120_000 }),
    events: () => hook.requests.map((r) => JSON.parse(r.text)),
  };
}

function ran(w: World): string[] {
  try {
    return fs.readFileSync(path.join(w.dir, "ran"), "utf8").trim().split("\n");
  } catch {
    return [];
  }
}

/** A run against an unusable history: steps ran, the run failed with kind history, failure notified. */
async function expectRunDespiteHistory(w: World): Promise<any> {
  const before = ran(w).length;
  const result = await w.cli(["run", "--json"]);
  expect(result.stderr).not.toMatch(STACK_TRACE);
  expect(result.stderr).not.toMatch(/internal error/);
  expect(result.code, result.stderr).toBe(1);
  expect(ran(w).length).toBe(before + 2);
  const run = parseJson(result);
  expect(run.status).toBe("failed");
  expect(run.error.kind).toBe("history");
  expect(run.steps.map((s: any) => s.status)).toEqual(["succeeded", "succeeded"]);
  const failure = w.events().find((e) => e.event === "failure" && e.run?.id === run.id);
  expect(failure, JSON.stringify(w.events())).toBeDefined();
  expect(failure?.run.error.kind).toBe("history");
  return run;
}

async function expectWatchStale(w: World): Promise<void> {
  const staleBefore = w.events().filter((e) => e.event === "stale").length;
  const watch = await w.cli(["watch", "--json"]);
  expect(watch.code, watch.stderr).toBe(2);
  expect(watch.stderr).not.toMatch(STACK_TRACE);
  const out = parseJson(watch);
  expect(out.stale).toBe(true);
  expect(out.jobs[0]).toMatchObject({ job: "j", stale: true, notice: "sent" });
  expect(w.events().filter((e) => e.event === "stale")).toHaveLength(staleBefore + 1);
  expect(w.events().at(-1)?.details.history_error).toMatch(/history/);
}

async function doctorHistory(w: World): Promise<Array<{ status: string; message: string; hint: string }>> {
  const doctor = await w.cli(["doctor", "--json"]);
  expect(doctor.stderr).not.toMatch(STACK_TRACE);
  return parseJson(doctor).checks.filter((c: any) => c.check === "history");
}

function mount(args: string[], at: string): boolean {
  try {
    execFileSync("mount", [...args, at], { stdio: "pipe" });
    mounts.push(at);
    return true;
  } catch {
    return false;
  }
}

describe("an unusable history database", () => {
  test("a damaged header: the job runs, fails with kind history, is notified; the record is added later", async () => {
    const w = await world();
    expect((await w.cli(["run", "--quiet"])).code).toBe(0);
    const fd = fs.openSync(w.db, "r+");
    fs.writeSync(fd, Buffer.alloc(100, "x"), 0, 100, 0);
    fs.closeSync(fd);
    for (const f of [`${w.db}-wal`, `${w.db}-shm`]) fs.rmSync(f, { force: true });

    const run = await expectRunDespiteHistory(w);
    // The run's record, and the notifications' state (the job's last outcome) beside it.
    const pending = fs.readdirSync(path.join(w.state, "pending-history")).sort();
    expect(pending[0]).toBe(`${run.id}.json`);
    expect(pending.slice(1)).toEqual([expect.stringMatching(/^writes-\d+-\d+\.json$/)]);
    expect(fs.readFileSync(path.join(w.state, "pending-history", pending[1] as string), "utf8")).toMatch(
      /"key":"notify:outcome:j","value":"failure"/,
    );
    await expectWatchStale(w);
    const doctor = await doctorHistory(w);
    expect(doctor.map((c) => c.status)).toContain("error");
    expect(doctor.find((c) => c.status === "error")?.message).toMatch(/not a readable SQLite database/);
    expect(doctor.find((c) => c.status === "error")?.hint).toMatch(/mv .*history\.db .*broken/);
    expect(doctor.find((c) => c.status === "warning")?.message).toMatch(/1 run record .* wait/);
    const status = await w.cli(["status", "--check"]);
    expect(status.code).toBe(3);

    // The fix doctor gives: the next command writes the kept record into the new history.
    fs.renameSync(w.db, `${w.db}.broken`);
    const history = parseJson(await w.cli(["history", "--json"]));
    expect(history.runs.map((r: any) => [r.id, r.status, r.error?.kind])).toEqual([
      [run.id, "failed", "history"],
    ]);
    expect(fs.readdirSync(path.join(w.state, "pending-history"))).toEqual([]);
    expect((await w.cli(["run", "--quiet"])).code).toBe(0);
  });

  test("damaged pages: doctor names quick_check's finding; the job still runs and is notified", async () => {
    const w = await world();
    for (let i = 0; i < 3; i++) expect((await w.cli(["run", "--quiet"])).code).toBe(0);
    // Fold the WAL into the file, then overwrite its pages after the first (the schema page stays).
    execFileSync("sqlite3", [w.db, "PRAGMA wal_checkpoint(TRUNCATE);"], { stdio: "pipe" });
    const size = fs.statSync(w.db).size;
    const fd = fs.openSync(w.db, "r+");
    for (let at = 4096; at < size; at += 4096) fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, at);
    fs.closeSync(fd);
    const doctor = await doctorHistory(w);
    expect(doctor.find((c) => c.status === "error")?.message).toMatch(/damaged|not a readable/);
    await expectRunDespiteHistory(w);
  });

  test("replaced by a directory", async () => {
    const w = await world();
    fs.mkdirSync(w.db, { recursive: true });
    await expectRunDespiteHistory(w);
    await expectWatchStale(w);
    const doctor = await doctorHistory(w);
    expect(doctor.find((c) => c.status === "error")?.message).toMatch(/is a directory/);
  });

  test("a read-only file (read-only bind mount) and a read-only state dir (EROFS)", async (ctx) => {
    const w = await world();
    expect((await w.cli(["run", "--quiet"])).code).toBe(0);
    if (!mount(["--bind", w.db], w.db)) return ctx.skip();
    execFileSync("mount", ["-o", "remount,bind,ro", w.db], { stdio: "pipe" });
    await expectRunDespiteHistory(w);
    const doctor = await doctorHistory(w);
    expect(doctor.find((c) => c.status === "error")?.message).toMatch(/cannot be written.*read-only/);
    execFileSync("umount", [mounts.pop() as string], { stdio: "pipe" });

    // The whole state dir on a file system mounted read-only.
    const e = await world(path.join(makeTempDir("holdfast-erofs-"), "state"));
    fs.mkdirSync(e.state);
    if (!mount(["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs"], e.state)) return ctx.skip();
    expect((await e.cli(["run", "--quiet"])).code).toBe(0);
    execFileSync("mount", ["-o", "remount,ro", e.state], { stdio: "pipe" });
    const run = await expectRunDespiteHistory(e);
    const doctor2 = await doctorHistory(e);
    expect(doctor2.find((c) => c.status === "error")?.message).toMatch(/cannot be written.*read-only/);
    // The record waits outside the read-only state dir and goes in once it is writable again.
    execFileSync("mount", ["-o", "remount,rw", e.state], { stdio: "pipe" });
    const history = parseJson(await e.cli(["history", "--json"]));
    expect(history.runs.map((r: any) => r.id)).toContain(run.id);
  });
});

describe("a write lock held by another process", () => {
  test("the job goes on and its final record is correct; nothing fails", async () => {
    const w = await world();
    expect((await w.cli(["run", "--quiet"])).code).toBe(0);
    // Another process (here a node script with better-sqlite3) holds BEGIN EXCLUSIVE for 12 s.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require(${JSON.stringify(path.join(REPO_ROOT, "node_modules/better-sqlite3"))});
         const db = new D(${JSON.stringify(w.db)}); db.exec("BEGIN EXCLUSIVE"); console.log("locked");
         setTimeout(() => { db.exec("ROLLBACK"); process.exit(0); }, 12000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    holders.push(holder);
    let locked = false;
    holder.stdout?.on("data", () => (locked = true));
    await waitFor(() => locked, 10_000, "the other process to lock the history");
    const doctor = await doctorHistory(w);
    expect(doctor.find((c) => c.status === "warning")?.message).toMatch(
      /locked for writing by another process/,
    );

    const result = await w.cli(["run", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/locked by another process/);
    const run = parseJson(result);
    expect(run.status).toBe("succeeded");
    expect(ran(w)).toHaveLength(4);
    const shown = parseJson(await w.cli(["show", run.id, "--json"]));
    expect(shown.status).toBe("succeeded");
    expect(shown.steps.map((s: any) => s.status)).toEqual(["succeeded", "succeeded"]);
    expect(shown.finished_at).not.toBeNull();
    expect(w.events().filter((e) => e.event === "failure")).toEqual([]);
    expect(w.events().filter((e) => e.event === "success")).toHaveLength(2);
  });
});
