// One run of a job at a time (behavior.md, R3). Node has no flock(2), so the lock is an exclusive
// transaction on a tiny SQLite file: SQLite holds it with an fcntl(2) record lock, which the kernel
// releases when the process dies, however it dies (SIGKILL, OOM, power loss), so a lock is never stale.
// The holder's pid and start time sit in a sidecar file, for the "already running" message.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { JobBusyError, UsageError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import {
  dirDistrust,
  ensureTrustedStateDir,
  fileDistrust,
  NO_FOLLOW,
  READ_NO_FOLLOW,
} from "../util/trusted-dir.js";

export interface JobLock {
  readonly job: string;
  release(): void;
}

interface Holder {
  pid: number;
  since: string;
  run_id?: string;
}

export function lockPaths(stateDir: string, job: string) {
  const dir = path.join(stateDir, "locks");
  return { dir, lock: path.join(dir, `${job}.lock`), holder: path.join(dir, `${job}.holder.json`) };
}

/**
 * Where the lock goes when the state dir cannot be written (a read-only file system, issue 12 item 7):
 * a directory per state dir under the system temp dir, so the backup still runs one at a time.
 */
export function fallbackLockPaths(stateDir: string, job: string) {
  const tag = crypto.createHash("sha256").update(path.resolve(stateDir)).digest("hex").slice(0, 16);
  const dir = path.join(os.tmpdir(), `holdfast-${process.getuid?.() ?? "user"}-locks-${tag}`);
  return { dir, lock: path.join(dir, `${job}.lock`), holder: path.join(dir, `${job}.holder.json`) };
}

const UNWRITABLE = /^(EROFS|EACCES|EPERM|ENOSPC|SQLITE_READONLY|SQLITE_CANTOPEN|SQLITE_IOERR)/;

/** Tries once; returns null when another process holds the lock. */
export function tryLockJob(stateDir: string, job: string): JobLock | null {
  try {
    // The whole state dir first: a lock in a state dir others can write would be theirs to aim.
    ensureTrustedStateDir(stateDir);
    return tryLockAt(lockPaths(stateDir, job), job);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "string" || !UNWRITABLE.test(code)) throw err;
    return tryLockAt(fallbackLockPaths(stateDir, job), job);
  }
}

function tryLockAt(paths: ReturnType<typeof lockPaths>, job: string): JobLock | null {
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // locks/ (or the fallback under the shared temp dir) must be ours alone, and the lock file is
  // opened without following a symlink, its mode set through that descriptor: a link planted as
  // JOB.lock would otherwise have root chmod whatever it points to.
  const dirProblem = dirDistrust(paths.dir);
  if (dirProblem) {
    throw new UsageError(
      `refusing the lock directory ${paths.dir}: it ${dirProblem}, so another user could make holdfast act on any file`,
      `it must be a directory of the user holdfast runs as that no one else can write: chown $(id -un) ${paths.dir} && chmod 700 ${paths.dir}`,
    );
  }
  const problem = fileDistrust(paths.lock);
  if (problem) {
    throw new UsageError(
      `refusing the lock file ${paths.lock}: it ${problem}`,
      `remove it (holdfast makes a new one) and check who else can write ${paths.dir}`,
    );
  }
  const fd = fs.openSync(paths.lock, fs.constants.O_RDWR | fs.constants.O_CREAT | NO_FOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
  } finally {
    fs.closeSync(fd);
  }
  let db: Database.Database | null = null;
  try {
    db = new Database(paths.lock, { timeout: 0 });
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db?.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") return null;
    throw err;
  }
  const holder: Holder = { pid: process.pid, since: new Date().toISOString() };
  // Written whole and renamed into place, so a waiting process never reads half of it.
  try {
    writeFileAtomicSync(paths.holder, JSON.stringify(holder), { mode: 0o600, durable: false });
  } catch (err) {
    db.close();
    throw err;
  }
  const handle = db;
  let released = false;
  return {
    job,
    release() {
      if (released) return;
      released = true;
      try {
        fs.rmSync(paths.holder, { force: true });
        handle.exec("ROLLBACK");
      } finally {
        handle.close();
      }
    },
  };
}

export function readLockHolder(stateDir: string, job: string): Holder | null {
  for (const paths of [lockPaths(stateDir, job), fallbackLockPaths(stateDir, job)]) {
    try {
      const fd = fs.openSync(paths.holder, READ_NO_FOLLOW);
      try {
        return JSON.parse(fs.readFileSync(fd, "utf8")) as Holder;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      /* not there */
    }
  }
  return null;
}

/** Takes the job's lock, or throws JobBusyError naming the holder; with waitMs, polls until then. */
export async function lockJob(stateDir: string, job: string, waitMs = 0): Promise<JobLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryLockJob(stateDir, job);
    if (lock) return lock;
    if (Date.now() >= deadline) {
      const holder = await waitForHolder(stateDir, job);
      throw new JobBusyError(job, holder?.pid ?? null, holder?.since ?? null);
    }
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(10, deadline - Date.now()))));
  }
}

/** The holder writes its sidecar just after taking the lock; give it a moment so we can name it. */
async function waitForHolder(stateDir: string, job: string): Promise<Holder | null> {
  for (let i = 0; i < 40; i++) {
    const holder = readLockHolder(stateDir, job);
    if (holder) return holder;
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}
