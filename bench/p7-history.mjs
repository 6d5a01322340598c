// P7 (targets.md): `status` (jobSummaries of every job) and a 50-run `history` page each ≤ 20 ms with
// 100k runs / 1M step records in the store. Run after `npm run build`: `node bench/p7-history.mjs`.
// Prints one JSON object on stdout.
//
// HOLDFAST_BENCH_KEEP_DB=PATH seeds the database at PATH and keeps it (or reuses it when it already holds
// this seed), so the P2 benchmark can time `holdfast status` against the same history.
// HOLDFAST_BENCH_P7_RUNS=N seeds N runs instead of 100,000 (for a quick try; the target is for 100k).
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import console from "node:console";
import process from "node:process";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { ulid } from "ulid";
import { createSqliteStore } from "../dist/store/sqlite/sqlite-store.js";

export const BENCH_JOBS = Array.from({ length: 10 }, (_, i) => `job-${String(i).padStart(2, "0")}`);

/** The seed's steps (backups-with-restic.md) plus the other step types, ten per run. */
export const BENCH_STEPS = [
  { name: "hello", type: "exec" },
  { name: "grepped-gitrepos", type: "git" },
  { name: "gen-manifest", type: "manifest" },
  { name: "backblaze", type: "backup" },
  { name: "local", type: "backup" },
  { name: "logseq", type: "mirror" },
  { name: "copy-offsite", type: "copy" },
  { name: "forget", type: "forget" },
  { name: "check", type: "check" },
  { name: "verify", type: "verify" },
];

const SEED_MARKER_KEY = "bench:p7:seed";
const RUN_SPACING_MS = 5 * 60_000;
const BATCH_RUNS = 5_000;
const TARGET_MS = 20;

/**
 * Fills `path` with `runs` finished runs of 10 steps across BENCH_JOBS. The bulk goes in with raw prepared
 * inserts in large transactions (the store's one-transaction-per-call would take minutes); the newest run
 * of each job goes through the store, so step_latest is maintained by the store's own code.
 */
export async function seedHistory(path, runs = 100_000) {
  const start = performance.now();
  await createSqliteStore({ path }).close();

  const storeRuns = Math.min(runs, BENCH_JOBS.length);
  const rawRuns = runs - storeRuns;
  const base = Date.UTC(2026, 10, 26) - runs * RUN_SPACING_MS;
  const db = new Database(path);
  db.pragma("cache_size = -262144");
  const insertRun = db.prepare(
    `INSERT INTO runs (id, job, host, trigger, status, exit_code, started_at, started_ms, finished_at, duration_ms, pid, error)
     VALUES (?, ?, 'vm', 'schedule', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertStep = db.prepare(
    `INSERT INTO steps (run_id, idx, job, name, type, status, started_at, started_ms, finished_at, duration_ms,
                        exit_code, attempts, error, summary, targets, log_path)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertNotification = db.prepare(
    `INSERT INTO notifications (run_id, notifier, event, ok, at, attempts, error) VALUES (?, 'ntfy', 'failure', 1, ?, 1, NULL)`,
  );
  const insertBatch = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const run = syntheticRun(i, base);
      insertRun.run(
        run.id,
        run.job,
        run.status,
        run.exit_code,
        iso(run.startedMs),
        run.startedMs,
        iso(run.finishedMs),
        run.finishedMs - run.startedMs,
        1000 + (i % 30000),
        null,
      );
      for (const s of run.steps) {
        insertStep.run(
          run.id,
          s.index,
          run.job,
          s.name,
          s.type,
          s.status,
          s.started_at,
          s.started_at === null ? null : Date.parse(s.started_at),
          s.finished_at,
          s.duration_ms,
          s.exit_code,
          s.attempts,
          s.error === null ? null : JSON.stringify(s.error),
          s.summary === null ? null : JSON.stringify(s.summary),
          JSON.stringify(s.targets),
          s.log_path,
        );
      }
      if (run.status === "failed") insertNotification.run(run.id, iso(run.finishedMs));
    }
  });
  for (let from = 0; from < rawRuns; from += BATCH_RUNS)
    insertBatch(from, Math.min(rawRuns, from + BATCH_RUNS));
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  const rawMs = performance.now() - start;

  const store = createSqliteStore({ path });
  const storeStart = performance.now();
  for (let i = rawRuns; i < runs; i++) {
    const run = syntheticRun(i, base);
    await store.createRun({
      id: run.id,
      job: run.job,
      host: "vm",
      trigger: "schedule",
      pid: 1000 + i,
      started_at: iso(run.startedMs),
      steps: BENCH_STEPS,
    });
    for (const s of run.steps) {
      if (s.status !== "skipped")
        await store.updateStep(run.id, s.index, { status: "running", started_at: s.started_at });
      const { index: _index, name: _name, type: _type, ...result } = s;
      await store.updateStep(run.id, s.index, result);
    }
    await store.finishRun(run.id, {
      status: run.status,
      exit_code: run.exit_code,
      finished_at: iso(run.finishedMs),
      duration_ms: run.finishedMs - run.startedMs,
    });
  }
  const storeMsPerRun = storeRuns > 0 ? (performance.now() - storeStart) / storeRuns : null;
  await store.setState(SEED_MARKER_KEY, JSON.stringify({ runs, steps_per_run: BENCH_STEPS.length }));
  await store.close();
  return {
    seed_ms: round(performance.now() - start),
    raw_insert_ms: round(rawMs),
    store_ms_per_run: round(storeMsPerRun),
  };
}

