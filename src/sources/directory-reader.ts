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
 * lstat'ed (-ENOENT: it vanished since the directory was read) — size, mtime in ms (as Stats.mtimeMs),
 * and st_dev. A name that is not UTF-8 appears in names with U+FFFD for its bad bytes (a string
 * cannot hold them); raw then holds its bytes at the same index, to name the file by.
 */
export interface DirectoryListing {
  names: string[];
  stats: Float64Array;
  raw?: Array<Buffer | undefined>;
}

/** A path as the file system knows it: a Buffer where its bytes are not UTF-8. */
export type FsPath = string | Buffer;

export type DirectoryReaderKind = "native" | "node";
export type DirectoryReader = (dir: FsPath) => DirectoryListing;

type NativeReadDirectory = (
  dir: FsPath,
) => [string[], Float64Array, Array<Buffer | undefined> | undefined] | number;

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
    return result[2]
      ? { names: result[0], stats: result[1], raw: result[2] }
      : { names: result[0], stats: result[1] };
  };
}

/** dir/name, as bytes when the directory's or the name's bytes are not UTF-8. */
export function childPath(dir: FsPath, name: string, raw: Buffer | undefined): FsPath {
  if (typeof dir === "string" && raw === undefined) return dir === "/" ? `/${name}` : `${dir}/${name}`;
  const dirBytes = typeof dir === "string" ? Buffer.from(dir) : dir;
  const atRoot = dirBytes.length === 1 && dirBytes[0] === 0x2f;
  return Buffer.concat([dirBytes, Buffer.from(atRoot ? "" : "/"), raw ?? Buffer.from(name)]);
}

export function readDirectoryWithNode(dir: FsPath): DirectoryListing {
  // Sorted, like the native reader's byte order for plain names, so the caller rarely re-sorts.
  let names = fs.readdirSync(dir).sort();
  let raw: Array<Buffer | undefined> | undefined;
  // Node decodes a name that is not UTF-8 with U+FFFD in place of its bad bytes; only then are the
  // raw names read, to keep the bytes of those that are not UTF-8.
  if (names.some((n) => n.includes("\uFFFD"))) {
    const entries = fs
      .readdirSync(dir, { encoding: "buffer" })
      .map((bytes) => ({ name: bytes.toString(), raw: isUtf8(bytes) ? undefined : bytes }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    names = entries.map((e) => e.name);
    raw = entries.map((e) => e.raw);
  }
  const stats = new Float64Array(names.length * STAT_FIELDS);
  for (let i = 0; i < names.length; i++) {
    const at = i * STAT_FIELDS;
    try {
      const st = fs.lstatSync(childPath(dir, names[i] as string, raw?.[i]), { throwIfNoEntry: false });
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
  return raw ? { names, stats, raw } : { names, stats };
}

/** The error code ("EACCES") of a negative errno. */
export function errnoCode(negativeErrno: number): string {
  try {
    return util.getSystemErrorName(negativeErrno);
  } catch {
    return `errno ${-negativeErrno}`;
  }
}

function errnoError(negativeErrno: number, dir: FsPath): NodeJS.ErrnoException {
  const code = errnoCode(negativeErrno);
  const error: NodeJS.ErrnoException = new Error(`${code}: cannot read directory '${dir.toString()}'`);
  error.code = code;
  error.errno = negativeErrno;
  error.path = dir.toString();
  return error;
}
