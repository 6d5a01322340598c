// The history as a run sees it (issue 12 items 7 and 8): backups matter more than their history, so
// the history store never stops a backup. Every write lands first in an in-memory record (the
// reference store, src/store/memory) and then in the database:
//   - healthy database: each write goes straight through, as before (durable when the call returns);
//   - busy database (another process holds its write lock): the run's record is marked behind and
//     written whole, later, by a background retry — the job goes on meanwhile;
//   - unusable database (damaged, not a database, a directory, read-only, EROFS): the job goes on;
//     `settle()` names the problem, so the run ends `failed` with an error of kind `history` (and
//     its `failure` is notified), and the record is kept as a pending file (pending-history/) that
//     the next holdfast to open a usable database writes into it.
// Reads prefer the database and fall back to the in-memory record, so a run never fails on a read.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { StoreError, stepError, type StepError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import {
  applyWrite,
  isBusyStoreError,
  isPendingWritesFile,
  keepPendingWrites,
  readPendingWrites,
  type DeferredWrite,
} from "./deferred-writes.js";
import { createMemoryStore } from "./memory/memory-store.js";
import type { RunRecord, RunStore } from "./types.js";

export interface ResilientStoreOptions {
  /** Opens the database (may throw a StoreError); called again after a failure, never concurrently. */
  open: () => RunStore;
  /** Where pending records go when the database cannot take them (the state dir). */
  stateDir: string;
  /** Diagnostics (default: stderr). */
  log?: (line: string) => void;
  /** How long settle() waits for a busy database (default 60 s). */
  settleWaitMs?: number;
  /** First pause between background retries of a busy database (default 250 ms, doubled up to 5 s). */
  retryDelayMs?: number;
}

export interface ResilientStore extends RunStore {
  /**
   * Waits (up to settleWaitMs) until the database holds every record written so far. Returns null
   * when it does, or when only a lock held by another process is in the way (the record is then
   * written when it goes away, or kept pending); the history error when the database is unusable.
   */
  settle(): Promise<StepError | null>;
}

const MAX_RETRY_DELAY_MS = 5_000;

export { isBusyStoreError };