/** Deterministic run `i`: mostly succeeded, every 11th a warning, every 37th failed at a varying step. */
function syntheticRun(i, base) {
  const job = BENCH_JOBS[i % BENCH_JOBS.length];
  const startedMs = base + i * RUN_SPACING_MS;
  const failed = i % 37 === 0;
  const warning = !failed && i % 11 === 0;
  const failAt = failed ? 3 + (i % 7) : -1;
  const id = ulid(startedMs);
  let t = startedMs;
  const steps = BENCH_STEPS.map((step, index) => {
    if (failed && index > failAt) return stepRecord(step, index, "skipped", null, null, null, id);
    const duration = 500 + ((i * 7919 + index * 104729) % 40_000);
    const status = index === failAt ? "failed" : warning && index === 4 ? "warning" : "succeeded";
    const record = stepRecord(step, index, status, t, t + duration, duration, id);
    t += duration;
    return record;
  });
  return {
    id,
    job,
    status: failed ? "failed" : warning ? "warning" : "succeeded",
    exit_code: failed ? 1 : warning ? 3 : 0,
    startedMs,
    finishedMs: t,
    steps,
  };
}

function stepRecord(step, index, status, startMs, endMs, duration, runId) {
  const ran = startMs !== null;
  const isRestic = ["backup", "copy", "forget", "check"].includes(step.type);
  return {
    index,
    name: step.name,
    type: step.type,
    status,
    started_at: ran ? iso(startMs) : null,
    finished_at: ran ? iso(endMs) : null,
    duration_ms: duration,
    exit_code: !ran ? null : status === "failed" ? 1 : status === "warning" ? 3 : 0,
    attempts: ran ? 1 : 0,
    error:
      status === "failed"
        ? {
            kind: "network",
            message: "Fatal: unable to open repository: connection refused",
            hint: "is the server up?",
          }
        : null,
    summary: !ran
      ? null
      : step.type === "mirror"
        ? { files_transferred: 12, bytes_transferred: 48213, deleted: 0 }
        : null,
    targets:
      ran && isRestic
        ? [
            {
              repo: step.name === "backblaze" ? "b2" : "local",
              status,
              duration_ms: duration,
              error: null,
              snapshot_id: step.type === "backup" ? runId.toLowerCase().slice(-8) : null,
              files_new: 215,
              files_changed: 3,
              files_unmodified: 9120,
              data_added: 296536447,
              total_files_processed: 9338,
              total_bytes_processed: 3629524850,
            },
          ]
        : [],
    log_path: ran ? `/var/lib/holdfast/logs/${runId}/${index}-${step.name}.log.gz` : null,
  };
}

