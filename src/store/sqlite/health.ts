// What `holdfast doctor` says about the history database (issue 12 items 7 and 9): is it there, is
// it a database, does it pass PRAGMA quick_check, can this user write it, does another process hold
// its write lock, are runs waiting to be added (pending-history/), and are runs recorded in the future.
import fs from "node:fs";
import Database from "better-sqlite3";
import { FUTURE_TOLERANCE_MS } from "../record-rules.js";

export interface HistoryFinding {
  status: "ok" | "info" | "warning" | "error";
  message: string;
  hint: string | null;
}

const MOVE_ASIDE = (file: string) =>
  `move it aside (mv ${file} ${file}.broken) so the next run starts a new history; runs kept in pending-history/ are added then`;

export function inspectHistory(file: string, pendingCount: number, now: Date): HistoryFinding[] {
  const findings: HistoryFinding[] = [];
  if (pendingCount > 0)
    findings.push({
      status: "warning",
      message: `${pendingCount} run record${pendingCount === 1 ? "" : "s"} kept while the history was unusable wait to be added`,
      hint: "they are added by the next holdfast command that can write the history; fix the history database first",
    });
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      findings.push({
        status: "ok",
        message: `${file} does not exist yet (the first run creates it)`,
        hint: null,
      });
    } else {
      findings.push({
        status: "error",
        message: `${file} cannot be examined (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        hint: "check the owner and mode of the state dir",
      });
    }
    return findings;
  }
  if (!stat.isFile()) {
    findings.push({
      status: "error",
      message: `${file} is ${stat.isDirectory() ? "a directory" : "not a regular file"}, not a history database`,
      hint: MOVE_ASIDE(file),
    });
    return findings;
  }

  const readOnlyFs = readOnlyFileSystem(file);
  if (readOnlyFs) {
    findings.push({
      status: "error",
      message: `${file} cannot be written: the file system holding it is mounted read-only (EROFS)`,
      hint: "remount it read-write (mount -o remount,rw MOUNTPOINT) or set state_dir to a writable place; until then runs still back up but end `failed`, their records kept in the temp dir",
    });
  }

  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2_000 });
    const result = db.pragma("quick_check(5)", { simple: false }) as Array<{ quick_check: string }>;
    const problems = result
      .flatMap((r) => r.quick_check.split("\n"))
      .filter((line) => line !== "ok" && !line.startsWith("***"));
    if (problems.length > 0) {
      findings.push({
        status: "error",
        message: `${file} is damaged (PRAGMA quick_check: ${problems.join("; ")})`,
        hint:
          `keep a copy, then recover what can be read: sqlite3 ${file} .recover | sqlite3 ${file}.recovered ` +
          `and move ${file}.recovered in its place; or ${MOVE_ASIDE(file)}`,
      });
      return findings;
    }
    findings.push(...clockFindings(db, now));
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    // A WAL database on a read-only file system cannot even be read (no -shm): said above.
    if (readOnlyFs) return findings;
    findings.push({
      status: "error",
      message:
        code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")
          ? `${file} is not a readable SQLite database (${code}: its header or pages are damaged)`
          : `${file} cannot be read (${code || String(err)}: ${(err as Error).message})`,
      hint:
        code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")
          ? MOVE_ASIDE(file)
          : "check its owner and mode",
    });
    return findings;
  } finally {
    db?.close();
  }

  if (!readOnlyFs) findings.push(writability(file));
  return findings;
}

function readOnlyFileSystem(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EROFS";
  }
}

/** Takes the write lock for a moment (and gives it back at once, writing nothing). */
function writability(file: string): HistoryFinding {
  let db: Database.Database | null = null;
  try {
    // access(W_OK) sees EROFS and modes; SQLite would silently open such a file read-only.
    fs.accessSync(file, fs.constants.W_OK);
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    if (db.readonly)
      throw Object.assign(new Error("SQLite opened it read-only"), { code: "SQLITE_READONLY" });
    db.exec("BEGIN IMMEDIATE");
    db.exec("ROLLBACK");
    return { status: "ok", message: `${file} passes quick_check and is writable`, hint: null };
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY"))
      return {
        status: "warning",
        message: `${file} is locked for writing by another process right now`,
        hint: `runs go on and write their record when the lock is released; find the holder with: fuser -v ${file}`,
      };
    return {
      status: "error",
      message: `${file} cannot be written (${code}: ${(err as Error).message})`,
      hint: "runs still back up, but end `failed` until it can be written: check the file's owner and mode, and that its file system is mounted read-write",
    };
  } finally {
    db?.close();
  }
}

/** Runs dated ahead of this host's clock: they never count as fresh (job-status.ts). */
function clockFindings(db: Database.Database, now: Date): HistoryFinding[] {
  const hasRuns = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").get();
  if (hasRuns === undefined) return [];
  const row = db
    .prepare("SELECT count(*) AS n, max(started_at) AS latest FROM runs WHERE started_ms > ?")
    .get(now.getTime() + FUTURE_TOLERANCE_MS) as { n: number; latest: string | null };
  if (row.n === 0) return [];
  return [
    {
      status: "warning",
      message: `clock: ${row.n} run${row.n === 1 ? " is" : "s are"} recorded in the future (latest ${row.latest}, now ${now.toISOString()}); a success recorded in the future does not count as fresh`,
      hint: "the clock was (or is) wrong: check NTP (timedatectl status); these runs are ordered by when they were recorded, not by their dates",
    },
  ];
}
