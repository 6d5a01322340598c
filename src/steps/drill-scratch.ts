// The scratch databases of the restore drill (verify with `database:` on PostgreSQL/MariaDB) are
// dropped in a `finally`; a holdfast killed with SIGKILL (or a power loss) mid-drill never gets
// there, and the copy would stay on the user's server forever. So each one is recorded before it is
// created — STATE_DIR/drill-scratch/PID-NAME.json, 0600, written atomically, holding the pid, the
// database name (which carries the pid too) and the server it is on — and removed once it is dropped.
// The next drill drops the recorded databases of processes that no longer exist on the same server:
// never a live process's, never a database no record names (nor one whose name is not our pattern).
import fs from "node:fs";
import path from "node:path";
import type { DumpTarget } from "../dump/drivers.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";

export interface ScratchRecord {
  pid: number;
  database: string;
  /** The server (engine, host/socket, port, user): a record is cleaned only by a drill of it. */
  server: string;
}

/** holdfast_drill_DB_PID_RANDOM: what the drill creates, and what cleanup agrees to drop. */
export const SCRATCH_NAME = /^holdfast_drill_.*_(\d+)_[0-9a-f]{8}$/;

export function scratchDir(stateDir: string): string {
  return path.join(stateDir, "drill-scratch");
}

/** The identity of a database server (no password: that is in a file the record does not name). */
export function serverKey(target: DumpTarget): string {
  return JSON.stringify([
    target.engine,
    target.host ?? null,
    target.socket ?? null,
    target.port ?? null,
    target.user ?? null,
  ]);
}

function recordPath(stateDir: string, pid: number, database: string): string {
  return path.join(scratchDir(stateDir), `${pid}-${database}.json`);
}

/** Writes the record of a scratch database about to be created (before CREATE DATABASE). */
export function recordScratch(stateDir: string, target: DumpTarget, database: string): void {
  const dir = scratchDir(stateDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const record: ScratchRecord = { pid: process.pid, database, server: serverKey(target) };
  writeFileAtomicSync(recordPath(stateDir, process.pid, database), `${JSON.stringify(record)}\n`, {
    mode: 0o600,
  });
}

export function forgetScratch(stateDir: string, pid: number, database: string): void {
  fs.rmSync(recordPath(stateDir, pid, database), { force: true });
}

/** The records of scratch databases on `target`'s server whose holdfast is gone. */
export function deadScratches(stateDir: string, target: DumpTarget): ScratchRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(scratchDir(stateDir));
  } catch {
    return [];
  }
  const server = serverKey(target);
  const found: ScratchRecord[] = [];
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    let record: ScratchRecord;
    try {
      record = JSON.parse(fs.readFileSync(path.join(scratchDir(stateDir), name), "utf8")) as ScratchRecord;
    } catch {
      continue;
    }
    const m = SCRATCH_NAME.exec(String(record.database));
    if (!m || Number(m[1]) !== record.pid || name !== `${record.pid}-${record.database}.json`) continue;
    if (record.server !== server) continue;
    if (!Number.isSafeInteger(record.pid) || record.pid <= 0 || record.pid === process.pid) continue;
    if (processExists(record.pid)) continue;
    found.push(record);
  }
  return found;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
