// The manifest walk across threads (targets.md P4/P5): this thread hands out directories, worker
// threads read, lstat and hash with synchronous calls and hand back one block of formatted manifest
// lines per directory (already sorted by name) plus the directories they did not get to, so a deep
// tree spreads over every core. The result is the blocks ordered by directory — the manifest, with no
// global sort and no object per entry.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { compileSelection, rootExcluded, type SelectionRules } from "../sources/selection.js";
import { defaultReaderKind, type DirectoryReaderKind } from "../sources/directory-reader.js";
import { dirKey, escapePath, formatEntry, sortManifestLines } from "./manifest-format.js";
import {
  createWalkState,
  entryType,
  walkBatch,
  type WalkBlock,
  type WalkGroup,
  type WalkProblem,
  type WalkRequest,
  type WalkResponse,
  type WalkTask,
  type WorkerInit,
} from "./tree-walk-worker.js";

export interface WalkRoot {
  path: string;
  /** What is walked below it (sources/selection.ts): restic's rules for a source. */
  rules: SelectionRules;
}

export interface WalkOptions {
  hash: boolean;
  signal?: AbortSignal;
  /** Worker threads besides the calling one; 0 walks on the calling thread only. */
  workers?: number;
  /** Called now and then with the number of entries seen so far. */
  onProgress?: (entries: number) => void;
  /** How directories are read; the native reader where it is built (directory-reader.ts). */
  reader?: DirectoryReaderKind;
}

export interface WalkResult {
  /** The manifest's lines in manifest order, as blocks of "line\n" runs (one per directory). */
  blocks: string[];
  entries: number;
  files: number;
  dirs: number;
  bytes: number;
  vanished: number;
  /** The first 1000 problems; problemCount has them all. */
  problems: WalkProblem[];
  problemCount: number;
  /** Roots that do not exist or cannot be read. */
  missingRoots: WalkProblem[];
}

// Big enough that messages are few, small enough that a thread never holds back for long the
// directories it found (the others may be waiting for them).
const BATCH_BUDGET = 1024;
// This thread also serves worker messages: it hands work back after a directory or two.
const MAIN_BUDGET = 256;
// "../steps/" and not "./": in the bundled CLI this code sits in dist/cli/program-bundle.cjs, beside dist/steps/
// (scripts/bundle.mjs keeps every output two levels below the package root).
const WORKER_URL = new URL("../steps/tree-walk-worker.js", import.meta.url);
// Entries this thread walks alone before it asks for help (a few ms of work).
const WORKER_THRESHOLD = 4096;

/**
 * Worker threads, one per idle core by the 1-minute load average (rounded: a core busy 80% of the
 * last minute, often with the previous run of this same job, still counts as free). On a machine
 * whose cores are busy more threads only add start-up (~50 ms of CPU each) and contention: on a
 * 2-core VM at load 9 a metadata walk of 100k files was 1.6× slower with a worker than without, and
 * hashing them took 25% more CPU with two workers than with one (bench/p4, p5). A metadata walk also
 * runs on this thread; hashing runs only in workers (at least one), because hashing a large file on
 * this thread would block the event loop, and with it the step's timeout and cancellation, for as
 * long as it takes.
 */
export function defaultWorkerCount(
  hash: boolean,
  cores = os.availableParallelism(),
  load = os.loadavg()[0] ?? 0,
): number {
  const idle = Math.max(0, Math.round(cores - load));
  return hash ? Math.max(1, Math.min(8, cores, idle + 1)) : Math.min(7, cores - 1, idle);
}

