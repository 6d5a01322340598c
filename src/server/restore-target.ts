// Where a restore may write (S4, S7): only inside the restore root, and only into a directory that
// the server makes itself for that restore. resolveRestoreTarget checks a request on the real path —
// the nearest existing ancestor through realpath, plus the normalised rest — so neither `..` nor a
// symlink inside the root that points outside can lead a restore elsewhere. createRestoreTarget then
// makes the directory: exclusively (an existing target is refused), 0700, walking from the root with
// no symlink followed in any component (makeDirBelow), and returns its identity so the restore
// command can check, just before restic starts, that the path still names that directory. A check
// alone is not enough: between the check and restic's first write, another restore running into the
// same tree could put a symlink where the checked path goes.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/types.js";
import { makeDirBelow, UnsafeDirError, type DirIdentity } from "../util/safe-dir.js";
import { EXIT, HoldfastError } from "../errors.js";

export class RestoreTargetError extends HoldfastError {
  declare readonly hint: string;
  /** exists: the target is there already (409); invalid: anything else about the request (400). */
  readonly reason: "invalid" | "exists";
  constructor(message: string, hint: string, reason: "invalid" | "exists" = "invalid") {
    super(message, { kind: "usage", hint, exitCode: EXIT.usage });
    this.name = "RestoreTargetError";
    this.reason = reason;
  }
}

/** The restore root of a config: server.restore_root, else <state_dir>/restores. */
export function restoreRootOf(config: Pick<Config, "state_dir" | "server">): string {
  return config.server.restore_root ?? path.join(config.state_dir, "restores");
}

function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(prefix);
}

/**
 * Resolves a requested restore target (absolute, or relative to the root) to the real directory it
 * would write to, or throws RestoreTargetError when that is outside the root. The root must exist.
 */
export function resolveRestoreTarget(root: string, requested: string): string {
  const hint = `restore into a directory under ${root} (or give a path relative to it)`;
  if (requested.trim() === "" || requested.includes("\0")) {
    throw new RestoreTargetError("the restore target is empty or not a valid path", hint);
  }
  const realRoot = fs.realpathSync(root);
  // Textual normalisation first: removes `..` and `.`, so the parts below are plain names.
  const wanted = path.resolve(root, requested);
  const rest: string[] = [];
  let existing = wanted;
  let realExisting: string;
  for (;;) {
    try {
      realExisting = fs.realpathSync(existing);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") {
        throw new RestoreTargetError(`the restore target cannot be resolved (${code ?? String(err)})`, hint);
      }
      // A dangling symlink: realpath says ENOENT, but restic would follow it wherever it points.
      if (isPresent(existing)) {
        throw new RestoreTargetError(`${existing} is a symlink that points to nothing`, hint);
      }
      const parent = path.dirname(existing);
      if (parent === existing)
        throw new RestoreTargetError("the restore target has no existing ancestor", hint);
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
  const real = path.join(realExisting, ...rest);
  if (!isInside(real, realRoot)) {
    throw new RestoreTargetError(
      real === wanted
        ? `the restore target ${requested} is outside the restore root`
        : `the restore target ${requested} resolves to ${real}, outside the restore root`,
      hint,
    );
  }
  if (rest.length === 0 && !fs.statSync(real).isDirectory()) {
    throw new RestoreTargetError(`the restore target ${requested} exists and is not a directory`, hint);
  }
  return real;
}

function isPresent(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the directory a restore writes into (after resolveRestoreTarget accepted the request): a new
 * directory below the restore root, every missing component made by holdfast (0700), no symlink
 * followed, no existing directory on the way that another user may write in. Throws
 * RestoreTargetError ("exists" when the target is there already).
 */
export function createRestoreTarget(
  root: string,
  requested: string,
): { path: string; identity: DirIdentity } {
  const hint = `restore into a new directory under ${root}`;
  const realRoot = fs.realpathSync(root);
  // The request as written (not through realpath): a symlink on the way is refused, not followed.
  const wanted = path.resolve(root, requested);
  const base = isInside(wanted, root) ? root : isInside(wanted, realRoot) ? realRoot : null;
  if (base === null)
    throw new RestoreTargetError(`the restore target ${requested} is outside the restore root`, hint);
  const parts = path
    .relative(base, wanted)
    .split(path.sep)
    .filter((p) => p !== "");
  if (parts.length === 0) {
    throw new RestoreTargetError(
      "the restore target is the restore root itself",
      `name a new directory inside it, e.g. ${path.join(root, "restore-1")}`,
    );
  }
  try {
    return makeDirBelow(realRoot, parts, { hint });
  } catch (err) {
    if (err instanceof UnsafeDirError) {
      throw new RestoreTargetError(err.message, err.hint, err.reason === "exists" ? "exists" : "invalid");
    }
    throw err;
  }
}
