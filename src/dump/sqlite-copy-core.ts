// VACUUM INTO: SQLite's own consistent copy of a database in use (never a `cp` of a live file, which
// can tear pages mid-write and misses what is still in the WAL).
import Database from "better-sqlite3";

export interface SqliteCopyResult {
  /** `PRAGMA quick_check` of the copy: "ok", or SQLite's first complaint. */
  check: string;
}

export function copyDatabase(source: string, target: string): SqliteCopyResult {
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 30000");
    db.prepare("VACUUM INTO ?").run(target);
  } finally {
    db.close();
  }
  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    const rows = copy.pragma("quick_check") as Array<{ quick_check: string }>;
    return { check: rows.map((r) => r.quick_check).join("; ") };
  } finally {
    copy.close();
  }
}
