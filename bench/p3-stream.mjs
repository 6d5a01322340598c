// P3 (targets.md): restic's JSON stream through holdfast — ≥ 200k status lines/s parsed, and memory
// flat (peak RSS ≤ 100 MB) while restic prints 20 MB of `-v` output.
// Run after `npm run build`: `node bench/p3-stream.mjs`. Prints one JSON object on stdout.
//
// A fake restic is used here (a shell script that answers `version` like restic 0.14.0 and `cat`s a
// prepared stream for `backup`), so the figure is holdfast's own handling — pipe, line splitter,
// parseBackupLine, progress aggregation, step log — not restic's speed:
//   1. throughput: the built `backup` command (dist/restic/commands.js) reads N status lines
//      (0.14-shaped, ~250 bytes, with current_files) from the fake restic, in-process; lines/s =
//      N / wall time of the call (spawn included). Median of the runs.
//   2. memory: `holdfast run` of a backup step whose fake restic prints 20 MB of `-v` output
//      (verbose_status per file plus status lines, as measured in restic-notes.md §6); the peak RSS
//      (VmHWM) of the holdfast process, against the same run with a 10-line stream.
// HOLDFAST_BENCH_RUNS=N (default 5), HOLDFAST_BENCH_P3_LINES=N (default 500000).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import console from "node:console";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const dist = (p) => pathToFileURL(path.join(benchDir, "../dist", p)).href;
const CLI = path.join(benchDir, "../dist/cli/main.js");
const RUNS = Number(process.env.HOLDFAST_BENCH_RUNS ?? 5);
const LINES = Number(process.env.HOLDFAST_BENCH_P3_LINES ?? 500_000);
const VERBOSE_BYTES = 20 * 1024 * 1024;

const round = (x, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function statusLine(i, total) {
  const done = Math.min(i, total);
  return JSON.stringify({
    message_type: "status",
    seconds_elapsed: Math.floor(i / 60),
    seconds_remaining: Math.max(0, Math.floor((total - i) / 60)),
    percent_done: done / total,
    total_files: 100000,
    files_done: Math.floor((done / total) * 100000),
    total_bytes: 1073741824,
    bytes_done: Math.floor((done / total) * 1073741824),
    current_files: [
      `/srv/data/photos/2024/album-${i % 97}/IMG_${i % 10000}.jpg`,
      `/srv/data/photos/2024/album-${i % 89}/IMG_${(i + 1) % 10000}.jpg`,
    ],
  });
}

const SUMMARY = JSON.stringify({
  message_type: "summary",
  files_new: 100000,
  files_changed: 0,
  files_unmodified: 0,
  dirs_new: 101,
  dirs_changed: 0,
  dirs_unmodified: 0,
  data_blobs: 100000,
  tree_blobs: 102,
  data_added: 102400000,
  total_files_processed: 100000,
  total_bytes_processed: 102400000,
  total_duration: 11.3,
  snapshot_id: "751c64f6",
});

function writeStream(file, lines) {
  const fd = fs.openSync(file, "w");
  let buf = "";
  for (const line of lines()) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = "";
    }
  }
  fs.writeSync(fd, `${buf}${SUMMARY}\n`);
  fs.closeSync(fd);
}

function makeFakeRestic(dir, streamFile) {
  const bin = path.join(dir, "fake-restic");
  fs.writeFileSync(
    bin,
    `#!/bin/sh
# A stand-in for restic 0.14.0 (bench/p3-stream.mjs): \`version\`, and \`backup\` that prints a prepared stream.
for a in "$@"; do
  case "$a" in
    version) echo "restic 0.14.0 compiled with go1.19.8 on linux/amd64"; exit 0 ;;
    backup) exec cat "${streamFile}" ;;
  esac
done
exit 0
`,
    { mode: 0o755 },
  );
  return bin;
}

function config(dir, bin, src) {
  return {
    version: 1,
    state_dir: path.join(dir, "state"),
    host: "bench",
    restic: { binary: bin, nice: null, ionice: "none" },
    repositories: { r: { url: path.join(dir, "repo"), password_file: path.join(dir, "pw") } },
    sources: { s: { paths: [src] } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"] }] } },
  };
}

async function throughput(dir) {
  const file = path.join(dir, "status.jsonl");
  writeStream(file, function* () {
    for (let i = 0; i < LINES; i++) yield statusLine(i, LINES);
  });
  const bytes = fs.statSync(file).size;
  const bin = makeFakeRestic(dir, file);
  fs.writeFileSync(path.join(dir, "pw"), "pw\n", { mode: 0o600 });
  const { backup } = await import(dist("restic/commands.js"));
  const { resticHostForCli } = await import(dist("restic/host.js"));
  const { finishConfig } = await import(dist("config/load.js"));
  const { configSchema } = await import(dist("config/schema.js"));
  const cfg = finishConfig(configSchema.parse(config(dir, bin, dir)), null);
  const env = { PATH: process.env.PATH, HOME: os.homedir(), LANG: "C.UTF-8" };
  const rates = [];
  const cpuRates = [];
  for (let run = 0; run < RUNS; run++) {
    let statuses = 0;
    const host = resticHostForCli(cfg, { env, log: { logOnly: () => undefined } });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await backup(host, cfg.repositories.r, {
      paths: [dir],
      tags: ["holdfast"],
      host: "bench",
      onStatus: () => statuses++,
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (!result.summary || statuses !== LINES)
      throw new Error(`fake stream not parsed: ${statuses} status lines, summary ${Boolean(result.summary)}`);
    rates.push(LINES / (ms / 1000));
    cpuRates.push(LINES / (cpuMs / 1000));
    process.stderr.write(
      `bench: P3 throughput run ${run + 1}/${RUNS}: ${round(LINES / (ms / 1000))} lines/s wall (${round(ms)} ms), ${round(LINES / (cpuMs / 1000))} lines per CPU-second (${round(cpuMs)} ms CPU)\n`,
    );
  }
  return { rates, cpuRates, bytes };
}

/** Peak RSS (VmHWM, kB) of a `holdfast run`, sampled from /proc until it exits. */
function peakRss(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let peak = 0;
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, 10);
    child.on("exit", (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`holdfast run exited ${code}: ${stderr}`));
      else resolve(peak);
    });
  });
}