export function createResilientStore(options: ResilientStoreOptions): ResilientStore {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settleWaitMs = options.settleWaitMs ?? 60_000;
  const firstRetryDelay = options.retryDelayMs ?? 250;
  const memory = createMemoryStore();
  /** Runs this process wrote (their in-memory record is the truth). */
  const ours = new Set<string>();
  /** Runs whose database record is behind the in-memory one. */
  const behind = new Set<string>();
  /** State keys not yet in the database (null: delete). */
  const pendingState = new Map<string, string | null>();
  let primary: RunStore | null = null;
  let problem: StoreError | null = null;
  let busySince: number | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retryDelay = firstRetryDelay;
  let closed = false;
  let announced = false;

  const note = (err: unknown): void => {
    if (isBusyStoreError(err)) {
      busySince ??= Date.now();
      return;
    }
    const storeError = err instanceof StoreError ? err : new StoreError(String(err), { cause: err });
    if (problem === null || problem.message !== storeError.message) {
      problem = storeError;
      log(
        `holdfast: error: ${storeError.message}; the job goes on and its record is kept in memory until the history can take it`,
      );
    }
    // A handle on a damaged file may never recover; the next attempt opens the file afresh.
    const stale = primary;
    primary = null;
    void stale?.close().catch(() => undefined);
  };

  const database = (): RunStore | null => {
    if (primary) return primary;
    try {
      primary = options.open();
      return primary;
    } catch (err) {
      note(err);
      return null;
    }
  };

  /** Writes what is behind; true when nothing is left. */
  const catchUp = async (): Promise<boolean> => {
    const db = database();
    if (!db) return behind.size === 0 && pendingState.size === 0;
    try {
      for (const id of [...behind]) {
        const record = await memory.getRun(id);
        if (record) await writeRunRecord(db, record);
        behind.delete(id);
      }
      for (const [key, value] of [...pendingState]) {
        await db.setState(key, value);
        pendingState.delete(key);
      }
      if (busySince !== null && announced) {
        log(`holdfast: the history database is free again; the run's record is complete`);
      }
      busySince = null;
      problem = null;
      retryDelay = firstRetryDelay;
      return true;
    } catch (err) {
      note(err);
      return false;
    }
  };

  const scheduleRetry = (): void => {
    if (retryTimer || closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void catchUp().then((done) => {
        if (!done && problem === null) scheduleRetry();
      });
    }, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(MAX_RETRY_DELAY_MS, retryDelay * 2);
  };

  const fallBehind = (runId: string, err: unknown): void => {
    behind.add(runId);
    note(err);
    if (isBusyStoreError(err)) {
      if (!announced) {
        announced = true;
        log(
          `holdfast: warning: the history database is locked by another process; the job goes on and its record is written when the lock is released`,
        );
      }
      scheduleRetry();
    }
  };

  /** A write of a run this process records: memory first, then the database unless it is behind. */
  const writeRun = async (
    runId: string,
    toMemory: () => Promise<void>,
    toDb: (db: RunStore) => Promise<void>,
  ) => {
    await toMemory();
    ours.add(runId);
    if (behind.has(runId)) return;
    const db = database();
    if (!db) {
      behind.add(runId);
      return;
    }
    try {
      await toDb(db);
    } catch (err) {
      fallBehind(runId, err);
    }
  };

  /** A read: the database when it answers, else what this process knows. */
  const read = async <T>(fromDb: (db: RunStore) => Promise<T>, fromMemory: () => Promise<T>): Promise<T> => {
    const db = behind.size === 0 ? database() : null;
    if (db) {
      try {
        return await fromDb(db);
      } catch (err) {
        note(err);
      }
    }
    return fromMemory();
  };

  return {
    createRun: (run) =>
      writeRun(
        run.id,
        () => memory.createRun(run),
        (db) => db.createRun(run),
      ),
    updateStep: (runId, index, patch) =>
      writeRun(
        runId,
        () => memory.updateStep(runId, index, patch),
        (db) => db.updateStep(runId, index, patch),
      ),
    finishRun: (runId, finish) =>
      writeRun(
        runId,
        () => memory.finishRun(runId, finish),
        (db) => db.finishRun(runId, finish),
      ),
    addNotification: async (runId, record) => {
      if (!ours.has(runId)) {
        // A run of an earlier process (watch announcing an interrupted run): the database or nothing.
        const db = database();
        if (db) await db.addNotification(runId, record).catch(note);
        return;
      }
      await writeRun(
        runId,
        () => memory.addNotification(runId, record),
        (db) => db.addNotification(runId, record),
      );
    },
    markInterrupted: async (runId, finishedAt) => {
      const db = database();
      if (!db) return;
      try {
        await db.markInterrupted(runId, finishedAt);
      } catch (err) {
        // Recovery is repeated by the next holdfast start; it never stops this run.
        note(err);
      }
    },
    setState: async (key, value) => {
      await memory.setState(key, value);
      const db = pendingState.size === 0 ? database() : null;
      if (db) {
        try {
          await db.setState(key, value);
          return;
        } catch (err) {
          note(err);
          if (isBusyStoreError(err)) scheduleRetry();
        }
      }
      pendingState.set(key, value);
    },

    getRun: async (id) =>
      ours.has(id)
        ? memory.getRun(id)
        : read(
            (db) => db.getRun(id),
            () => memory.getRun(id),
          ),
    findRunIds: (prefix, limit) =>
      read(
        (db) => db.findRunIds(prefix, limit),
        () => memory.findRunIds(prefix, limit),
      ),
    listRuns: (query) =>
      read(
        (db) => db.listRuns(query),
        () => memory.listRuns(query),
      ),
    countRuns: (job) =>
      read(
        (db) => db.countRuns(job),
        () => memory.countRuns(job),
      ),
    jobSummaries: (jobs) =>
      read(
        (db) => db.jobSummaries(jobs),
        () => memory.jobSummaries(jobs),
      ),
    runningRuns: () =>
      read(
        (db) => db.runningRuns(),
        () => Promise.resolve([]),
      ),
    stepHistory: (job, step, limit) =>
      read(
        (db) => db.stepHistory(job, step, limit),
        () => memory.stepHistory(job, step, limit),
      ),
    getState: async (key) => {
      if (pendingState.has(key)) return pendingState.get(key) ?? null;
      return read(
        (db) => db.getState(key),
        () => memory.getState(key),
      );
    },

    async settle() {
      const deadline = Date.now() + settleWaitMs;
      for (;;) {
        if (await catchUp()) return null;
        if (problem !== null) return historyError(problem);
        if (Date.now() >= deadline) return null;
        // At most a second apart: the run is only waiting for this now.
        await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(10, deadline - Date.now()))));
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      if (!(await catchUp())) {
        for (const id of behind) {
          const record = await memory.getRun(id);
          if (record) await keepPending(options.stateDir, record, log, problem);
        }
        // The notifications' state (the job's last outcome, its stale episode, a drill's time) too.
        const state: DeferredWrite[] = [...pendingState].map(([key, value]) => ({
          op: "setState",
          key,
          value,
        }));
        if (state.length > 0) {
          await keepPendingWrites(
            pendingDirs(options.stateDir),
            state,
            log,
            problem ? problem.message : "another process kept the history database locked",
          );
        }
      }
      await primary?.close().catch(() => undefined);
      await memory.close();
    },
  };
}

/** The run error of a run whose history could not be kept in the database. */
export function historyError(problem: StoreError): StepError {
  return stepError(
    "history",
    `the run's record could not be written to the history: ${problem.message}`,
    "the job's steps ran as recorded; `holdfast doctor` says what is wrong with the history database. " +
      "The record is kept in the state dir's pending-history/ and written when the database is usable again",
  );
}

