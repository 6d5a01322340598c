// R10: the history DB write-locked by another process, or damaged. The lock is held by a real second
// process — python3's sqlite3 module in `BEGIN EXCLUSIVE`, as a `sqlite3` shell left in a transaction
// or a backup tool would — until the test tells it to let go. What must hold under the lock: `watch`
// (the dead man's switch), `status`, `status --check` and `doctor` answer at once and truthfully (a
// fresh job is fresh, a stale one stale and notified once, the lock named by doctor); `holdfast run`
// backs up (real restic, local repository) and no succeeded step is recorded `cancelled`; and after
// the release every write arrives — the run's whole record, the stale episode, the interrupted mark
// of a run whose holdfast was SIGKILLed (announced `failure` once). Damaged: the backup still runs and
// is notified as a `failure` of kind `history`; `watch` says stale and notifies; `doctor` says what is
// wrong. (The read-only, EROFS and directory cases are test/store/unusable-history-cli.test.ts.)
//
// Before the fix (store/deferred-writes.ts), under the lock `watch` waited 5 s on a bookkeeping write
// (`first_seen`, the stale episode, the interrupted mark), took the SQLITE_BUSY for an unusable history
// and reported every job stale: exit 2 after ~11 s with a fresh job. The figures: how long each command
// takes under the lock, and how long `run` outlives the lock's release.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { parseJson, startCli, collect, type CliResult } from "../helpers/cli.js";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  STACK_TRACE,
  killMatching,
  processesMatching,
  sleep,
  waitFor,
  writeSmallFiles,
} from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";
import { startReceiver, type Receiver } from "../notify/receiver.js";

const marker = `300.4${String(process.pid).slice(-4)}`;
const figures: string[] = [];
let root: string;
let cfg: TestConfig;
let hook: Receiver;
let repo: { repo: string; passwordFile: string };
const holders: ChildProcess[] = [];

beforeAll(async () => {
  root = makeSharedDir("holdfast-r10-");
  const src = path.join(root, "src");
  writeSmallFiles(src, 500);
  repo = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r10-pw") };
  resticInit(repo);
  hook = await startReceiver();
  cfg = writeTestConfig(root, {
    repositories: { r: { url: repo.repo, password_file: repo.passwordFile } },
    sources: { s: { paths: [src] } },
    notifications: {
      hook: {
        type: "webhook",
        url: `${hook.url}/hook`,
        events: ["failure", "stale", "success"],
        timeout: "5s",
      },
    },
    jobs: {
      nightly: {
        max_age: "1h",
        notify: ["hook"],
        steps: [
          { name: "prepare", type: "exec", command: ["sh", "-c", "echo prepared"] },
          { name: "backup", type: "backup", source: "s", repos: ["r"] },
          { name: "after", type: "exec", command: ["sh", "-c", "sleep 0.2; echo after"] },
        ],
      },
      old: { max_age: "2s", notify: ["hook"], steps: [{ name: "x", type: "exec", command: ["true"] }] },
      crashed: {
        notify: ["hook"],
        steps: [{ name: "long", type: "exec", command: ["sleep", marker] }],
      },
    },
  });
});

afterEach(async () => {
  for (const h of holders.splice(0)) if (h.exitCode === null) h.kill("SIGKILL");
  await killMatching(marker);
});

afterAll(async () => {
  console.log(figures.join("\n"));
  await hook?.close();
  removeDir(root);
});

const events = (event: string) =>
  hook.requests.map((r) => JSON.parse(r.text)).filter((e: { event: string }) => e.event === event);
const db = () => path.join(cfg.stateDir, "history.db");
const noStack = (r: CliResult) => expect(r.stderr).not.toMatch(STACK_TRACE);