export async function walkTrees(roots: readonly WalkRoot[], options: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = {
    blocks: [],
    entries: 0,
    files: 0,
    dirs: 0,
    bytes: 0,
    vanished: 0,
    problems: [],
    problemCount: 0,
    missingRoots: [],
  };
  // Blocks by directory key; the first one wins when overlapping roots walk a directory twice.
  const blocks = new Map<string, WalkBlock>();
  const rootLines = new Map<string, WalkBlock & { lines: string[] }>();
  const groups: WalkGroup[] = roots.map((r) => r.rules);
  const queue: WalkTask[] = [];
  for (const [group, root] of roots.entries()) {
    if (rootExcluded(compileSelection(root.rules), path.resolve(root.path))) continue;
    // The root itself is followed when it is a symlink: a manifest of /home where /home → /data/home
    // should list the files, not one link.
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(root.path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      result.missingRoots.push({
        path: root.path,
        message: e.code === "ENOENT" ? "does not exist" : (e.code ?? e.message),
      });
      continue;
    }
    const type = entryType(st);
    const escaped = escapePath(root.path);
    const key = dirKey(escaped);
    let holder = rootLines.get(key);
    if (!holder) rootLines.set(key, (holder = { key, text: "", files: 0, dirs: 0, bytes: 0, lines: [] }));
    holder.lines.push(formatEntry(escaped, type, type === "d" ? 0 : st.size, st.mtimeMs, st.mode, ""));
    if (type === "d") {
      holder.dirs++;
      queue.push({ dir: root.path, group, dev: st.dev });
    } else {
      holder.files++;
      if (type === "f") holder.bytes += st.size;
    }
  }

  let seen = 0;
  const absorb = (response: WalkResponse) => {
    for (const block of response.blocks) if (!blocks.has(block.key)) blocks.set(block.key, block);
    seen += response.count;
    queue.push(...response.pending);
    result.vanished += response.vanished;
    result.problemCount += response.problems.length;
    for (const p of response.problems) if (result.problems.length < 1000) result.problems.push(p);
    options.onProgress?.(seen);
  };

  const workerCount = options.workers ?? defaultWorkerCount(options.hash);
  const useWorkers = workerCount > 0 && queue.length > 0 && fs.existsSync(fileURLToPath(WORKER_URL));
  await walkQueue(queue, groups, useWorkers ? workerCount : 0, options, absorb);
  // A root's own entry belongs to its parent directory's block, which is not walked unless another
  // root covers it (then that block, which has the entry, wins).
  for (const [key, holder] of rootLines) {
    if (blocks.has(key)) continue;
    const lines = sortManifestLines(holder.lines);
    blocks.set(key, { ...holder, text: `${lines.join("\n")}\n` });
  }
  for (const key of [...blocks.keys()].sort()) {
    const block = blocks.get(key) as WalkBlock;
    result.blocks.push(block.text);
    result.entries += block.files + block.dirs;
    result.files += block.files;
    result.dirs += block.dirs;
    result.bytes += block.bytes;
  }
  return result;
}

/**
 * Hands directories to worker threads as they come online. Without hashing this thread walks too:
 * a worker takes ~50 ms to start, a quarter of a whole walk of 100k files, so this thread starts at
 * once and the workers join in; between its own directories it yields, so worker messages, timers
 * and the step's AbortSignal are served.
 */
async function walkQueue(
  queue: WalkTask[],
  groups: WalkGroup[],
  workerCount: number,
  options: WalkOptions,
  absorb: (response: WalkResponse) => void,
): Promise<void> {
  const reader = options.reader ?? defaultReaderKind();
  const state = createWalkState(groups, reader);
  const idle: Worker[] = [];
  let busy = 0;
  let failure = null as Error | null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const workers: Worker[] = [];
  const startWorker = () => {
    const worker = new Worker(WORKER_URL, {
      workerData: { holdfastTreeWalk: true, groups, reader } satisfies WorkerInit,
    });
    workers.push(worker);
    worker.once("online", () => {
      // A metadata walk keeps two requests in flight per worker: it starts on the second while this
      // thread, busy with a directory of its own, has not yet read the answer to the first (100k
      // files, one worker, cold: 240 ms instead of 273). Hashing, where this thread only hands out
      // work, does better with one (710 ms instead of 755): a second batch only hoards directories.
      for (let slot = options.hash ? 1 : 2; slot > 0; slot--) idle.push(worker);
      notify();
    });
    worker.on("message", (response: WalkResponse) => {
      busy--;
      absorb(response);
      idle.push(worker);
      notify();
    });
    worker.on("error", (err) => {
      failure ??= err;
      notify();
    });
    worker.on("exit", (code) => {
      if (code !== 0) failure ??= new Error(`manifest worker thread exited with code ${code}`);
      notify();
    });
  };
  // Hashing needs its workers at once; a metadata walk starts them only when the tree turns out big
  // enough to repay their start-up.
  let walkedHere = 0;
  const startWorkers = () => {
    while (workers.length < workerCount) startWorker();
  };
  if (options.hash) startWorkers();
  const onAbort = () => notify();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      throwIfAborted(options.signal);
      if (failure) throw failure;
      while (idle.length > 0 && queue.length > 0) {
        const worker = idle.pop() as Worker;
        // Share the queue among the threads (the idle ones, the busy ones and this one).
        const take = Math.max(1, Math.floor(queue.length / (idle.length + busy + 2)));
        busy++;
        worker.postMessage({
          tasks: queue.splice(0, Math.min(take, 256)),
          budget: BATCH_BUDGET,
          hash: options.hash,
        } satisfies WalkRequest);
      }
      if (queue.length > 0 && (workerCount === 0 || !options.hash)) {
        const response = walkBatch(state, {
          tasks: queue.splice(0, 1),
          budget: MAIN_BUDGET,
          hash: options.hash,
        });
        walkedHere += response.count;
        absorb(response);
        if (walkedHere >= WORKER_THRESHOLD && queue.length > 0) startWorkers();
        await new Promise((resolve) => setImmediate(resolve));
      } else if (busy > 0 || (queue.length > 0 && idle.length === 0)) {
        await new Promise<void>((resolve) => (wake = resolve));
      } else break;
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}