/**
 * Writes a whole run record as it is into a store, whatever part of it is there already (none, the
 * start, some steps): idempotent, so a retry after a failure half-way completes it.
 */
export async function writeRunRecord(store: RunStore, record: RunRecord): Promise<void> {
  let existing = await store.getRun(record.id);
  if (!existing) {
    await store.createRun({
      id: record.id,
      job: record.job,
      host: record.host,
      trigger: record.trigger,
      pid: record.pid,
      started_at: record.started_at,
      steps: record.steps.map((s) => ({ name: s.name, type: s.type })),
    });
    existing = await store.getRun(record.id);
  }
  for (const step of record.steps) {
    const current = existing?.steps[step.index];
    if (current && JSON.stringify(current) === JSON.stringify(step)) continue;
    const { index: _index, name: _name, type: _type, ...patch } = step;
    await store.updateStep(record.id, step.index, patch);
  }
  if (record.status !== "running" && record.finished_at !== null && existing?.status === "running") {
    await store.finishRun(record.id, {
      status: record.status,
      exit_code: record.exit_code,
      finished_at: record.finished_at,
      duration_ms: record.duration_ms ?? 0,
      error: record.error,
    });
  }
  for (const notification of record.notifications.slice(existing?.notifications.length ?? 0)) {
    await store.addNotification(record.id, notification);
  }
}

// Pending records: the state dir's pending-history/, or — when the state dir cannot be written
// (EROFS, full) — a per-state-dir directory under the system temp dir, so the record survives this
// process at least until the next boot.
export function pendingDirs(stateDir: string): string[] {
  const tag = crypto.createHash("sha256").update(path.resolve(stateDir)).digest("hex").slice(0, 16);
  return [
    path.join(stateDir, "pending-history"),
    path.join(os.tmpdir(), `holdfast-${process.getuid?.() ?? "user"}-pending-history-${tag}`),
  ];
}

async function keepPending(
  stateDir: string,
  record: RunRecord,
  log: (line: string) => void,
  problem: StoreError | null,
): Promise<void> {
  const why = problem ? problem.message : "another process kept the history database locked";
  const failures: string[] = [];
  for (const dir of pendingDirs(stateDir)) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${record.id}.json`);
      await writeFileAtomic(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      log(
        `holdfast: the record of run ${record.id} is kept in ${file} (${why}); the next holdfast that can write the history adds it`,
      );
      return;
    } catch (err) {
      failures.push(`${dir}: ${(err as Error).message}`);
    }
  }
  log(`holdfast: error: the record of run ${record.id} could not be kept anywhere (${failures.join("; ")})`);
}

function pendingFiles(stateDir: string): string[] {
  const files: string[] = [];
  for (const dir of pendingDirs(stateDir)) {
    try {
      for (const name of fs.readdirSync(dir)) if (name.endsWith(".json")) files.push(path.join(dir, name));
    } catch {
      /* nothing pending there */
    }
  }
  // Run ids are ULIDs and writes-* names start with the time: both sort in the order they were made.
  return files.sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
}

/** Pending run records waiting for the database, oldest first. */
export function listPendingRecords(stateDir: string): string[] {
  return pendingFiles(stateDir).filter((f) => !isPendingWritesFile(f));
}

/** Pending single writes (deferred-writes.ts) waiting for the database, oldest first. */
export function listPendingWrites(stateDir: string): string[] {
  return pendingFiles(stateDir).filter(isPendingWritesFile);
}

/**
 * Writes pending records, then pending single writes, into a usable store and removes them; returns
 * how many run records were added. Stops (with the store's error) at the first write it cannot make,
 * keeping what is left for the next try.
 */
export async function addPendingRecords(store: RunStore, stateDir: string): Promise<number> {
  let added = 0;
  for (const file of listPendingRecords(stateDir)) {
    let record: RunRecord;
    try {
      record = JSON.parse(fs.readFileSync(file, "utf8")) as RunRecord;
    } catch {
      continue;
    }
    await writeRunRecord(store, record);
    fs.rmSync(file, { force: true });
    added++;
  }
  for (const file of listPendingWrites(stateDir)) {
    const writes = readPendingWrites(file);
    while (writes.length > 0) {
      try {
        await applyWrite(store, writes[0] as DeferredWrite);
      } catch (err) {
        // A write the history refuses as such (its run is not there) is dropped; a database that
        // cannot take writes (locked, damaged, full) keeps them all for the next try.
        const refused = err instanceof StoreError && err.cause === undefined;
        if (refused) {
          writes.shift();
          continue;
        }
        // What is left stays for the next try; what was made is not made twice.
        await writeFileAtomic(file, `${JSON.stringify({ writes })}\n`, { mode: 0o600 });
        throw err;
      }
      writes.shift();
    }
    fs.rmSync(file, { force: true });
  }
  return added;
}
