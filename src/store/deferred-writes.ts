// The history as the other commands see it (issue 12 item 8 and its siblings): another process
// holding history.db's write lock (a `sqlite3` shell left in a transaction, a backup tool, a second
// holdfast mid-commit) must not change what a command answers. WAL lets reads go on under a writer's
// lock, so only writes wait — and the writes of `watch`, `status`, the daemon or `serve` are
// bookkeeping (a stale episode opened, a job first seen, a trigger time, an interrupted run marked).
// Before this module such a write waited 5 s synchronously and then threw SQLITE_BUSY, which `watch`
// took for an unreadable history: every job `stale`, exit 2, while all were fresh.
//
// Here a write that finds the database locked is queued in order, in memory; reads of the key/value
// state see the queued value; a background timer retries; close() waits a moment for the lock and
// keeps what is still queued in the state dir's pending-history/ (writes-*.json), which the next
// holdfast command that can write the history applies (resilient-store.ts addPendingRecords) and, while
// the lock lasts, reads as the newest state. Every other error is the caller's, as before.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";
import type { NewRun, NotificationRecord, RunFinish, RunStore, StepPatch } from "./types.js";

/** A write, as data: it can be queued, kept in a file and applied by another process. */
export type DeferredWrite =
  | { op: "createRun"; run: NewRun }
  | { op: "updateStep"; runId: string; index: number; patch: StepPatch }
  | { op: "finishRun"; runId: string; finish: RunFinish }
  | { op: "addNotification"; runId: string; record: NotificationRecord }
  | { op: "markInterrupted"; runId: string; finishedAt: string }
  | { op: "setState"; key: string; value: string | null };

export function applyWrite(store: RunStore, w: DeferredWrite): Promise<void> {
  switch (w.op) {
    case "createRun":
      return store.createRun(w.run);
    case "updateStep":
      return store.updateStep(w.runId, w.index, w.patch);
    case "finishRun":
      return store.finishRun(w.runId, w.finish);
    case "addNotification":
      return store.addNotification(w.runId, w.record);
    case "markInterrupted":
      return store.markInterrupted(w.runId, w.finishedAt);
    case "setState":
      return store.setState(w.key, w.value);
  }
}

/** A lock held by another process: it passes. Everything else means the database is unusable. */
export function isBusyStoreError(err: unknown): boolean {
  const code =
    (err as { cause?: { code?: unknown } } | null)?.cause?.code ?? (err as { code?: unknown })?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

const WRITES_PREFIX = "writes-";

export function isPendingWritesFile(file: string): boolean {
  const name = path.basename(file);
  return name.startsWith(WRITES_PREFIX) && name.endsWith(".json");
}

/** The writes kept in one pending file (none when it cannot be read). */
export function readPendingWrites(file: string): DeferredWrite[] {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { writes?: unknown };
    return Array.isArray(parsed.writes) ? (parsed.writes as DeferredWrite[]) : [];
  } catch {
    return [];
  }
}

/** A name that sorts in the order the files were made (then by pid). */
export function pendingWritesName(): string {
  return `${WRITES_PREFIX}${String(Date.now()).padStart(15, "0")}-${process.pid}.json`;
}

/** Keeps writes in the first of dirs that takes them; returns the file, or null. */
export async function keepPendingWrites(
  dirs: readonly string[],
  writes: readonly DeferredWrite[],
  log: (line: string) => void,
  why: string,
): Promise<string | null> {
  const failures: string[] = [];
  for (const dir of dirs) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, pendingWritesName());
      await writeFileAtomic(file, `${JSON.stringify({ writes })}\n`, { mode: 0o600 });
      log(
        `holdfast: ${writes.length} history write${writes.length === 1 ? " is" : "s are"} kept in ${file} (${why}); the next holdfast command that can write the history makes ${writes.length === 1 ? "it" : "them"}`,
      );
      return file;
    } catch (err) {
      failures.push(`${dir}: ${(err as Error).message}`);
    }
  }
  log(
    `holdfast: error: ${writes.length} history write(s) could not be kept anywhere (${failures.join("; ")})`,
  );
  return null;
}

