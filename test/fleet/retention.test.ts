// Hub retention (issue 18 item 6) against a private PostgreSQL 15 set up by `fleet init-db --print`:
// two years of monthly runs of one host; `holdfast fleet prune` with the pruner role deletes the
// finished runs older than fleet.keep_runs_months (and their steps), keeps the newer ones and a
// running one, and leaves the daily rollups and each job's latest state exactly as they were. A
// host's writer role and the viewer cannot prune.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const HOST_ID = "h-retention-0000000001";
let server: PostgresServer;
let root: string;
let hub: TestConfig;
const urlFiles: Record<string, string> = {};

const q = (sql: string) => server.sql(sql, "fleet");

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE DATABASE fleet");
  root = makeSharedDir("holdfast-fleet-prune-");
  hub = writeTestConfig(root, {
    host: "hub",
    fleet: { url_file: path.join(root, "viewer.url"), keep_runs_months: 6 },
    jobs: {},
  });
  const script = await hub.run(["fleet", "init-db", "--print", "--host", `r1=${HOST_ID}`]);
  expectExit(script, 0);
  expect(script.stdout).toMatch(/\\password holdfast_pruner/);
  await server.sql(script.stdout, "fleet");
  for (const [role, file] of [
    ["holdfast_pruner", "pruner"],
    ["holdfast_viewer", "viewer"],
    ["holdfast_host_r1", "writer"],
  ] as const) {
    await server.sql(`ALTER ROLE ${role} PASSWORD 'pw-${file}'`);
    urlFiles[file] = path.join(root, `${file}.url`);
    fs.writeFileSync(urlFiles[file], `postgresql://${role}:pw-${file}@127.0.0.1:${server.port}/fleet\n`, {
      mode: 0o600,
    });
  }
  // Two years of monthly runs, each with two steps, recorded as the superuser (the trigger keeps the
  // rollups), and one run left running 20 months ago.
  const store = createPostgresStore({
    url: `postgresql://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/fleet`,
    hostId: HOST_ID,
  });
  try {
    const now = Date.now();
    for (let k = 0; k < 24; k++) {
      const id = `m-${String(k).padStart(2, "0")}`;
      const started = new Date(now - k * 30.5 * 86_400_000 - 3_600_000).toISOString();
      const finished = new Date(Date.parse(started) + 60_000).toISOString();
      await store.createRun({
        id,
        job: "nightly",
        host: "r1",
        trigger: "schedule",
        pid: 1,
        started_at: started,
        steps: [
          { name: "backup", type: "backup" },
          { name: "check", type: "check" },
        ],
      });
      for (const i of [0, 1]) {
        await store.updateStep(id, i, { status: "running", started_at: started, attempts: 1 });
        await store.updateStep(id, i, {
          status: "succeeded",
          finished_at: finished,
          duration_ms: 1000,
          exit_code: 0,
        });
      }
      await store.finishRun(id, {
        status: k % 5 === 3 ? "failed" : "succeeded",
        exit_code: k % 5 === 3 ? 1 : 0,
        finished_at: finished,
        duration_ms: 60_000,
      });
    }
    await store.createRun({
      id: "still-running",
      job: "nightly",
      host: "r1",
      trigger: "schedule",
      pid: 1,
      started_at: new Date(now - 20 * 30.5 * 86_400_000).toISOString(),
      steps: [{ name: "backup", type: "backup" }],
    });
  } finally {
    await store.close();
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (root) removeDir(root);
});

describe("fleet prune (hub retention)", () => {
  it("deletes only finished runs older than keep_runs_months; rollups and latest states stay", async () => {
    const old = Number(
      await q(
        "SELECT count(*) FROM holdfast.runs WHERE started_at < now() - interval '6 months' AND status <> 'running'",
      ),
    );
    expect(old).toBeGreaterThan(10);
    const rollupsBefore = await q(
      "SELECT string_agg(concat_ws(':', day, runs, succeeded, failed, duration_ms), ',' ORDER BY day) FROM holdfast.runs_daily",
    );
    expect(rollupsBefore.split(",")).toHaveLength(24);
    const latestBefore = await q("SELECT string_agg(t::text, ',') FROM holdfast.job_latest t");
    const totalBefore = Number(await q("SELECT count(*) FROM holdfast.runs"));

    const dry = parseJson<{ deleted: number; dry_run: boolean }>(
      await hub.run(["fleet", "prune", "--dry-run", "--json", "--url-file", urlFiles.pruner!]),
    );
    expect(dry).toMatchObject({ deleted: old, dry_run: true });
    expect(Number(await q("SELECT count(*) FROM holdfast.runs"))).toBe(totalBefore);

    const r = await hub.run(["fleet", "prune", "--json", "--url-file", urlFiles.pruner!]);
    expectExit(r, 0);
    const result = parseJson<{ deleted: number; remaining: number; keep_months: number }>(r);
    expect(result).toMatchObject({ deleted: old, remaining: totalBefore - old, keep_months: 6 });
    expect(
      await q(
        "SELECT count(*) FROM holdfast.runs WHERE started_at < now() - interval '6 months' AND status <> 'running'",
      ),
    ).toBe("0");
    expect(await q("SELECT count(*) FROM holdfast.runs WHERE run_id = 'still-running'")).toBe("1");
    // The deleted runs' steps went with them.
    expect(
      await q(
        "SELECT count(*) FROM holdfast.steps s WHERE NOT EXISTS (SELECT 1 FROM holdfast.runs r WHERE r.host_id = s.host_id AND r.run_id = s.run_id)",
      ),
    ).toBe("0");
    expect(Number(await q("SELECT count(*) FROM holdfast.steps"))).toBe((totalBefore - old - 1) * 2 + 1);
    // Kept forever: the daily rollups and each job's latest state.
    expect(
      await q(
        "SELECT string_agg(concat_ws(':', day, runs, succeeded, failed, duration_ms), ',' ORDER BY day) FROM holdfast.runs_daily",
      ),
    ).toBe(rollupsBefore);
    expect(await q("SELECT string_agg(t::text, ',') FROM holdfast.job_latest t")).toBe(latestBefore);
    // Again: nothing left to delete.
    const again = parseJson<{ deleted: number }>(
      await hub.run(["fleet", "prune", "--json", "--url-file", urlFiles.pruner!]),
    );
    expect(again.deleted).toBe(0);
  }, 120_000);

  it("refuses a host's writer role and the viewer, and a hub without keep_runs_months", async () => {
    const total = await q("SELECT count(*) FROM holdfast.runs");
    await q("UPDATE holdfast.runs SET started_at = started_at - interval '2 years' WHERE run_id = 'm-00'");
    for (const who of ["writer", "viewer"]) {
      const r = await hub.run(["fleet", "prune", "--url-file", urlFiles[who]!]);
      expect(r.code, who).toBe(1);
      expect(r.stderr).toMatch(/lacks the privilege/);
      expect(r.stderr).not.toContain(`pw-${who}`);
    }
    expect(await q("SELECT count(*) FROM holdfast.runs")).toBe(total);
    const dir = path.join(root, "nokeep");
    fs.mkdirSync(dir);
    const plain = writeTestConfig(dir, { fleet: { url_file: urlFiles.viewer! }, jobs: {} });
    const r = await plain.run(["fleet", "prune"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/keep_runs_months/);
  }, 120_000);
});
