// P2′ (targets.md): `holdfast run` of a one-step `exec` job (`command: [true]`) against `node -e 0`
// measured in the same run, interleaved so machine noise hits both alike: ≤ +100 ms.
// Medians of HOLDFAST_BENCH_P2_RUNS (default 15) runs each, with min and max. The state dir is kept
// from run to run, as on a real machine (history grows, the job lock and logs directories exist);
// three warm-up runs are not counted.
//   npm run build && node bench/p2prime-run-exec.mjs
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist/cli/main.js");
const repeats = Number(process.env.HOLDFAST_BENCH_P2_RUNS ?? 15);
const TARGET_DELTA_MS = 100;

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

const round = (ms) => Math.round(ms * 10) / 10;

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: round(median), min: round(sorted[0]), max: round(sorted.at(-1)) };
}

const dir = mkdtempSync(join(tmpdir(), "holdfast-p2prime-"));
try {
  const config = join(dir, "holdfast.yaml");
  writeFileSync(
    config,
    [
      "version: 1",
      `state_dir: ${join(dir, "state")}`,
      "jobs:",
      "  j:",
      "    steps:",
      '      - { name: t, type: exec, command: ["true"] }',
      "",
    ].join("\n"),
  );
  // XDG_CACHE_HOME inside the bench dir: a config cache, if holdfast keeps one, starts empty here.
  const env = { NO_COLOR: "1", XDG_CACHE_HOME: join(dir, "cache") };
  const args = [cli, "--config", config, "run", "-q"];
  for (let i = 0; i < 3; i++) {
    time(["-e", "0"], env);
    time(args, env);
  }
  const baseline = [];
  const candidate = [];
  for (let i = 0; i < repeats; i++) {
    baseline.push(time(["-e", "0"], env));
    candidate.push(time(args, env));
  }
  const delta = stats(candidate.map((c, i) => c - baseline[i]));
  console.log(
    JSON.stringify(
      {
        id: "P2′",
        command: "node bench/p2prime-run-exec.mjs",
        what: "`holdfast run` of a one-step exec job (`command: [true]`) against `node -e 0`, interleaved, median of per-run differences",
        runs: repeats,
        results: {
          run_exec: {
            what: "holdfast run -q of a one-step exec job (true)",
            command: "node dist/cli/main.js --config holdfast.yaml run -q",
            baseline_command: "node -e 0",
            baseline_ms: stats(baseline),
            holdfast_ms: stats(candidate),
            delta_ms: delta,
            target_delta_ms: TARGET_DELTA_MS,
            met: delta.median <= TARGET_DELTA_MS,
          },
        },
        met: delta.median <= TARGET_DELTA_MS,
        node: process.version,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
