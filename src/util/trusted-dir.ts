// Directories holdfast keeps its own state in (targets.md S8). holdfast runs as root and chmods,
// opens and prints what it finds there: whoever else can write such a directory can make root act on
// any file (a `locks/JOB.lock` symlink → chmod of its target; a swapped `history.db` → `logs` prints
// any file). A directory is trusted when it is a real directory owned by the effective user that
// no one else can write, in a chain of parents no other user can rename it out of.
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";

/** Opening flags that refuse a symlink in the last component. */
export const NO_FOLLOW = fs.constants.O_NOFOLLOW;
export const READ_NO_FOLLOW = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;

const euid = (): number => process.geteuid?.() ?? -1;

/**
 * Why `dir` cannot be trusted, or null when it can (or does not exist: then holdfast creates it).
 * `followLink`: the directory itself may be a symlink (a configured state_dir), judged by its target
 * — but the link's own directory chain still counts.
 */
export function dirDistrust(dir: string, options: { followLink?: boolean } = {}): string | null {
  const me = euid();
  if (me === -1) return null;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
    if (st.isSymbolicLink()) {
      if (!options.followLink) return "is a symbolic link";
      st = fs.statSync(dir);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  if (!st.isDirectory()) return "is not a directory";
  if (st.uid !== me) return `is owned by uid ${st.uid}, not by uid ${me} that holdfast runs as`;
  if ((st.mode & 0o022) !== 0)
    return `is writable by ${writers(st.mode)} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`;
  return parentDistrust(path.dirname(path.resolve(dir)), me);
}

function writers(mode: number): string {
  if ((mode & 0o022) === 0o022) return "its group and others";
  return mode & 0o020 ? "its group" : "others";
}

/** A parent that another user owns, or that anyone may write without the sticky bit, could swap the directory. */
function parentDistrust(start: string, me: number): string | null {
  for (let dir = start; ; dir = path.dirname(dir)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      return null;
    }
    if (st.uid !== me && st.uid !== 0)
      return `lies in ${dir}, which belongs to uid ${st.uid} (who could replace it)`;
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0)
      return `lies in ${dir}, which anyone may write (mode ${(st.mode & 0o7777).toString(8)}, not sticky)`;
    if (dir === path.dirname(dir)) return null;
  }
}

/** Why a file in a trusted directory cannot be trusted (a symlink, not a regular file, someone else's), or null. */
export function fileDistrust(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  if (st.isSymbolicLink()) return "is a symbolic link";
  if (!st.isFile()) return "is not a regular file";
  const me = euid();
  if (me !== -1 && st.uid !== me) return `is owned by uid ${st.uid}, not by uid ${me} that holdfast runs as`;
  return null;
}

/**
 * The state dir and its `locks/` and `logs/`: created 0700 where missing, refused (exit 2, with a hint)
 * where another user could have put something in them. history.db and its journal files are checked too.
 */
export function ensureTrustedStateDir(stateDir: string): void {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  refuseUntrusted(stateDir, dirDistrust(stateDir, { followLink: true }), stateDir);
  for (const sub of ["locks", "logs"]) ensureTrustedSubdir(stateDir, sub);
  // A damaged history (a directory where history.db should be, say) is the store's to report and the
  // run goes on (R10); a link or someone else's file is refused.
  for (const name of ["history.db", "history.db-wal", "history.db-shm"]) {
    const file = path.join(stateDir, name);
    const problem = fileDistrust(file);
    if (problem !== null && problem !== "is not a regular file") refuseUntrusted(file, problem, stateDir);
  }
}

/** STATE/NAME as a trusted directory of holdfast's own (created 0700 where missing). */
export function ensureTrustedSubdir(stateDir: string, name: string): string {
  const dir = path.join(stateDir, name);
  // mkdir does not follow a symlink that is already there; the check below refuses it.
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    // A read-only state dir still runs backups (the lock and logs fall back): nothing to check there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EEXIST" && code !== "EROFS" && code !== "EACCES" && code !== "ENOSPC") throw err;
  }
  refuseUntrusted(dir, dirDistrust(dir), stateDir);
  return dir;
}

function refuseUntrusted(what: string, problem: string | null, stateDir: string): void {
  if (problem === null) return;
  throw new UsageError(
    `refusing the state dir ${stateDir}: ${what} ${problem}, so another user could make holdfast act on any file`,
    `the state dir, its locks/ and logs/ must be directories of the user holdfast runs as that no one else can write: ` +
      `chown -R $(id -un) ${stateDir} && chmod -R go-w ${stateDir} (after checking what is in it), or set state_dir to a fresh directory`,
  );
}

/**
 * Numeric open(2) flags for fs streams and writeFile: Node passes them on to fs.open, which takes
 * numbers (O_NOFOLLOW has no string spelling); @types/node types these options as strings only.
 */
export function openFlags(flags: number): string {
  return flags as unknown as string;
}
