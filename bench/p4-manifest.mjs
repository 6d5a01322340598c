// P4 (targets.md): the `manifest` step, metadata only, over 100k files ≤ 2× `find -printf '%s %T@ %p\n'`.
// Run after `npm run build`: `node bench/p4-manifest.mjs`. Prints one JSON object on stdout.
//
// What is timed: the built step code (dist/steps/manifest-run.js, manifestRunner.run) in a fresh node process
// per run — cold JIT, its own worker threads — from the call to its return: walk, sort, gzip, atomic
// write, and the streaming diff against the previous manifest (a previous one always exists: steady
// state, as on every night but the first). Node's own start and the module import are not the step's
// cost and are reported apart (process_ms_median); the CLI around it (config, history DB) is P2's.
// The baseline runs in the same loop, alternating with holdfast, writing its output to a file.
//
// The data set (100 directories × 1,000 files of 0–2 KiB) is built once in $HOLDFAST_BENCH_DIR or
// /tmp/holdfast-bench-100k and reused. HOLDFAST_BENCH_RUNS=N (default 7) sets the runs per side.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import console from "node:console";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const STEP_MODULE = pathToFileURL(path.join(benchDir, "../dist/steps/manifest-run.js")).href;
const READER_MODULE = pathToFileURL(path.join(benchDir, "../dist/sources/directory-reader.js")).href;
const DATA_SPEC = "100 dirs x 1000 files, 0-2047 bytes, v1";

/** Builds (once) and returns the 100k-file tree. */
export function ensureDataSet() {
  const root = process.env.HOLDFAST_BENCH_DIR ?? "/tmp/holdfast-bench-100k";
  const data = path.join(root, "data");
  const marker = path.join(root, "spec.txt");
  if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === DATA_SPEC) return { root, data };
  process.stderr.write(`bench: building 100k files in ${data} …\n`);
  fs.rmSync(root, { recursive: true, force: true });
  const content = randomBytes(4096);
  let n = 0;
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const dir = path.join(data, `a${a}`, `b${b}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 1000; i++, n++) {
        const size = (n * 7919) % 2048;
        fs.writeFileSync(path.join(dir, `file-${i}.dat`), content.subarray(n % 2048, (n % 2048) + size));
      }
    }
  }
  fs.writeFileSync(marker, DATA_SPEC);
  return { root, data };
}

/** One run of the built step in a fresh node process; returns { step_ms, process_ms, status }. */
export function runStepOnce(data, output, hash) {
  const script = `
    const t0 = performance.now();
    const { manifestRunner } = await import(${JSON.stringify(STEP_MODULE)});
    const ctx = {
      config: { sources: {} },
      options: { paths: [${JSON.stringify(data)}], output: ${JSON.stringify(output)}, hash: ${hash ? '"sha256"' : "false"},
                 keep: 2, exclude: [], max_removed: 0.5, max_changed: 0.5 },
      signal: new AbortController().signal,
      log: { info() {}, warn(m) { process.stderr.write(m + "\\n"); }, output() {}, logOnly() {} },
      progress() {}, redact: (t) => t,
    };
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    const outcome = await manifestRunner.run(ctx);
    const c2 = process.cpuUsage(c1);
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ step_ms: t2 - t1, import_ms: t1 - t0, status: outcome.status,
      step_cpu_ms: (c2.user + c2.system) / 1000,
      entries: outcome.summary?.entries, error: outcome.error ?? null }));
  `;
  // A file, not -e: worker threads inherit execArgv, and --input-type is refused there.
  const scriptFile = path.join(path.dirname(output), "run-step.mjs");
  fs.writeFileSync(scriptFile, script);
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [scriptFile], { encoding: "utf8" });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`manifest run failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout);
  if (result.status !== "succeeded")
    throw new Error(`manifest step ${result.status}: ${JSON.stringify(result.error)}`);
  return { ...result, process_ms: processMs };
}

const TIME_BIN = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

