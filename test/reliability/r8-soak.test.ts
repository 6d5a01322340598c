// R8: 1,000 runs back to back in one process (the daemon's situation: holdfast lives for months).
// Open files, memory and child processes are sampled; none may grow. Real engine, real SQLite store,
// real child processes for the exec steps.
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { runJob } from "../../src/engine/run-job.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeTempDir } from "../helpers/tmp.js";

const RUNS = Number(process.env.HOLDFAST_R8_RUNS ?? 1000);

function openFiles(): number {
  return fs.readdirSync("/proc/self/fd").length;
}

function childProcesses(): number {
  // Children of this process that are still around (zombies included).
  let count = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) count++;
    } catch {
      /* the process ended while we looked */
    }
  }
  return count;
}

test(`R8: ${RUNS} runs back to back: no growth in open files, memory or processes`, async () => {
  const dir = makeTempDir("holdfast-r8-");
  const config = parseConfigText(
    `version: 1
state_dir: ./state
jobs:
  soak:
    steps:
      - { name: talk, type: exec, command: [sh, -c, "echo out; echo err >&2"] }
      - { name: flaky, type: exec, command: [sh, -c, "exit 3"], warning_codes: [3] }
      - { name: quiet, type: exec, command: ["true"] }
`,
    path.join(dir, "holdfast.yaml"),
    process.env,
  );
  fs.mkdirSync(config.state_dir, { recursive: true, mode: 0o700 });
  const store = createSqliteStore({ path: path.join(config.state_dir, "history.db") });
  const samples: Array<{ run: number; fds: number; heapMb: number; rssMb: number; children: number }> = [];
  try {
    for (let i = 1; i <= RUNS; i++) {
      const run = await runJob({ store }, { config, job: "soak" });
      expect(run.status).toBe("warning");
      if (i === 50 || i % 100 === 0) {
        global.gc?.();
        const mem = process.memoryUsage();
        samples.push({
          run: i,
          fds: openFiles(),
          heapMb: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
          rssMb: Math.round((mem.rss / 2 ** 20) * 10) / 10,
          children: childProcesses(),
        });
      }
    }
    expect(await store.countRuns("soak")).toBe(RUNS);
  } finally {
    await store.close();
  }
  console.log(
    `R8 samples (run, open fds, heap MB, rss MB, children):\n${samples.map((s) => `${s.run}\t${s.fds}\t${s.heapMb}\t${s.rssMb}\t${s.children}`).join("\n")}`,
  );
  const first = samples[0]!;
  const last = samples.at(-1)!;
  // Open files and processes: exactly flat (warm-up done by run 50).
  expect(last.fds).toBeLessThanOrEqual(first.fds);
  expect(Math.max(...samples.map((s) => s.children))).toBe(0);
  // Memory: heap after 1,000 runs within 25 MB of the heap after 50 (GC noise, JIT); a leak of a
  // run record per run (≈ 5 KB) would show as ≥ 5 MB and growth in every sample.
  expect(last.heapMb - first.heapMb).toBeLessThan(25);
  const growing = samples.slice(1).every((s, i) => s.heapMb > samples[i]!.heapMb);
  expect(growing, "heap grew at every sample").toBe(false);
  // Every step log was compressed and closed.
  const logs = fs.readdirSync(path.join(config.state_dir, "logs"));
  expect(logs).toHaveLength(RUNS);
  const plain = logs
    .flatMap((d) => fs.readdirSync(path.join(config.state_dir, "logs", d)))
    .filter((f) => f.endsWith(".log"));
  expect(plain).toEqual([]);
});