async function timeIt(fn, { warmup = 10, runs = 40 } = {}) {
  for (let i = 0; i < warmup; i++) await fn(i);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { median_ms: round(median), min_ms: round(times[0]), max_ms: round(times[times.length - 1]), runs };
}

async function main() {
  const runs = Number(process.env.HOLDFAST_BENCH_P7_RUNS ?? 100_000);
  const keepPath = process.env.HOLDFAST_BENCH_KEEP_DB || null;
  const tempDir = keepPath === null ? await mkdtemp(join(tmpdir(), "holdfast-p7-")) : null;
  const path = keepPath ?? join(tempDir, "history.db");

  try {
    let seed = null;
    if (existsSync(path)) {
      const store = createSqliteStore({ path, readonly: true });
      const marker = await store.getState(SEED_MARKER_KEY).catch(() => null);
      await store.close();
      if (marker === null || JSON.parse(marker).runs !== runs) {
        throw new Error(
          `${path} exists and is not a P7 seed of ${runs} runs; remove it or choose another path`,
        );
      }
    } else {
      seed = await seedHistory(path, runs);
    }

    const openStart = performance.now();
    const store = createSqliteStore({ path, readonly: true });
    const openMs = performance.now() - openStart;
    const stepRecords = await countSteps(path);

    const firstPage = await store.listRuns({ limit: 50 });
    const cursor = firstPage[firstPage.length - 1]?.started_at;
    const results = {
      status_job_summaries_10_jobs: await timeIt(() => store.jobSummaries(BENCH_JOBS)),
      history_page_50: await timeIt(() => store.listRuns({ limit: 50 })),
      history_page_50_one_job: await timeIt((i) =>
        store.listRuns({ job: BENCH_JOBS[i % BENCH_JOBS.length], limit: 50 }),
      ),
      history_page_50_second_page: await timeIt(() => store.listRuns({ limit: 50, before: cursor })),
      history_page_50_failed_only: await timeIt(() => store.listRuns({ status: "failed", limit: 50 })),
      step_history_50: await timeIt((i) => store.stepHistory(BENCH_JOBS[i % BENCH_JOBS.length], "local", 50)),
      count_runs: await timeIt(() => store.countRuns()),
    };
    const summaries = await store.jobSummaries(BENCH_JOBS);
    await store.close();
    if (summaries.some((s) => s.last_run === null || s.steps.length !== BENCH_STEPS.length)) {
      throw new Error("the seeded store does not summarize every job with its 10 steps");
    }

    const gated = [
      results.status_job_summaries_10_jobs,
      results.history_page_50,
      results.history_page_50_one_job,
    ];
    console.log(
      JSON.stringify(
        {
          id: "P7",
          command: "node bench/p7-history.mjs",
          what: "status (jobSummaries of 10 jobs) and a 50-run history page, median of 40 after 10 warm-up (which visit every job)",
          target_ms: TARGET_MS,
          pass: gated.every((r) => r.median_ms <= TARGET_MS),
          runs,
          step_records: stepRecords,
          jobs: BENCH_JOBS,
          steps: BENCH_STEPS.map((s) => s.name),
          db_bytes: (await stat(path)).size,
          db_path: keepPath,
          seeded: seed !== null,
          ...(seed ?? {}),
          open_ms: round(openMs),
          results,
          node: process.version,
          sqlite: sqliteVersion(),
        },
        null,
        2,
      ),
    );
  } finally {
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true });
  }
}

async function countSteps(path) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT count(*) AS n FROM steps").get().n;
  } finally {
    db.close();
  }
}

function sqliteVersion() {
  const db = new Database(":memory:");
  try {
    return db.prepare("SELECT sqlite_version() AS v").get().v;
  } finally {
    db.close();
  }
}

function iso(ms) {
  return new Date(ms).toISOString();
}

function round(ms) {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