/** Another process holds BEGIN EXCLUSIVE on history.db until release() (a newline on its stdin). */
async function holdWriteLock(): Promise<{ release(): Promise<number> }> {
  const holder = spawn(
    "python3",
    [
      "-c",
      `import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")
print("released", flush=True)`,
      db(),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  holders.push(holder);
  let out = "";
  holder.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  await waitFor(() => out.includes("locked"), 10_000, "python3 to lock history.db");
  return {
    async release() {
      holder.stdin?.end("\n");
      await waitFor(() => out.includes("released"), 10_000, "python3 to release history.db");
      return Date.now();
    },
  };
}

describe("R10: history.db write-locked by another process", () => {
  test("watch, status, --check and doctor answer at once and truly; run backs up; every write arrives after", async () => {
    expect((await cfg.run(["run", "--quiet", "old"])).code).toBe(0);
    expect((await cfg.run(["run", "--quiet", "nightly"])).code).toBe(0);
    // A run whose holdfast dies (SIGKILL) in the middle: left `running` in the history.
    const crashing = startCli(["--config", cfg.file, "run", "crashed"], { cwd: root });
    const crashedExit = collect(crashing);
    await waitFor(
      () => processesMatching(marker).some((p) => p.cmdline.startsWith("sleep")),
      30_000,
      "the step",
    );
    crashing.kill("SIGKILL");
    await crashedExit;
    await killMatching(marker);
    const snapshotsBefore = resticSnapshots(repo).length;
    await sleep(2_500); // `old` (max_age 2s) is stale now; `nightly` (1h) is fresh.
    const before = hook.requests.length;

    const lock = await holdWriteLock();
    const watch = await cfg.run(["watch", "--json"]);
    noStack(watch);
    expect(watch.stderr).not.toMatch(/no job can be shown fresh/);
    expect(watch.code, watch.stderr).toBe(2);
    const jobs = Object.fromEntries(parseJson(watch).jobs.map((j: any) => [j.job, j]));
    expect(jobs.nightly).toMatchObject({ stale: false, state: "ok" });
    expect(jobs.old).toMatchObject({ stale: true, notice: "sent" });
    expect(events("stale").map((e) => e.job)).toEqual(["old"]);
    expect(events("stale")[0].details.history_error).toBeUndefined();
    // A second check during the same lock: the episode is known (kept in pending-history/), no resend.
    const watch2 = await cfg.run(["watch", "--json"]);
    expect(watch2.code).toBe(2);
    expect(parseJson(watch2).jobs.find((j: any) => j.job === "old").notice).toBe("already_sent");
    expect(events("stale")).toHaveLength(1);

    const status = await cfg.run(["status", "--json"]);
    noStack(status);
    expect(status.code).toBe(0);
    expect(parseJson(status).jobs.find((j: any) => j.name === "nightly")).toMatchObject({
      state: "ok",
      stale: false,
    });
    const check = await cfg.run(["status", "--check"]);
    expect(check.stdout).toMatch(/^HOLDFAST CRITICAL - old stale/);
    expect(check.stdout).not.toMatch(/nightly|UNKNOWN/);
    expect(check.code).toBe(2);
    const doctor = await cfg.run(["doctor", "--json"]);
    noStack(doctor);
    const historyChecks = parseJson(doctor).checks.filter((c: any) => c.check === "history");
    expect(historyChecks.map((c: any) => c.message).join("\n")).toMatch(
      /locked for writing by another process/,
    );

    // The backup under the lock: its steps do not wait; the run's record waits for the release.
    const running = startCli(["--config", cfg.file, "run", "nightly"], { cwd: root });
    const runExit = collect(running, { timeoutMs: 180_000 });
    let runOut = "";
    running.stdout?.on("data", (d: Buffer) => (runOut += d.toString()));
    await waitFor(() => /\[after\] succeeded/.test(runOut), 120_000, "the run's last step to succeed");
    await sleep(1_000);
    expect(running.exitCode).toBeNull(); // waiting for the history, not lost
    const releasedAt = await lock.release();
    const run = await runExit;
    const runLag = Date.now() - releasedAt;
    noStack(run);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/locked by another process/);
    expect(resticSnapshots(repo)).toHaveLength(snapshotsBefore + 1);

    // After the release: every write arrives.
    const history = parseJson(await cfg.run(["history", "nightly", "--json"]));
    const last = history.runs[0];
    expect(last.status).toBe("succeeded");
    expect(last.steps.map((s: any) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(last.finished_at).not.toBeNull();
    expect(
      fs.readdirSync(path.join(cfg.stateDir, "pending-history")).filter((f) => f.endsWith(".json")),
    ).toEqual([]);
    const watch3 = await cfg.run(["watch", "--json"]);
    expect(parseJson(watch3).jobs.find((j: any) => j.job === "old").notice).toBe("already_sent");
    expect(events("stale")).toHaveLength(1);
    const crashed = parseJson(await cfg.run(["history", "crashed", "--json"])).runs[0];
    expect(crashed.status).toBe("interrupted");
    expect(events("failure").map((e) => e.job)).toEqual(["crashed"]);
    expect(events("success").filter((e) => e.job === "nightly")).toHaveLength(2);
    expect(hook.requests.length - before).toBe(3); // stale(old), success(nightly), failure(crashed)

    figures.push(
      `R10 locked: watch ${watch.durationMs} ms (then ${watch2.durationMs} ms), status ${status.durationMs} ms, ` +
        `status --check ${check.durationMs} ms, doctor ${doctor.durationMs} ms under the lock, all truthful; ` +
        `run backed up under it and exited ${runLag} ms after the release, its record complete; ` +
        `stale episode, interrupted mark and 3 notifications arrived once`,
    );
  });
});

describe("R10: history.db damaged", () => {
  test("the backup runs and the failure is notified; watch says stale; doctor names it", async () => {
    const snapshotsBefore = resticSnapshots(repo).length;
    const failuresBefore = events("failure").length;
    const staleBefore = events("stale").length;
    const fd = fs.openSync(db(), "r+");
    fs.writeSync(fd, Buffer.alloc(100, "x"), 0, 100, 0);
    fs.closeSync(fd);
    for (const f of [`${db()}-wal`, `${db()}-shm`]) fs.rmSync(f, { force: true });

    const run = await cfg.run(["run", "--json", "nightly"]);
    noStack(run);
    expect(run.code, run.stderr).toBe(1);
    const record = parseJson(run);
    expect(record).toMatchObject({ status: "failed", error: { kind: "history" } });
    expect(record.steps.map((s: any) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(resticSnapshots(repo)).toHaveLength(snapshotsBefore + 1);
    expect(
      events("failure")
        .slice(failuresBefore)
        .map((e) => [e.job, e.run.error.kind]),
    ).toEqual([["nightly", "history"]]);

    const watch = await cfg.run(["watch", "--json"]);
    noStack(watch);
    expect(watch.code).toBe(2);
    expect(
      parseJson(watch)
        .jobs.filter((j: any) => j.stale)
        .map((j: any) => j.job)
        .sort(),
    ).toEqual(["nightly", "old"]);
    expect(events("stale").length - staleBefore).toBe(2);
    const doctor = parseJson(await cfg.run(["doctor", "--json"]));
    const error = doctor.checks.find((c: any) => c.check === "history" && c.status === "error");
    expect(error?.message).toMatch(/not a readable SQLite database/);

    // doctor's fix: move it aside; the kept record goes into the new history.
    fs.renameSync(db(), `${db()}.broken`);
    const history = parseJson(await cfg.run(["history", "--json"]));
    expect(history.runs.map((r: any) => r.id)).toEqual([record.id]);
    figures.push(
      `R10 damaged: backup ran (snapshot made), run failed kind history and notified; watch stale for both ` +
        `max_age jobs and notified; doctor: not a readable SQLite database; record added after the move`,
    );
  });
});
