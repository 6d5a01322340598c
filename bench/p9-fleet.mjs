// P9 (issue 18): the fleet on PostgreSQL at scale. 1,000 hosts × 10 jobs × 1 year of daily runs
// (3.65 M runs, ~20 M step records, 5–6 steps a run) in a private PostgreSQL 15; then
//   - the fleet grid (readFleetView: hosts + heartbeats + job_latest, judged on the hub's clock) ≤ 50 ms
//   - a 50-run host history (GET /api/fleet/hosts/:id/runs's query)                             ≤ 50 ms
//   - ingest from 50 concurrent writers (ingestBatch, 100 runs a transaction, each its own host) ≥ 2,000 runs/s
//   - one host's replay of 10,000 queued runs (syncFleet from a real SQLite history)          ≤ 10 s
// Run after `npm run build`: `node bench/p9-fleet.mjs`. Prints one JSON object on stdout.
// Scaled down for a quick run: HOLDFAST_BENCH_P9_HOSTS (1000), HOLDFAST_BENCH_P9_DAYS (365),
// HOLDFAST_BENCH_P9_JOBS (10), HOLDFAST_BENCH_P9_WRITERS (50), HOLDFAST_BENCH_P9_INGEST_RUNS (20000),
// HOLDFAST_BENCH_P9_REPLAY_RUNS (10000). The server runs with fsync on (PostgreSQL's defaults but
// shared_buffers 512MB); initdb/postgres run as the `postgres` system user (scripts/setup.sh).
// Seeding is set-based (generate_series, secondary indexes and the steps foreign key built after the
// bulk insert, HOLDFAST_BENCH_P9_SEED_JOBS connections side by side, default 2).
// HOLDFAST_BENCH_P9_SEED=grid seeds only what the grid reads (hosts, heartbeats, job_latest: HOSTS ×
// JOBS cells, in seconds) and measures only the grid — its figure at 1,000 × 10 without the full seed.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import process from "node:process";
import console from "node:console";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migratePostgres, createPgPool } from "../dist/store/postgres/postgres-store.js";
import { readFleetView } from "../dist/fleet/fleet-view.js";
import { hostRuns } from "../dist/fleet/hub.js";
import { ingestBatch } from "../dist/fleet/ingest.js";
import { syncFleet } from "../dist/fleet/replicate.js";
import { seedHistory } from "./p7-history.mjs";