export interface DeferWritesOptions {
  /** Where writes still queued at close() are kept (pending-history/ and its fallback). */
  pendingDirs: readonly string[];
  /** Pending files of earlier processes: their state writes are read as the newest state. */
  pendingFiles?: readonly string[];
  log?: (line: string) => void;
  /** How long close() waits for the lock before keeping the queue in a file (default 1 s). */
  closeWaitMs?: number;
  /** First pause between background retries (default 250 ms, doubled up to 5 s). */
  retryDelayMs?: number;
}

export interface DeferringStore extends RunStore {
  /** Writes queued behind another process' lock. */
  queuedWrites(): number;
}

const MAX_RETRY_DELAY_MS = 5_000;

export function deferWritesWhileLocked(inner: RunStore, options: DeferWritesOptions): DeferringStore {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const closeWaitMs = options.closeWaitMs ?? 1_000;
  const firstDelay = options.retryDelayMs ?? 250;
  const queue: DeferredWrite[] = [];
  /** State as earlier processes left it pending, then as this one queued it. */
  const stateOverlay = new Map<string, string | null>();
  for (const file of options.pendingFiles ?? []) {
    for (const w of readPendingWrites(file)) if (w.op === "setState") stateOverlay.set(w.key, w.value);
  }
  let timer: NodeJS.Timeout | null = null;
  let delay = firstDelay;
  let announced = false;
  let closed = false;
  let flushing: Promise<boolean> | null = null;

  /** Applies the queue in order; true when it is empty. Stops at a lock; drops a write that fails otherwise. */
  const flushOnce = async (): Promise<boolean> => {
    while (queue.length > 0) {
      const next = queue[0] as DeferredWrite;
      try {
        await applyWrite(inner, next);
      } catch (err) {
        if (isBusyStoreError(err)) return false;
        log(`holdfast: error: a delayed history write failed: ${(err as Error).message}`);
      }
      queue.shift();
    }
    if (announced) log("holdfast: the history database is free again; the delayed writes are made");
    announced = false;
    delay = firstDelay;
    return true;
  };
  const flush = (): Promise<boolean> => {
    flushing ??= flushOnce().finally(() => (flushing = null));
    return flushing;
  };

  const scheduleRetry = (): void => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void flush().then((done) => {
        if (!done) scheduleRetry();
      });
    }, delay);
    timer.unref();
    delay = Math.min(MAX_RETRY_DELAY_MS, delay * 2);
  };

  const write = async (w: DeferredWrite): Promise<void> => {
    if (closed) return applyWrite(inner, w);
    if (w.op === "setState") stateOverlay.set(w.key, w.value);
    if (queue.length === 0) {
      try {
        await applyWrite(inner, w);
        if (w.op === "setState") stateOverlay.delete(w.key);
        return;
      } catch (err) {
        if (!isBusyStoreError(err)) {
          if (w.op === "setState") stateOverlay.delete(w.key);
          throw err;
        }
      }
    }
    queue.push(w);
    if (!announced) {
      announced = true;
      log(
        "holdfast: warning: the history database is locked by another process; this command goes on and makes its writes when the lock is released",
      );
    }
    scheduleRetry();
  };

  return {
    createRun: (run) => write({ op: "createRun", run }),
    updateStep: (runId, index, patch) => write({ op: "updateStep", runId, index, patch }),
    finishRun: (runId, finish) => write({ op: "finishRun", runId, finish }),
    addNotification: (runId, record) => write({ op: "addNotification", runId, record }),
    markInterrupted: (runId, finishedAt) => write({ op: "markInterrupted", runId, finishedAt }),
    setState: (key, value) => write({ op: "setState", key, value }),

    getRun: (id) => inner.getRun(id),
    findRunIds: (prefix, limit) => inner.findRunIds(prefix, limit),
    listRuns: (query) => inner.listRuns(query),
    countRuns: (job) => inner.countRuns(job),
    jobSummaries: (jobs) => inner.jobSummaries(jobs),
    runningRuns: () => inner.runningRuns(),
    stepHistory: (job, step, limit) => inner.stepHistory(job, step, limit),
    getState: async (key) => (stateOverlay.has(key) ? (stateOverlay.get(key) ?? null) : inner.getState(key)),

    queuedWrites: () => queue.length,

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const deadline = Date.now() + closeWaitMs;
      while (!(await flush()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(10, deadline - Date.now()))));
      }
      if (queue.length > 0) {
        await keepPendingWrites(
          options.pendingDirs,
          queue.splice(0),
          log,
          "another process kept the history database locked",
        );
      }
      await inner.close();
    },
  };
}
