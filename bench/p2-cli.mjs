// P2 (targets.md): the CLI's fixed cost against `node -e 0` measured in the same run, interleaved so
// machine noise hits both alike. `holdfast --version` ≤ +60 ms; `holdfast status` with 100k runs in
// history ≤ +150 ms. Medians of HOLDFAST_BENCH_P2_RUNS (default 15) runs each, with min and max.
//   npm run build && node bench/p2-cli.mjs
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { BENCH_JOBS, BENCH_STEPS, seedHistory } from "./p7-history.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist/cli/main.js");
const repeats = Number(process.env.HOLDFAST_BENCH_P2_RUNS ?? 15);
const historyRuns = Number(process.env.HOLDFAST_BENCH_P7_RUNS ?? 100_000);

function time(args, env) {
  const start = performance.now();
  const result = spawnSync(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ms = performance.now() - start;
  if (result.status !== 0) {
    throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr.toString().slice(0, 500)}`);
  }
  return ms;
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: round(median), min: round(sorted[0]), max: round(sorted.at(-1)) };
}

const round = (ms) => Math.round(ms * 10) / 10;

/** Interleaves baseline and candidate so both see the same noise; returns per-run deltas too. */
function compare(candidateArgs, env, targetDeltaMs, what) {
  const baseline = [];
  const candidate = [];
  for (let i = 0; i < 3; i++) {
    time(["-e", "0"], env);
    time(candidateArgs, env);
  }
  for (let i = 0; i < repeats; i++) {
    baseline.push(time(["-e", "0"], env));
    candidate.push(time(candidateArgs, env));
  }
  const deltas = candidate.map((c, i) => c - baseline[i]);
  const b = stats(baseline);
  const c = stats(candidate);
  const d = stats(deltas);
  return {
    what,
    command: `node ${candidateArgs.map((a) => a.replace(root + "/", "")).join(" ")}`,
    baseline_command: "node -e 0",
    baseline_ms: b,
    holdfast_ms: c,
    delta_ms: d,
    target_delta_ms: targetDeltaMs,
    met: d.median <= targetDeltaMs,
  };
}

const dir = mkdtempSync(join(tmpdir(), "holdfast-p2-"));
try {
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const dbPath = join(stateDir, "history.db");
  const seedStart = performance.now();
  if (!existsSync(dbPath)) await seedHistory(dbPath, historyRuns);
  const seedMs = performance.now() - seedStart;
  const jobs = BENCH_JOBS.map(
    (job) =>
      `  ${job}:\n    max_age: 26h\n    steps:\n${BENCH_STEPS.map((s) => `      - { name: ${s.name}, type: exec, command: ["true"] }`).join("\n")}`,
  ).join("\n");
  const config = join(dir, "holdfast.yaml");
  writeFileSync(config, `version: 1\nstate_dir: ${stateDir}\njobs:\n${jobs}\n`);

  const version = compare([cli, "--version"], {}, 60, "holdfast --version");
  const status = compare(
    [cli, "--config", config, "status"],
    { NO_COLOR: "1" },
    150,
    `holdfast status with ${historyRuns} runs in history`,
  );
  console.log(
    JSON.stringify(
      {
        id: "P2",
        command: "node bench/p2-cli.mjs",
        what: "fixed cost of the CLI against `node -e 0`, interleaved, median of per-run differences",
        runs: repeats,
        history_runs: historyRuns,
        seed_ms: round(seedMs),
        met: version.met && status.met,
        results: { version, status },
        node: process.version,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