const env = (name, def) => Number(process.env[`HOLDFAST_BENCH_P9_${name}`] ?? def);
const HOSTS = env("HOSTS", 1000);
const DAYS = env("DAYS", 365);
const JOBS = env("JOBS", 10);
const WRITERS = env("WRITERS", 50);
const INGEST_RUNS = env("INGEST_RUNS", 20_000);
const REPLAY_RUNS = env("REPLAY_RUNS", 10_000);
const SEED_JOBS = env("SEED_JOBS", 2);
/** full (default): the whole history; grid: only what the grid reads (seedGridOnly). */
const SEED = process.env.HOLDFAST_BENCH_P9_SEED ?? "full";
const PG_BIN = process.env.HOLDFAST_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const log = (m) => process.stderr.write(`p9: ${m}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const id = (f) => Number(spawnSync("id", [f, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-p9-"));
  fs.chmodSync(dir, 0o755);
  const sock = path.join(dir, "sock");
  fs.mkdirSync(sock);
  fs.chownSync(dir, uid, gid);
  fs.chownSync(sock, uid, gid);
  const data = path.join(dir, "data");
  const init = spawnSync(
    path.join(PG_BIN, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
    { uid, gid, encoding: "utf8", cwd: dir },
  );
  if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
  const port = await freePort();
  const logFd = fs.openSync(path.join(dir, "postgres.log"), "a");
  fs.fchownSync(logFd, uid, gid);
  const child = spawn(
    path.join(PG_BIN, "postgres"),
    [
      "-D",
      data,
      "-k",
      sock,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "shared_buffers=512MB",
      "-c",
      "max_connections=120",
      "-c",
      "max_wal_size=4GB",
      "-c",
      "maintenance_work_mem=256MB",
    ],
    { uid, gid, stdio: ["ignore", logFd, logFd], cwd: dir, detached: true, env: { PATH: "/usr/bin:/bin" } },
  );
  fs.closeSync(logFd);
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGINT");
    } catch {
      /* gone */
    }
  };
  process.on("exit", () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 300; i++) {
    const probe = spawnSync(path.join(PG_BIN, "pg_isready"), ["-q", "-h", sock, "-p", String(port)]);
    if (probe.status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const admin = `postgresql://postgres@/postgres?host=${encodeURIComponent(sock)}&port=${port}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query("CREATE DATABASE fleet");
  await c.end();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/fleet`,
    dir,
    stop,
  };
}

const hostId = (h) => `h-bench-${String(h).padStart(6, "0")}`;

// The secondary indexes and the steps → runs foreign key are built once after the bulk insert
// (a sorted build instead of 3.65 M + 20 M random index insertions and 20 M key lookups); the same
// definitions as migration 1 and 4, recreated from pg_indexes/pg_constraint as they were.
async function dropForBulk(c) {
  const idx = await c.query(
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'holdfast' AND tablename IN ('runs', 'steps')
       AND indexname NOT IN ('runs_pkey', 'steps_pkey')`,
  );
  const fk = await c.query(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE conrelid = 'holdfast.steps'::regclass AND contype = 'f'`,
  );
  for (const r of idx.rows) await c.query(`DROP INDEX holdfast.${r.indexname}`);
  for (const r of fk.rows) await c.query(`ALTER TABLE holdfast.steps DROP CONSTRAINT ${r.conname}`);
  return async () => {
    await c.query("SET maintenance_work_mem = '512MB'");
    for (const r of idx.rows) await c.query(r.indexdef);
    for (const r of fk.rows) await c.query(`ALTER TABLE holdfast.steps ADD CONSTRAINT ${r.conname} ${r.def}`);
  };
}

// Runs are numbered as the identity column would (host by host, day by day, job by job), so the
// steps are generated from the same series instead of read back from the runs.
const RUN_SEQ = (DAYS_, JOBS_) => `((h - 1)::bigint * ${DAYS_ * JOBS_} + d * ${JOBS_} + j + 1)`;
const FAILED = "(h * 31 + d * 7 + j) % 41 = 0";

/** Heartbeats of every host: 10 daily jobs, next run tomorrow 00:00 UTC, max_age 2 days. */
async function seedHeartbeats(c) {
  await c.query(
    `INSERT INTO holdfast.heartbeats (host_id, sent_at, received_at, skew_ms, holdfast_version, restic_version, jobs)
     SELECT 'h-bench-' || lpad(h::text, 6, '0'), now(), now(), (h % 7) * 100 - 300, '0.1.0', '0.18.0',
            (SELECT jsonb_agg(jsonb_build_object('job', 'job-' || j, 'schedule', 'daily',
                                'next_run_at', to_char((date_trunc('day', now()) + interval '1 day') AT TIME ZONE 'UTC',
                                                       'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                'randomized_delay_ms', 0, 'max_age_ms', 172800000))
             FROM generate_series(0, $2::int - 1) j)
     FROM generate_series(1, $1) h`,
    [HOSTS, JOBS],
  );
}

async function seed(pool) {
  const t0 = performance.now();
  await migratePostgres(pool, "bench");
  const c = await pool.connect();
  try {
    await c.query("ALTER TABLE holdfast.runs DISABLE TRIGGER USER");
    await c.query(
      `INSERT INTO holdfast.hosts (host_id, display_name, fingerprint, last_received_at)
       SELECT 'h-bench-' || lpad(h::text, 6, '0'), 'host-' || h, 'fp', now() FROM generate_series(1, $1) h`,
      [HOSTS],
    );
    const rebuild = await dropForBulk(c);
    const started = `date_trunc('day', now()) - (${DAYS} - d) * interval '1 day' + j * interval '7 minutes'
                     + (h % 60) * interval '1 minute' + ((h * 13 + j) % 600) * interval '1 second'`;
    const chunk = Math.max(1, Math.floor(200_000 / (DAYS * JOBS)) || 1);
    const ranges = [];
    for (let first = 1; first <= HOSTS; first += chunk)
      ranges.push([first, Math.min(HOSTS, first + chunk - 1)]);
    let done = 0;
    // SEED_JOBS connections insert host ranges side by side (each range one transaction).
    await Promise.all(
      Array.from({ length: Math.min(SEED_JOBS, ranges.length) }, async () => {
        const w = await pool.connect();
        try {
          for (let range = ranges.shift(); range !== undefined; range = ranges.shift()) {
            const [first, last] = range;
            await w.query("BEGIN");
            await w.query(
              `INSERT INTO holdfast.runs (seq, host_id, run_id, host_seq, version, job, host, trigger, status, exit_code,
                                          started_at, finished_at, duration_ms, pid, received_at)
               OVERRIDING SYSTEM VALUE
               SELECT ${RUN_SEQ(DAYS, JOBS)}, 'h-bench-' || lpad(h::text, 6, '0'), 'r-' || d || '-' || j, d * $3 + j + 1,
                      d * $3 + j + 1, 'job-' || j, 'host-' || h, 'schedule', s.status,
                      CASE WHEN s.status = 'failed' THEN 1 ELSE 0 END,
                      t.started, t.started + interval '2 minutes', 120000, 1000 + j,
                      t.started + interval '2 minutes 1 second'
               FROM generate_series($1::int, $2::int) h, generate_series(0, ${DAYS - 1}) d,
                    generate_series(0, $3::int - 1) j,
                    LATERAL (SELECT ${started} AS started) t,
                    LATERAL (SELECT CASE WHEN ${FAILED} THEN 'failed' ELSE 'succeeded' END AS status) s`,
              [first, last, JOBS],
            );
            await w.query(
              `INSERT INTO holdfast.steps (host_id, run_id, idx, run_seq, job, name, type, status, started_at,
                                           finished_at, duration_ms, exit_code, attempts, targets)
               SELECT 'h-bench-' || lpad(h::text, 6, '0'), 'r-' || d || '-' || j, i, ${RUN_SEQ(DAYS, JOBS)}, 'job-' || j,
                      'step-' || i, CASE WHEN i = 0 THEN 'backup' ELSE 'exec' END,
                      CASE WHEN ${FAILED} AND i = 4 THEN 'failed' ELSE 'succeeded' END,
                      t.started, t.started + interval '2 minutes', 20000, 0, 1, '[]'
               FROM generate_series($1::int, $2::int) h, generate_series(0, ${DAYS - 1}) d,
                    generate_series(0, $3::int - 1) j,
                    LATERAL (SELECT ${started} AS started) t,
                    LATERAL generate_series(0, 4 + (${RUN_SEQ(DAYS, JOBS)} % 2)::int) i`,
              [first, last, JOBS],
            );
            await w.query("COMMIT");
            const before = done;
            done += last - first + 1;
            if (Math.floor(done / Math.ceil(HOSTS / 20)) !== Math.floor(before / Math.ceil(HOSTS / 20)))
              log(`seeded hosts ${done}/${HOSTS} (${Math.round((performance.now() - t0) / 1000)} s)`);
          }
        } finally {
          w.release();
        }
      }),
    );
    await c.query(
      `SELECT setval(pg_get_serial_sequence('holdfast.runs', 'seq'), (SELECT max(seq) FROM holdfast.runs))`,
    );
    const t1 = performance.now();
    await rebuild();
    log(`indexes and foreign key built (${Math.round((performance.now() - t1) / 1000)} s)`);
    // What the runs trigger keeps, set-based (as migration 3 backfills).
    await c.query(`INSERT INTO holdfast.job_latest (host_id, job, last_seq, last_run_id, last_status, last_started_at,
                                                   last_finished_at, last_received_at)
      SELECT DISTINCT ON (host_id, job) host_id, job, seq, run_id, status, started_at, finished_at, received_at
      FROM holdfast.runs ORDER BY host_id, job, seq DESC`);
    await c.query(`UPDATE holdfast.job_latest l SET last_success_seq = s.seq, last_success_at = s.at,
                     last_success_received_at = s.received_at
      FROM (SELECT DISTINCT ON (host_id, job) host_id, job, seq, finished_at AS at, received_at
            FROM holdfast.runs WHERE status IN ('succeeded', 'warning') ORDER BY host_id, job, seq DESC) s
      WHERE l.host_id = s.host_id AND l.job = s.job`);
    await c.query(`INSERT INTO holdfast.runs_daily (host_id, job, day, runs, succeeded, warning, failed, other, duration_ms)
      SELECT host_id, job, (started_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE status = 'succeeded'),
             0, count(*) FILTER (WHERE status = 'failed'), 0, sum(duration_ms)
      FROM holdfast.runs GROUP BY 1, 2, 3`);
    await seedHeartbeats(c);
    await c.query("ALTER TABLE holdfast.runs ENABLE TRIGGER USER");
    await c.query("VACUUM ANALYZE");
    const counts = await c.query(
      "SELECT (SELECT count(*) FROM holdfast.runs) AS runs, (SELECT count(*) FROM holdfast.steps) AS steps, pg_database_size('fleet') AS bytes",
    );
    return {
      seconds: Math.round((performance.now() - t0) / 1000),
      runs: Number(counts.rows[0].runs),
      steps: Number(counts.rows[0].steps),
      db_mb: Math.round(Number(counts.rows[0].bytes) / 2 ** 20),
    };
  } finally {
    c.release();
  }
}

/**
 * HOLDFAST_BENCH_P9_SEED=grid: only what the grid reads — hosts, heartbeats and job_latest (one row
 * per host × job, as the runs trigger leaves it after a year of daily runs) — for HOSTS × JOBS cells,
 * in seconds instead of the full history's minutes. Only the grid is measured then.
 */
async function seedGridOnly(pool) {
  const t0 = performance.now();
  await migratePostgres(pool, "bench");
  const c = await pool.connect();
  try {
    await c.query(
      `INSERT INTO holdfast.hosts (host_id, display_name, fingerprint, last_received_at)
       SELECT 'h-bench-' || lpad(h::text, 6, '0'), 'host-' || h, 'fp', now() FROM generate_series(1, $1) h`,
      [HOSTS],
    );
    const d = DAYS - 1;
    const started = `date_trunc('day', now()) - interval '1 day' + j * interval '7 minutes'
                     + (h % 60) * interval '1 minute' + ((h * 13 + j) % 600) * interval '1 second'`;
    await c.query(
      `INSERT INTO holdfast.job_latest (host_id, job, last_seq, last_run_id, last_status, last_started_at,
                                        last_finished_at, last_received_at, last_success_seq, last_success_at,
                                        last_success_received_at, last_failure_at)
       SELECT 'h-bench-' || lpad(h::text, 6, '0'), 'job-' || j, ${RUN_SEQ(DAYS, JOBS)}, 'r-' || ${d} || '-' || j,
              CASE WHEN ${FAILED} THEN 'failed' ELSE 'succeeded' END, t.started, t.started + interval '2 minutes',
              t.started + interval '2 minutes 1 second', ${RUN_SEQ(DAYS, JOBS)} - CASE WHEN ${FAILED} THEN ${JOBS} ELSE 0 END,
              t.started + interval '2 minutes' - CASE WHEN ${FAILED} THEN interval '1 day' ELSE interval '0' END,
              t.started + interval '2 minutes 1 second' - CASE WHEN ${FAILED} THEN interval '1 day' ELSE interval '0' END,
              t.started - interval '20 days'
       FROM generate_series(1, $1::int) h, (SELECT ${d} AS d) dd, generate_series(0, $2::int - 1) j,
            LATERAL (SELECT ${started} AS started) t`,
      [HOSTS, JOBS],
    );
    await seedHeartbeats(c);
    await c.query("VACUUM ANALYZE");
    const counts = await c.query(
      "SELECT (SELECT count(*) FROM holdfast.job_latest) AS cells, pg_database_size('fleet') AS bytes",
    );
    return {
      seconds: Math.round((performance.now() - t0) / 1000),
      runs: 0,
      steps: 0,
      cells: Number(counts.rows[0].cells),
      db_mb: Math.round(Number(counts.rows[0].bytes) / 2 ** 20),
    };
  } finally {
    c.release();
  }
}

async function timeIt(fn, { warmup = 3, runs = 20 } = {}) {
  // The first call is kept apart (cold caches: the server's and the process's), then the warm-up.
  const t0 = performance.now();
  await fn(0);
  const first = performance.now() - t0;
  for (let i = 1; i < warmup; i++) await fn(i);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 100) / 100;
  return {
    median: r(ms[Math.floor(ms.length / 2)]),
    min: r(ms[0]),
    max: r(ms[ms.length - 1]),
    first: r(first),
  };
}

function ingestItems(writer, from, count) {
  const items = [];
  for (let k = 0; k < count; k++) {
    const n = from + k;
    const started = new Date(Date.now() - (INGEST_RUNS - n) * 60_000);
    const finished = new Date(started.getTime() + 90_000);
    const steps = Array.from({ length: 5 + (n % 2) }, (_, i) => ({
      index: i,
      name: `step-${i}`,
      type: i === 0 ? "backup" : "exec",
      status: "succeeded",
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      duration_ms: 15_000,
      exit_code: 0,
      attempts: 1,
      error: null,
      summary: i === 0 ? { files_new: 12, data_added: 123456 } : null,
      targets: [],
      log_path: null,
    }));
    items.push({
      hostSeq: n + 1,
      version: n + 1,
      record: {
        id: `w${writer}-${n}`,
        job: `job-${n % JOBS}`,
        host: `writer-${writer}`,
        trigger: "schedule",
        status: "succeeded",
        exit_code: 0,
        started_at: started.toISOString(),
        finished_at: finished.toISOString(),
        duration_ms: 90_000,
        pid: 4242,
        error: null,
        steps,
        notifications: [],
      },
    });
  }
  return items;
}

async function main() {
  const server = process.env.HOLDFAST_BENCH_P9_URL ? null : await startServer();
  const url = process.env.HOLDFAST_BENCH_P9_URL ?? server.url;
  const pool = createPgPool(url, { max: WRITERS + 4, statementTimeoutMs: 3_600_000 });
  try {
    if (SEED !== "full" && SEED !== "grid") throw new Error(`HOLDFAST_BENCH_P9_SEED=${SEED}: full or grid`);
    log(`seeding ${HOSTS} hosts × ${JOBS} jobs${SEED === "grid" ? " (grid only)" : ` × ${DAYS} days`} …`);
    const seeded = SEED === "grid" ? await seedGridOnly(pool) : await seed(pool);
    log(`seeded: ${JSON.stringify(seeded)}`);

    const c = await pool.connect();
    let gridCells = 0;
    let gridBytes = 0;
    const grid = await timeIt(async () => {
      const view = await readFleetView(c, 3_600_000);
      gridCells = view.cells.length;
    });
    // What GET /api/fleet does besides: the view as its JSON body.
    const gridApi = await timeIt(async () => {
      gridBytes = JSON.stringify(await readFleetView(c, 3_600_000)).length;
    });
    // HOLDFAST_BENCH_P9_GRID_FROM=DIST: also time another build's readFleetView on the same seed
    // (e.g. the previous commit's dist/), right after this one's, for a before/after.
    let other = null;
    if (process.env.HOLDFAST_BENCH_P9_GRID_FROM) {
      const mod = await import(path.resolve(process.env.HOLDFAST_BENCH_P9_GRID_FROM, "fleet/fleet-view.js"));
      other = await timeIt(() => mod.readFleetView(c, 3_600_000));
      log(`grid of ${process.env.HOLDFAST_BENCH_P9_GRID_FROM}: ${JSON.stringify(other)}`);
    }
    c.release();
    log(
      `grid ${JSON.stringify(grid)} (${gridCells} cells); with its JSON body ${JSON.stringify(gridApi)} (${gridBytes} bytes)`,
    );
    if (SEED === "grid") {
      process.stdout.write(
        `${JSON.stringify(
          {
            id: "P9",
            what: "the fleet on PostgreSQL 15: the grid on a reduced seed (hosts, heartbeats, job_latest only)",
            command: "HOLDFAST_BENCH_P9_SEED=grid node bench/p9-fleet.mjs",
            scale: `${HOSTS} hosts × ${JOBS} jobs = ${seeded.cells} cells (grid seed: no runs or steps)`,
            full_scale: false,
            seeded,
            results: {
              [`fleet grid (${gridCells} cells, grid seed)`]: {
                figure: `${grid.median} ms [${grid.min}–${grid.max}]`,
                target: "≤ 50 ms",
                met: grid.median <= 50,
                ...grid,
              },
              [`fleet grid and its JSON body (${gridBytes} bytes), grid seed`]: {
                figure: `${gridApi.median} ms [${gridApi.min}–${gridApi.max}]`,
                ...gridApi,
              },
            },
            node: process.version,
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    const history = await timeIt((i) =>
      hostRuns(pool, "bench", hostId(1 + ((i * 7919) % HOSTS)), { limit: 50 }),
    );
    log(`history ${JSON.stringify(history)}`);

    // Ingest: WRITERS hosts at once, each its own connection, 100 runs a transaction.
    const perWriter = Math.ceil(INGEST_RUNS / WRITERS);
    const clients = await Promise.all(Array.from({ length: WRITERS }, () => pool.connect()));
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (client, w) => {
        const host = {
          host_id: `h-writer-${String(w).padStart(4, "0")}`,
          display_name: `writer-${w}`,
          fingerprint: "fp-w",
        };
        for (let from = 0; from < perWriter; from += 100)
          await ingestBatch(client, host, ingestItems(w, from, Math.min(100, perWriter - from)));
      }),
    );
    const ingestSeconds = (performance.now() - t0) / 1000;
    for (const client of clients) client.release();
    const ingestRate = Math.round((perWriter * WRITERS) / ingestSeconds);
    log(`ingest ${perWriter * WRITERS} runs in ${ingestSeconds.toFixed(1)} s = ${ingestRate} runs/s`);

    // Replay: a real host's SQLite history of REPLAY_RUNS runs (10 steps each), queued at first sync.
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-p9-host-"));
    let replaySeconds;
    let replay;
    try {
      await seedHistory(path.join(hostDir, "history.db"), REPLAY_RUNS);
      const urlFile = path.join(hostDir, "fleet.url");
      fs.writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
      const config = {
        file: null,
        host: "replayer",
        state_dir: hostDir,
        jobs: {},
        fleet: {
          url_file: urlFile,
          host_name: "replayer",
          sync_timeout: 600_000,
          missing_grace: 3_600_000,
          notify: [],
        },
      };
      const t1 = performance.now();
      replay = await syncFleet(config, { deadlineMs: 600_000 });
      replaySeconds = (performance.now() - t1) / 1000;
      if (!replay.ok) throw new Error(`replay failed: ${replay.error}`);
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
    log(`replay ${replay.sent} runs in ${replaySeconds.toFixed(1)} s`);

    const full = HOSTS >= 1000 && DAYS >= 365 && JOBS >= 10;
    const scale = `${HOSTS} hosts × ${JOBS} jobs × ${DAYS} days: ${seeded.runs} runs, ${seeded.steps} steps, ${seeded.db_mb} MB${full ? "" : " (scaled down)"}`;
    const ms = (s) => `${s.median} ms [${s.min}–${s.max}]`;
    process.stdout.write(
      `${JSON.stringify(
        {
          id: "P9",
          what: "the fleet on PostgreSQL 15",
          command: "node bench/p9-fleet.mjs",
          scale,
          full_scale: full,
          seeded,
          results: {
            [`fleet grid (${gridCells} cells, ${scale})`]: {
              figure: ms(grid),
              target: "≤ 50 ms",
              met: grid.median <= 50,
              ...grid,
            },
            [`fleet grid and its JSON body (${gridBytes} bytes)`]: {
              figure: ms(gridApi),
              ...gridApi,
            },
            [`50-run host history (${scale})`]: {
              figure: ms(history),
              target: "≤ 50 ms",
              met: history.median <= 50,
              ...history,
            },
            [`ingest, ${WRITERS} concurrent writers, 100 runs a transaction, 5–6 steps a run`]: {
              figure: `${ingestRate} runs/s (${perWriter * WRITERS} runs in ${ingestSeconds.toFixed(1)} s)`,
              target: "≥ 2,000 runs/s",
              met: ingestRate >= 2000,
            },
            [`one host's replay of ${REPLAY_RUNS} queued runs (10 steps each, from its SQLite history)`]: {
              figure: `${replaySeconds.toFixed(2)} s (${replay.sent} runs sent)`,
              target: "≤ 10 s",
              met: replaySeconds <= 10,
            },
          },
          node: process.version,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await pool.end();
    server?.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