/** Wall time (and CPU time, where /usr/bin/time exists) of a shell command and all its children. */
export function timeShell(command, cpuFile) {
  const argv = TIME_BIN
    ? [TIME_BIN, "-f", "%U %S", "-o", cpuFile, "/bin/sh", "-c", command]
    : ["/bin/sh", "-c", command];
  const started = process.hrtime.bigint();
  const child = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`baseline failed (${child.status}): ${child.stderr}`);
  let cpuMs = null;
  if (TIME_BIN) {
    const [user, system] = fs.readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-2).map(Number);
    cpuMs = (user + system) * 1000;
  }
  return { ms, cpuMs };
}

export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1) };
}

const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Alternates baseline and holdfast runs and returns the JSON object both P4 and P5 print. */
export async function compare({ id, what, target, targetRatio, hash, baselineCommand }) {
  // native (native/read-directory.c) unless it is not built or HOLDFAST_DIRECTORY_READER=node.
  const { defaultReaderKind } = await import(READER_MODULE);
  const { root, data } = ensureDataSet();
  const runs = Number(process.env.HOLDFAST_BENCH_RUNS ?? 7);
  const output = path.join(root, `out-${id.toLowerCase()}`);
  const baselineOut = path.join(root, `baseline-${id.toLowerCase()}.txt`);
  fs.rmSync(output, { recursive: true, force: true });
  const command = baselineCommand(data, baselineOut);
  const cpuFile = path.join(root, `cpu-${id.toLowerCase()}.txt`);
  // Warm the page cache and create the previous manifest (steady state: every timed run diffs).
  timeShell(command, cpuFile);
  runStepOnce(data, output, hash);
  const baseline = [];
  const holdfast = [];
  const processMs = [];
  const ratios = [];
  const cpuRatios = [];
  for (let i = 0; i < runs; i++) {
    // Alternate who goes first so drifting load hits both sides alike.
    let b;
    let h;
    if (i % 2 === 0) {
      b = timeShell(command, cpuFile);
      h = runStepOnce(data, output, hash);
    } else {
      h = runStepOnce(data, output, hash);
      b = timeShell(command, cpuFile);
    }
    baseline.push(b.ms);
    holdfast.push(h.step_ms);
    processMs.push(h.process_ms);
    ratios.push(h.step_ms / b.ms);
    if (b.cpuMs) cpuRatios.push(h.step_cpu_ms / b.cpuMs);
    process.stderr.write(
      `bench: ${id} run ${i + 1}/${runs}: baseline ${round(b.ms)} ms (cpu ${round(b.cpuMs ?? 0)}), ` +
        `holdfast ${round(h.step_ms)} ms (cpu ${round(h.step_cpu_ms)}; ${h.entries} entries)\n`,
    );
  }
  fs.rmSync(output, { recursive: true, force: true });
  fs.rmSync(baselineOut, { force: true });
  fs.rmSync(cpuFile, { force: true });
  const b = stats(baseline);
  const h = stats(holdfast);
  const r = stats(ratios);
  const p = stats(processMs);
  return {
    id,
    what,
    baseline_command: command.replace(data, "DATA").replace(baselineOut, "OUT"),
    baseline_ms_median: round(b.median),
    baseline_ms_min: round(b.min),
    baseline_ms_max: round(b.max),
    holdfast_ms_median: round(h.median),
    holdfast_ms_min: round(h.min),
    holdfast_ms_max: round(h.max),
    ratio_median: round(r.median, 2),
    ratio_min: round(r.min, 2),
    ratio_max: round(r.max, 2),
    process_ms_median: round(p.median),
    // CPU time (all threads) over the baseline's CPU time: what the step costs regardless of how
    // busy the machine is; the wall ratio above is the target's figure.
    cpu_ratio_median: cpuRatios.length ? round(stats(cpuRatios).median, 2) : null,
    target,
    met: r.median <= targetRatio,
    runs,
    files: 100_000,
    directory_reader: defaultReaderKind(),
    measured:
      "manifestRunner.run() of dist/ in a fresh node process per run, previous manifest present (diff included); process_ms adds node start + import",
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await compare({
    id: "P4",
    what: "manifest step, metadata only, 100k files",
    target: "≤ 2×",
    targetRatio: 2,
    hash: false,
    baselineCommand: (data, out) => `find ${data} -printf '%s %T@ %p\\n' > ${out}`,
  });
  console.log(JSON.stringify(result, null, 2));
}
