// Directories that holdfast writes into as root on someone's behalf (restore targets, S7): made by
// holdfast itself, reached without following a symlink in any component, private (0700), and known
// by their identity (device and inode) so that whoever later hands the path to restic can check it
// still names the directory that was made.
import fs from "node:fs";
import path from "node:path";
import { HoldfastError } from "../errors.js";

export interface DirIdentity {
  dev: number;
  ino: number;
}

export type UnsafeDirReason = "exists" | "symlink" | "not_directory" | "untrusted" | "changed" | "io";

export class UnsafeDirError extends HoldfastError {
  readonly reason: UnsafeDirReason;
  declare readonly hint: string;
  constructor(reason: UnsafeDirReason, message: string, hint: string) {
    super(message, { kind: "permission", hint });
    this.name = "UnsafeDirError";
    this.reason = reason;
  }
}

export function identityOf(stat: fs.Stats): DirIdentity {
  return { dev: stat.dev, ino: stat.ino };
}

/**
 * Why a directory that already exists cannot be trusted to stay as it is while root writes below
 * it — null when it can: it is owned by the effective user (or root) and nobody else may write in it.
 */
export function untrustedBecause(stat: fs.Stats): string | null {
  const me = process.geteuid?.() ?? 0;
  if (stat.uid !== me && stat.uid !== 0) return `it is owned by uid ${stat.uid}`;
  if ((stat.mode & 0o022) !== 0) {
    // The sticky bit stops others from renaming or removing what they do not own, but they can still
    // add names, e.g. the very symlink the walk is about to step into.
    return `other users may write in it (mode ${(stat.mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  return null;
}

const PROC_FD = "/proc/self/fd";
const hasProcFd = (() => {
  try {
    return fs.statSync(PROC_FD).isDirectory();
  } catch {
    return false;
  }
})();

/**
 * Makes `parts` below the directory `base` (a real path: no symlink in it), one component at a time.
 * Each component is created by mkdir unless it exists and then opened with O_DIRECTORY|O_NOFOLLOW
 * below the directory opened before it (through /proc/self/fd, so a rename of anything on the way
 * changes nothing): a symlink in any component — planted before or during the walk — is refused,
 * never followed. A component that existed already must be a directory that nobody else may write
 * in (untrustedBecause); the last one must be new when `exclusive` (the default). New directories
 * get `mode` (default 0700). Returns the path and the identity of the last directory.
 */
export function makeDirBelow(
  base: string,
  parts: readonly string[],
  options: { mode?: number; exclusive?: boolean; hint?: string } = {},
): { path: string; identity: DirIdentity } {
  const mode = options.mode ?? 0o700;
  const exclusive = options.exclusive ?? true;
  const hint = options.hint ?? `choose a new directory below ${base}`;
  const flags = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
  let fd = openDir(base, flags, base, hint);
  let current = base;
  try {
    const baseStat = fs.fstatSync(fd);
    const why = untrustedBecause(baseStat);
    if (why) {
      throw new UnsafeDirError(
        "untrusted",
        `${base} cannot hold restores safely: ${why}`,
        `make it private: chown root ${base} && chmod 700 ${base}`,
      );
    }
    parts.forEach((name, i) => {
      if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
        throw new UnsafeDirError("io", `${JSON.stringify(name)} is not a directory name`, hint);
      }
      const last = i === parts.length - 1;
      const next = path.join(current, name);
      const at = hasProcFd ? `${PROC_FD}/${fd}/${name}` : next;
      let created = false;
      try {
        fs.mkdirSync(at, { mode });
        created = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST") throw ioError(next, err, hint);
        if (last && exclusive) {
          throw new UnsafeDirError(
            "exists",
            `${next} exists already; a restore goes into a new directory that holdfast makes itself`,
            hint,
          );
        }
      }
      const child = openDir(at, flags, next, hint);
      fs.closeSync(fd);
      fd = child;
      current = next;
      const stat = fs.fstatSync(fd);
      if (!created) {
        const untrusted = untrustedBecause(stat);
        if (untrusted) {
          throw new UnsafeDirError(
            "untrusted",
            `${next} is on the way to the restore target and ${untrusted}`,
            `${hint}, outside directories that other users may change`,
          );
        }
      } else if ((stat.mode & 0o777) !== mode) {
        // mkdir applies the umask; the directory is ours alone whatever the umask says.
        fs.fchmodSync(fd, mode);
      }
    });
    return { path: current, identity: identityOf(fs.fstatSync(fd)) };
  } finally {
    fs.closeSync(fd);
  }
}

function openDir(at: string, flags: number, shown: string, hint: string): number {
  try {
    return fs.openSync(at, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // With O_DIRECTORY, Linux reports a symlink as ENOTDIR rather than ELOOP: look at what it is.
    if (code === "ELOOP" || (code === "ENOTDIR" && isSymlink(at))) {
      throw new UnsafeDirError("symlink", `${shown} is a symlink; a restore never follows one`, hint);
    }
    if (code === "ENOTDIR") throw new UnsafeDirError("not_directory", `${shown} is not a directory`, hint);
    throw ioError(shown, err, hint);
  }
}

function isSymlink(at: string): boolean {
  try {
    return fs.lstatSync(at).isSymbolicLink();
  } catch {
    return false;
  }
}

function ioError(shown: string, err: unknown, hint: string): UnsafeDirError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new UnsafeDirError("io", `cannot make ${shown} (${code})`, hint);
}

/**
 * Checks, just before a program is given `dir` (a real path), that it still is the directory with
 * `identity`: no symlink in any of its components (its real path is itself), the same device and
 * inode, and (unless `empty: false`) empty.
 */
export function checkDirIdentity(
  dir: string,
  identity: DirIdentity,
  options: { empty?: boolean } = {},
): void {
  const hint = "start the restore again into a new directory";
  let real: string;
  let stat: fs.Stats;
  try {
    real = fs.realpathSync(dir);
    stat = fs.lstatSync(dir);
  } catch (err) {
    throw new UnsafeDirError("changed", `${dir} is gone (${(err as NodeJS.ErrnoException).code})`, hint);
  }
  if (real !== dir) {
    throw new UnsafeDirError("changed", `${dir} now leads through a symlink (to ${real})`, hint);
  }
  if (!stat.isDirectory() || stat.dev !== identity.dev || stat.ino !== identity.ino) {
    throw new UnsafeDirError("changed", `${dir} is no longer the directory made for this restore`, hint);
  }
  if ((options.empty ?? true) && fs.readdirSync(dir).length > 0) {
    throw new UnsafeDirError("changed", `${dir} is no longer empty: something was put into it`, hint);
  }
}