async function memory(dir) {
  const verbose = path.join(dir, "verbose.jsonl");
  let written = 0;
  writeStream(verbose, function* () {
    let i = 0;
    while (written < VERBOSE_BYTES) {
      const line =
        i % 500 === 0
          ? statusLine(i, 100000)
          : JSON.stringify({
              message_type: "verbose_status",
              action: "unchanged",
              item: `/srv/data/photos/2024/album-${i % 97}/IMG_${i}.jpg`,
              duration: 0.0012,
              data_size: 2097152,
              data_size_in_repo: 0,
              metadata_size: 0,
              metadata_size_in_repo: 0,
              total_files: 0,
            });
      written += line.length + 1;
      i++;
      yield line;
    }
  });
  const tiny = path.join(dir, "tiny.jsonl");
  writeStream(tiny, function* () {
    for (let i = 0; i < 10; i++) yield statusLine(i, 10);
  });
  const env = { PATH: process.env.PATH, HOME: os.homedir(), LANG: "C.UTF-8", NO_COLOR: "1" };
  const results = {};
  for (const [name, stream] of [
    ["tiny", tiny],
    ["verbose_20mb", verbose],
  ]) {
    const sub = path.join(dir, name);
    fs.mkdirSync(sub, { recursive: true });
    const bin = makeFakeRestic(sub, stream);
    fs.writeFileSync(path.join(sub, "pw"), "pw\n", { mode: 0o600 });
    const file = path.join(sub, "holdfast.yaml");
    fs.writeFileSync(file, JSON.stringify(config(sub, bin, sub)));
    const peaks = [];
    for (let run = 0; run < RUNS; run++) peaks.push(await peakRss(["--config", file, "run", "-q"], env));
    results[name] = { peaks_kb: peaks, bytes: fs.statSync(stream).size };
    process.stderr.write(
      `bench: P3 memory ${name}: peak RSS ${peaks.map((k) => round(k / 1024, 1)).join(", ")} MB\n`,
    );
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-bench-p3-"));
  try {
    const t = await throughput(dir);
    const m = await memory(dir);
    const rate = median(t.rates);
    const cpuRate = median(t.cpuRates);
    const peakVerboseMb = Math.max(...m.verbose_20mb.peaks_kb) / 1024;
    const peakTinyMb = median(m.tiny.peaks_kb) / 1024;
    const result = {
      id: "P3",
      what: "restic JSON stream handling: status lines/s through holdfast's parser; peak RSS while restic prints 20 MB of -v output",
      baseline: `no baseline (absolute targets); memory compared with the same run over a 10-line stream: ${round(peakTinyMb, 1)} MB`,
      // The ratio is the measured rate over the target rate (≥ 1 is met); the memory figures follow.
      ratio_median: round(rate / 200_000, 2),
      ratio_min: round(Math.min(...t.rates) / 200_000, 2),
      ratio_max: round(Math.max(...t.rates) / 200_000, 2),
      target: "≥ 200k status lines/s; peak RSS ≤ 100 MB with 20 MB of -v output",
      met: rate >= 200_000 && peakVerboseMb <= 100,
      // What the parser can do per CPU-second of holdfast's process, whatever else the machine runs.
      lines_per_cpu_second_median: round(cpuRate),
      met_per_cpu_second: cpuRate >= 200_000 && peakVerboseMb <= 100,
      load_average_1m: round(os.loadavg()[0] ?? 0, 1),
      runs: RUNS,
      command:
        "node bench/p3-stream.mjs (fake restic: a shell script that cats a prepared 0.14-shaped stream)",
      lines_per_second_median: round(rate),
      lines_per_second_min: round(Math.min(...t.rates)),
      status_lines: LINES,
      stream_bytes: t.bytes,
      peak_rss_mb_verbose_20mb_max: round(peakVerboseMb, 1),
      peak_rss_mb_verbose_20mb_median: round(median(m.verbose_20mb.peaks_kb) / 1024, 1),
      peak_rss_mb_tiny_median: round(peakTinyMb, 1),
      verbose_stream_bytes: m.verbose_20mb.bytes,
      fake_restic: true,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
