import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { RunStore } from "../../src/store/types.js";
import { at, describeRunStoreContract, newRun } from "./run-store-contract.js";

const betterSqlitePath = createRequire(import.meta.url).resolve("better-sqlite3");

describeRunStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "holdfast-store-"));
  const store = createSqliteStore({ path: join(dir, "state", "history.db") });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("SQLite store", () => {
  let dir: string;
  let dbPath: string;
  const open: RunStore[] = [];
  const children: ChildProcess[] = [];

  const openStore = (options: { readonly?: boolean; maxPageCount?: number } = {}): RunStore => {
    const store = createSqliteStore({ path: dbPath, ...options });
    open.push(store);
    return store;
  };

  /** Runs a script in a second node process with better-sqlite3 and the DB path; resolves on its first stdout line. */
  const spawnSqliteChild = (script: string): { child: ChildProcess; firstLine: Promise<string> } => {
    const child = spawn(
      process.execPath,
      ["-e", `const Database = require(${JSON.stringify(betterSqlitePath)});\n${script}`],
      {
        env: { ...process.env, DB: dbPath },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const firstLine = new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.on("exit", (code, signal) =>
        reject(new Error(`child exited (${code ?? signal}) before a line: ${stderr}`)),
      );
    });
    return { child, firstLine };
  };

  const exited = (child: ChildProcess): Promise<number | null> =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise((resolve) => child.on("exit", (code) => resolve(code)));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "holdfast-sqlite-"));
    dbPath = join(dir, "state", "history.db");
  });

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const store of open.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe("files", () => {
    it("creates the directory 0700 and the database, -wal and -shm 0600, whatever the umask", async () => {
      const previous = process.umask(0o000);
      try {
        const store = openStore();
        await store.createRun(newRun("r1", "a", at(0)));
        expect((await stat(join(dir, "state"))).mode & 0o777).toBe(0o700);
        for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
          expect({ file, mode: (await stat(file)).mode & 0o777 }).toEqual({ file, mode: 0o600 });
        }
      } finally {
        process.umask(previous);
      }
    });

    it("leaves the mode of a directory that already existed alone", async () => {
      await mkdir(join(dir, "state"), { mode: 0o750 });
      openStore();
      expect((await stat(join(dir, "state"))).mode & 0o777).toBe(0o750);
      expect((await stat(dbPath)).mode & 0o777).toBe(0o600);
    });

    it("keeps everything across a close and reopen", async () => {
      const first = openStore();
      await first.createRun(newRun("r1", "a", at(0)));
      await first.updateStep("r1", 0, { status: "running", started_at: at(0) });
      await first.updateStep("r1", 0, { status: "succeeded", finished_at: at(1), summary: { n: 1 } });
      await first.addNotification("r1", {
        notifier: "n",
        event: "e",
        ok: true,
        at: at(2),
        attempts: 1,
        error: null,
      });
      await first.finishRun("r1", {
        status: "succeeded",
        exit_code: 0,
        finished_at: at(2),
        duration_ms: 120_000,
      });
      await first.setState("k", "v");
      const run = await first.getRun("r1");
      const summaries = await first.jobSummaries(["a"]);
      await first.close();

      const second = openStore();
      expect(await second.getRun("r1")).toEqual(run);
      expect(await second.jobSummaries(["a"])).toEqual(summaries);
      expect(await second.getState("k")).toBe("v");
    });
  });

  describe("schema", () => {
    it("numbers its migrations 1, 2, … with no gaps", () => {
      expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
      expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
    });

    it("migrates a new file to the latest version, in WAL mode, with its indexes", async () => {
      // An empty file is what an interrupted first start leaves behind.
      await mkdir(join(dir, "state"), { recursive: true });
      await writeFile(dbPath, "");
      await openStore().close();
      const db = new Database(dbPath, { readonly: true });
      try {
        expect(db.pragma("user_version", { simple: true })).toBe(LATEST_SCHEMA_VERSION);
        expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
        const names = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema ORDER BY name").all();
        expect(names.map((n) => n.name)).toEqual(
          expect.arrayContaining([
            "runs",
            "steps",
            "notifications",
            "step_latest",
            "state",
            "runs_by_seq",
            "runs_by_job_seq",
            "runs_by_job_status_seq",
            "runs_by_status_seq",
            "steps_success_history",
            "notifications_by_run",
          ]) as unknown,
        );
      } finally {
        db.close();
      }
    });

    it("answers status and history queries from indexes, never a scan or a sort of the runs", () => {
      openStore();
      const db = new Database(dbPath, { readonly: true });
      try {
        const plan = (sql: string) =>
          db
            .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
            .all()
            .map((r) => r.detail)
            .join("; ");
        const queries = [
          "SELECT * FROM runs ORDER BY seq DESC LIMIT 50",
          "SELECT * FROM runs WHERE job = 'a' ORDER BY seq DESC LIMIT 50",
          "SELECT * FROM runs WHERE job = 'a' AND seq < 5 ORDER BY seq DESC LIMIT 50",
          "SELECT * FROM runs WHERE job = 'a' AND started_ms < 5 ORDER BY seq DESC LIMIT 50",
          "SELECT * FROM runs WHERE status = 'failed' ORDER BY seq DESC LIMIT 50",
          "SELECT * FROM runs WHERE job = 'a' AND status = 'failed' ORDER BY seq DESC LIMIT 50",
          "SELECT seq, started_at FROM runs WHERE job = 'a' AND status = 'warning' ORDER BY seq DESC LIMIT 1",
          "SELECT max(seq) AS seq FROM runs",
          "SELECT * FROM steps WHERE job = 'a' AND name = 'b' AND status IN ('succeeded', 'warning') ORDER BY run_seq DESC LIMIT 5",
          "SELECT * FROM steps WHERE run_id = 'x' ORDER BY idx",
          "SELECT * FROM notifications WHERE run_id = 'x' ORDER BY id",
        ];
        for (const sql of queries) {
          const detail = plan(sql);
          expect({ sql, detail }).toEqual({ sql, detail: expect.stringMatching(/USING (COVERING )?INDEX/) });
          // A temp b-tree would mean sorting every matching row before the LIMIT applies.
          expect({ sql, detail }).not.toEqual({
            sql,
            detail: expect.stringMatching(/TEMP B-TREE|SCAN \w+$/),
          });
        }
      } finally {
        db.close();
      }
    });

    it("upgrades a version 1 history: runs keep the order they were recorded in, not their dates", async () => {
      // Version 1 ordered by started_at: a failure recorded with a clock behind hid behind the success.
      await mkdir(join(dir, "state"), { recursive: true });
      const v1 = new Database(dbPath);
      v1.exec(MIGRATIONS[0]?.sql ?? "");
      const insertRun = v1.prepare(
        `INSERT INTO runs (id, job, host, trigger, status, started_at, started_ms, finished_at, pid)
         VALUES (?, 'a', 'vm', 'manual', ?, ?, ?, ?, 1)`,
      );
      const insertStep = v1.prepare(
        `INSERT INTO steps (run_id, idx, job, name, type, status, started_at, started_ms)
         VALUES (?, 0, 'a', 'hello', 'exec', ?, ?, ?)`,
      );
      const rows: Array<[string, string, string]> = [
        ["first", "succeeded", "2026-11-26T03:00:00.000Z"],
        ["ahead", "succeeded", "2027-12-31T03:00:00.000Z"],
        ["behind", "failed", "2026-11-26T02:00:00.000Z"],
      ];
      for (const [id, status, startedAt] of rows) {
        insertRun.run(id, status, startedAt, Date.parse(startedAt), startedAt);
        insertStep.run(id, status, startedAt, Date.parse(startedAt));
      }
      v1.prepare(
        `INSERT INTO step_latest (job, name, type, run_id, idx, status, started_at, order_ms)
         VALUES ('a', 'hello', 'exec', 'ahead', 0, 'succeeded', ?, ?)`,
      ).run(rows[1]?.[2], Date.parse(rows[1]?.[2] ?? ""));
      v1.pragma("user_version = 1");
      v1.close();

      const store = openStore();
      expect((await store.listRuns({ limit: 10 })).map((r) => r.id)).toEqual(["behind", "ahead", "first"]);
      const [a] = await store.jobSummaries(["a"]);
      expect(a?.last_run?.id).toBe("behind");
      expect(a?.last_failure_at).toBe(rows[2]?.[2]);
      expect(a?.steps.map((st) => [st.run_id, st.status])).toEqual([["behind", "failed"]]);
      // New runs go after the migrated ones, whatever their dates.
      await store.createRun({
        id: "next",
        job: "a",
        host: "vm",
        trigger: "manual",
        pid: 1,
        started_at: "2020-01-01T00:00:00.000Z",
        steps: [{ name: "hello", type: "exec" }],
      });
      await store.updateStep("next", 0, { status: "succeeded", started_at: "2020-01-01T00:00:00.000Z" });
      expect((await store.listRuns({ limit: 1 })).map((r) => r.id)).toEqual(["next"]);
      expect((await store.stepHistory("a", "hello", 10)).map((st) => st.started_at)).toEqual([
        "2020-01-01T00:00:00.000Z",
        rows[1]?.[2],
        rows[0]?.[2],
      ]);
      await store.close();
    });

    it("refuses a database written by a newer holdfast, and leaves it as it is", async () => {
      await openStore().close();
      const db = new Database(dbPath);
      db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
      db.close();
      expect(() => createSqliteStore({ path: dbPath })).toThrow(StoreError);
      expect(() => createSqliteStore({ path: dbPath })).toThrow(/newer.*upgrade holdfast/);
      expect(() => createSqliteStore({ path: dbPath, readonly: true })).toThrow(/newer/);
      const after = new Database(dbPath, { readonly: true });
      expect(after.pragma("user_version", { simple: true })).toBe(LATEST_SCHEMA_VERSION + 1);
      after.close();
    });
  });

  describe("errors", () => {
    it("names the file and the way out when the file is not a database", async () => {
      await mkdir(join(dir, "state"));
      await writeFile(dbPath, "this is not a database, it is a shopping list\n".repeat(200));
      const open = () => createSqliteStore({ path: dbPath });
      expect(open).toThrow(StoreError);
      expect(open).toThrow(dbPath);
      expect(open).toThrow(/move it aside|restore it from a backup/);
    });

    it("names the file when it cannot be opened at all", async () => {
      await mkdir(dbPath, { recursive: true });
      const open = () => createSqliteStore({ path: dbPath });
      expect(open).toThrow(StoreError);
      expect(open).toThrow(dbPath);
    });

    it("refuses to open a missing database read-only rather than create it", async () => {
      expect(() => createSqliteStore({ path: dbPath, readonly: true })).toThrow(StoreError);
      await expect(stat(dbPath)).rejects.toThrow(/ENOENT/);
    });

    it("reads but never writes when opened read-only", async () => {
      const writer = openStore();
      await writer.createRun(newRun("r1", "a", at(0)));
      const reader = openStore({ readonly: true });
      expect((await reader.getRun("r1"))?.id).toBe("r1");
      expect(await reader.listRuns({ limit: 5 })).toHaveLength(1);
      await expect(reader.createRun(newRun("r2", "a", at(1)))).rejects.toThrow(/read-only/);
      await expect(reader.setState("k", "v")).rejects.toBeInstanceOf(StoreError);
      await writer.createRun(newRun("r3", "a", at(2)));
      expect(await reader.countRuns()).toBe(2);
    });

    it("reports a full disk clearly, and the history stays readable and whole (R7)", async () => {
      const seed = openStore();
      await seed.createRun(newRun("r0", "a", at(0)));
      await seed.close();

      const store = openStore({ maxPageCount: 60 });
      const big = { blob: "x".repeat(20_000) };
      let failure: unknown = null;
      let written = 0;
      for (let i = 1; i < 200 && failure === null; i++) {
        try {
          await store.createRun(newRun(`r${i}`, "a", at(i), ["one", "two", "three"]));
          for (const index of [0, 1, 2])
            await store.updateStep(`r${i}`, index, { status: "succeeded", summary: big });
          written = i;
        } catch (err) {
          failure = err;
        }
      }
      expect(failure).toBeInstanceOf(StoreError);
      expect((failure as StoreError).message).toMatch(/disk .* is full/);
      expect((failure as StoreError).message).toContain(dbPath);
      expect(((failure as StoreError).cause as { code?: string }).code).toBe("SQLITE_FULL");

      // The same store still answers, and a fresh one sees every committed write and nothing half-done.
      expect((await store.getRun("r0"))?.id).toBe("r0");
      await store.close();
      const after = openStore();
      expect((await after.listRuns({ limit: 500 })).length).toBeGreaterThanOrEqual(written + 1);
      const partial = await after.getRun(`r${written + 1}`);
      if (partial !== null) expect(partial.steps).toHaveLength(3);
      const db = new Database(dbPath, { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      expect(db.pragma("foreign_key_check")).toEqual([]);
      db.close();
    });
  });

  describe("several processes", () => {
    it("waits for another process's write transaction instead of failing with SQLITE_BUSY", async () => {
      const store = openStore();
      await store.createRun(newRun("r1", "a", at(0)));
      const { child, firstLine } = spawnSqliteChild(`
        const db = new Database(process.env.DB);
        db.exec("BEGIN IMMEDIATE");
        db.prepare("INSERT INTO state (key, value) VALUES ('child', 'wrote')").run();
        console.log("locked");
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        db.exec("COMMIT");
        db.close();
      `);
      expect(await firstLine).toBe("locked");

      // Readers are never blocked by a writer in WAL mode.
      const readStart = Date.now();
      expect((await store.getRun("r1"))?.id).toBe("r1");
      expect(await store.getState("child")).toBeNull();
      expect(Date.now() - readStart).toBeLessThan(250);

      const writeStart = Date.now();
      await store.createRun(newRun("r2", "a", at(1)));
      expect(Date.now() - writeStart).toBeGreaterThan(300);
      expect(await exited(child)).toBe(0);
      expect(await store.getState("child")).toBe("wrote");
      expect(await store.countRuns()).toBe(2);
    });

    it("runs alongside a process writing in a loop, neither failing", async () => {
      const store = openStore();
      const { child, firstLine } = spawnSqliteChild(`
        const db = new Database(process.env.DB, { timeout: 5000 });
        const put = db.prepare("INSERT INTO state (key, value) VALUES (?, ?)");
        const hold = new Int32Array(new SharedArrayBuffer(4));
        console.log("started");
        for (let i = 0; i < 40; i++) {
          db.transaction(() => {
            put.run("child:" + i, String(i));
            Atomics.wait(hold, 0, 0, 15);
          }).immediate();
        }
        db.close();
      `);
      await firstLine;
      let i = 0;
      while (child.exitCode === null) {
        const id = `p${i}`;
        await store.createRun(newRun(id, i % 2 === 0 ? "a" : "b", at(i)));
        await store.updateStep(id, 0, { status: "running", started_at: at(i) });
        await store.updateStep(id, 0, { status: "succeeded", finished_at: at(i + 0.5) });
        await store.finishRun(id, {
          status: "succeeded",
          exit_code: 0,
          finished_at: at(i + 1),
          duration_ms: 60_000,
        });
        await store.listRuns({ limit: 50 });
        await store.jobSummaries(["a", "b"]);
        i++;
        // Store calls settle without a macrotask; let the child's exit event in.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(child.exitCode).toBe(0);
      expect(i).toBeGreaterThan(0);
      expect(await store.countRuns()).toBe(i);
      expect(await store.getState("child:39")).toBe("39");
    });

    it("opens intact after a process is SIGKILLed mid-transaction: committed work kept, the rest gone", async () => {
      const store = openStore();
      await store.createRun(newRun("before", "a", at(0)));
      await store.updateStep("before", 0, { status: "running", started_at: at(0) });
      await store.close();

      const { child, firstLine } = spawnSqliteChild(`
        const db = new Database(process.env.DB);
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = NORMAL");
        // Never checkpoint and keep the cache tiny, so that both transactions reach the -wal file.
        db.pragma("wal_autocheckpoint = 0");
        db.pragma("cache_size = 8");
        const put = db.prepare("INSERT INTO state (key, value) VALUES (?, ?)");
        const blob = "y".repeat(4000);
        db.transaction(() => { for (let i = 0; i < 500; i++) put.run("committed:" + i, blob); })();
        db.exec("BEGIN IMMEDIATE");
        for (let i = 0; i < 2000; i++) put.run("uncommitted:" + i, blob);
        db.prepare("UPDATE runs SET status = 'failed' WHERE id = 'before'").run();
        console.log("mid-transaction");
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
      `);
      expect(await firstLine).toBe("mid-transaction");
      expect((await stat(`${dbPath}-wal`)).size).toBeGreaterThan(4_000_000);
      child.kill("SIGKILL");
      await exited(child);

      const after = openStore();
      expect((await after.getRun("before"))?.status).toBe("running");
      expect(await after.getState("committed:499")).toBe("y".repeat(4000));
      expect(await after.getState("uncommitted:0")).toBeNull();
      expect(await after.runningRuns()).toEqual([
        { id: "before", job: "a", host: "vm", pid: 4242, started_at: at(0) },
      ]);
      await after.markInterrupted("before", at(1));
      expect((await after.getRun("before"))?.steps[0]?.status).toBe("cancelled");
      const db = new Database(dbPath, { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      db.close();
    });
  });
});
