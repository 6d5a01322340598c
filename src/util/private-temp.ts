// Private scratch directories under the temp dir (a database password file for a client, a SQLite
// copy, a bootstrap's restore): 0700, named PREFIX-PID.XXXXXX so that one a killed holdfast left
// behind (SIGKILL, power loss: no cleanup ran) can be told from one a live holdfast uses. Each new one
// first removes the leftovers of dead processes — a password file or a database copy must not stay
// in /tmp until the next reboot because a run was killed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The leftovers this sweeps: holdfast-NAME-PID.XXXXXX (mkdtemp's six characters). */
const PRIVATE_TEMP = /^holdfast-[a-z][a-z-]*-(\d+)\.[A-Za-z0-9]{6}$/;

/** Makes PREFIX-PID.XXXXXX (0700) in the temp dir, after removing such directories of dead holdfasts. */
export function makePrivateTempDir(prefix: string, tmp: string = os.tmpdir()): string {
  removeStalePrivateTempDirs(tmp);
  const dir = fs.mkdtempSync(path.join(tmp, `${prefix}${process.pid}.`));
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** Removes the private temp dirs of processes that no longer exist (ours only); returns how many. */
export function removeStalePrivateTempDirs(tmp: string = os.tmpdir()): number {
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return 0;
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : null;
  let removed = 0;
  for (const name of names) {
    const pid = Number(PRIVATE_TEMP.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (uid !== null && st.uid !== uid)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed++;
    } catch {
      /* gone already, or not ours to remove */
    }
  }
  return removed;
}

/** The temp file a SQLite restore writes next to its target: .NAME.holdfast-restore-PID-TIME. */
export function restoreTempName(target: string): string {
  return `.${path.basename(target)}.holdfast-restore-${process.pid}-${Date.now()}`;
}

/**
 * Removes the restore temp files (restoreTempName) for `target` that processes no longer alive left
 * next to it (a restore killed mid-copy: a full copy of the database): regular files we own only.
 */
export function removeStaleRestoreTemps(target: string): number {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.holdfast-restore-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : null;
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-\d+$/.exec(name.slice(prefix.length));
    const pid = Number(m?.[1]);
    if (!m || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue;
    const file = path.join(dir, name);
    try {
      const st = fs.lstatSync(file);
      if (!st.isFile() || (uid !== null && st.uid !== uid)) continue;
      fs.unlinkSync(file);
      removed++;
    } catch {
      /* gone already, or not ours to remove */
    }
  }
  return removed;
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
