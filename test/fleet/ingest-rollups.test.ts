// What the hub keeps per job from replicated batches (src/fleet/ingest.ts; the runs triggers of
// migration 6, once per statement): several runs of one job in one batch, a running run finished by
// a later batch, and a replay of both — job_latest says the newest run, the newest success and the
// latest failure; runs_daily counts each run once, when it stops running; steps and step_latest
// follow the newest records. Against a private PostgreSQL 15, through ingestBatch as `fleet sync` does.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestBatch, type IngestItem } from "../../src/fleet/ingest.js";
import { migratePostgres, createPgPool } from "../../src/store/postgres/postgres-store.js";
import type { RunRecord, RunStatus } from "../../src/store/types.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";

let server: PostgresServer;
let pool: pg.Pool;
const HOST = { host_id: "h-rollups-000000000001", display_name: "r", fingerprint: "fp" };
const DAY = Date.UTC(2026, 11, 1);

function run(n: number, status: RunStatus, job = "nightly"): RunRecord {
  const started = new Date(DAY + n * 3_600_000).toISOString();
  const finished = status === "running" ? null : new Date(DAY + n * 3_600_000 + 60_000).toISOString();
  return {
    id: `r-${n}`,
    job,
    host: "r",
    trigger: "schedule",
    status,
    exit_code: status === "running" ? null : status === "succeeded" ? 0 : 1,
    started_at: started,
    finished_at: finished,
    duration_ms: finished === null ? null : 60_000,
    pid: 1,
    error: null,
    steps: [
      {
        index: 0,
        name: "say",
        type: "exec",
        status: status === "running" ? "running" : status === "failed" ? "failed" : "succeeded",
        started_at: started,
        finished_at: finished,
        duration_ms: finished === null ? null : 60_000,
        exit_code: finished === null ? null : status === "failed" ? 1 : 0,
        attempts: 1,
        error: null,
        summary: null,
        targets: [],
        log_path: null,
      },
    ],
    notifications: [],
  };
}
const item = (record: RunRecord, hostSeq: number, version: number): IngestItem => ({
  record,
  hostSeq,
  version,
});

const q = async (sql: string) => (await pool.query(sql)).rows;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE DATABASE fleet");
  pool = createPgPool(
    `postgresql://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/fleet`,
  );
  await migratePostgres(pool, "test");
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

describe("the hub's per-job state from replicated batches", () => {
  it("keeps the newest run, the newest success, the latest failure and counts each finished run once", async () => {
    const c = await pool.connect();
    try {
      // One batch: a success, a failure, a warning, then a run still going.
      let r = await ingestBatch(c, HOST, [
        item(run(1, "succeeded"), 1, 1),
        item(run(2, "failed"), 2, 2),
        item(run(3, "warning"), 3, 3),
        item(run(4, "running"), 4, 4),
      ]);
      expect(r).toEqual({ applied: 4, unchanged: 0 });
      let [latest] = await q("SELECT * FROM holdfast.job_latest");
      expect(latest).toMatchObject({ last_run_id: "r-4", last_status: "running" });
      expect(latest.last_success_at.toISOString()).toBe(run(3, "warning").finished_at);
      expect(latest.last_failure_at.toISOString()).toBe(run(2, "failed").finished_at);
      let daily = await q(
        "SELECT runs, succeeded, warning, failed, other, duration_ms FROM holdfast.runs_daily",
      );
      expect(daily).toEqual([
        { runs: 3, succeeded: 1, warning: 1, failed: 1, other: 0, duration_ms: 180000 },
      ]);

      // A later batch finishes the running run and adds a failed one; then both are replayed.
      const finished = run(4, "succeeded");
      r = await ingestBatch(c, HOST, [item(finished, 4, 6), item(run(5, "failed"), 5, 7)]);
      expect(r).toEqual({ applied: 2, unchanged: 0 });
      r = await ingestBatch(c, HOST, [item(finished, 4, 6), item(run(5, "failed"), 5, 7)]);
      expect(r).toEqual({ applied: 0, unchanged: 2 });
      [latest] = await q("SELECT * FROM holdfast.job_latest");
      expect(latest).toMatchObject({ last_run_id: "r-5", last_status: "failed" });
      expect(latest.last_success_at.toISOString()).toBe(finished.finished_at);
      expect(latest.last_failure_at.toISOString()).toBe(run(5, "failed").finished_at);
      daily = await q("SELECT runs, succeeded, warning, failed, other FROM holdfast.runs_daily");
      expect(daily).toEqual([{ runs: 5, succeeded: 2, warning: 1, failed: 2, other: 0 }]);

      // Steps: one per run, the finished state; step_latest: the newest run's record.
      expect(await q("SELECT run_id, status FROM holdfast.steps ORDER BY run_seq")).toEqual([
        { run_id: "r-1", status: "succeeded" },
        { run_id: "r-2", status: "failed" },
        { run_id: "r-3", status: "succeeded" },
        { run_id: "r-4", status: "succeeded" },
        { run_id: "r-5", status: "failed" },
      ]);
      expect(await q("SELECT run_id, status FROM holdfast.step_latest")).toEqual([
        { run_id: "r-5", status: "failed" },
      ]);
      // An older failure arriving late does not move the last failure back.
      await ingestBatch(c, HOST, [item({ ...run(0, "failed"), id: "r-0-late" }, 6, 8)]);
      [latest] = await q("SELECT * FROM holdfast.job_latest");
      expect(latest).toMatchObject({ last_run_id: "r-0-late" });
      expect(latest.last_failure_at.toISOString()).toBe(run(5, "failed").finished_at);
    } finally {
      c.release();
    }
  }, 120_000);
});
