// One directory's entries with their lstat data: the inner loop of the manifest walk (targets.md P4).
// The native reader (native/read-directory.c, built by `npm run build`) reads a directory in one call,
// with fstatat(2) relative to the open directory as find(1) does; the Node reader gives the same
// result with readdirSync + lstatSync, and is used wherever the native module is not built.
import { isUtf8 } from "node:buffer";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import util from "node:util";

/** Numbers per entry in DirectoryListing.stats. */
export const STAT_FIELDS = 4;

/**
 * The entries of one directory (never "." or ".."), in an order the caller must not rely on. stats
 * holds STAT_FIELDS numbers per entry: st_mode — or a negative errno when the entry could not be
 * lstat'ed (-ENOENT: it vanished since the directory was read; -EILSEQ: its name is not UTF-8, so a
 * JavaScript string cannot name it) — size, mtime in ms (as Stats.mtimeMs), and st_dev.
 */
export interface DirectoryListing {
  names: string[];
  stats: Float64Array;
}

export type DirectoryReaderKind = "native" | "node";
export type DirectoryReader = (dir: string) => DirectoryListing;

type NativeReadDirectory = (dir: string) => [string[], Float64Array] | number;

const NATIVE_MODULE = "../../native/build/Release/holdfast_native.node";

let nativeFunction: NativeReadDirectory | null | undefined;

function loadNative(): NativeReadDirectory | null {
  if (nativeFunction === undefined) {
    try {
      const native = createRequire(import.meta.url)(NATIVE_MODULE) as { readDirectory?: unknown };
      nativeFunction =
        typeof native.readDirectory === "function" ? (native.readDirectory as NativeReadDirectory) : null;
    } catch {
      // Not built (a copy without `npm run build`, another platform): the Node reader does the work.
      nativeFunction = null;
    }
  }
  return nativeFunction;
}

/**
 * The fastest reader here: native when its module is built. HOLDFAST_DIRECTORY_READER=node forces
 * the Node reader (to compare, or to rule the native one out when chasing a problem).
 */
export function defaultReaderKind(): DirectoryReaderKind {
  if (process.env.HOLDFAST_DIRECTORY_READER === "node") return "node";
  return loadNative() ? "native" : "node";
}

export function directoryReader(kind: DirectoryReaderKind): DirectoryReader {
  const native = kind === "native" ? loadNative() : null;
  if (!native) return readDirectoryWithNode;
  return (dir) => {
    const result = native(dir);
    if (typeof result === "number") throw errnoError(result, dir);
    return { names: result[0], stats: result[1] };
  };
}

export function readDirectoryWithNode(dir: string): DirectoryListing {
  // Sorted, like the native reader's byte order for plain names, so the caller rarely re-sorts.
  const names = fs.readdirSync(dir).sort();
  // Node decodes a name that is not UTF-8 with U+FFFD in place of its bad bytes; only then are the
  // raw names read to tell which ones they are (a real U+FFFD in a valid name is rare, and fine).
  const notUtf8 = names.some((n) => n.includes("\uFFFD"))
    ? new Set(
        fs
          .readdirSync(dir, { encoding: "buffer" })
          .filter((raw) => !isUtf8(raw))
          .map((raw) => raw.toString()),
      )
    : null;
  const stats = new Float64Array(names.length * STAT_FIELDS);
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  for (let i = 0; i < names.length; i++) {
    const at = i * STAT_FIELDS;
    if (notUtf8?.has(names[i] as string)) {
      stats[at] = -os.constants.errno.EILSEQ;
      continue;
    }
    try {
      const st = fs.lstatSync(prefix + (names[i] as string), { throwIfNoEntry: false });
      if (st === undefined) {
        stats[at] = -os.constants.errno.ENOENT;
        continue;
      }
      stats[at] = st.mode;
      stats[at + 1] = st.size;
      stats[at + 2] = st.mtimeMs;
      stats[at + 3] = st.dev;
    } catch (err) {
      stats[at] = -Math.abs((err as NodeJS.ErrnoException).errno ?? os.constants.errno.EIO);
    }
  }
  return { names, stats };
}

/** The error code ("EACCES") of a negative errno. */
export function errnoCode(negativeErrno: number): string {
  try {
    return util.getSystemErrorName(negativeErrno);
  } catch {
    return `errno ${-negativeErrno}`;
  }
}

function errnoError(negativeErrno: number, dir: string): NodeJS.ErrnoException {
  const code = errnoCode(negativeErrno);
  const error: NodeJS.ErrnoException = new Error(`${code}: cannot read directory '${dir}'`);
  error.code = code;
  error.errno = negativeErrno;
  error.path = dir;
  return error;
}
