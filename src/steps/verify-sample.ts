// The pure parts of the restore drill (verify.ts): a reservoir sample of a snapshot's regular files
// drawn from a seeded PRNG (the seed is recorded, so a drill can be replayed), the "has this file
// changed since the snapshot?" test at nanosecond precision, restic's --include escaping, the
// per-file errors restic prints during a restore, and streamed hashing (the source is counted by
// sources/selection.ts).
import crypto from "node:crypto";
import fs from "node:fs";
import { stripAnsi } from "../restic/outputs.js";
import { decodeLikeGo } from "./manifest-format.js";

/** A regular file of the snapshot, as `restic ls --json` described it. */
export interface SampledFile {
  path: string;
  /**
   * The file's real path bytes, when its name is not UTF-8: restic's JSON gives such a name with U+FFFD
   * for each bad byte (Go's encoding/json; measured with 0.14.0 and 0.18.0 on a name with byte 0xff),
   * so the path above names no file; resolveReplacedPath finds the bytes in the source.
   */
  raw?: Buffer;
  size: number;
  /** restic's RFC 3339 mtime with up to nanoseconds. */
  mtime: string;
}

export function randomSeed(): number {
  return crypto.randomBytes(4).readUInt32LE(0);
}

/**
 * Algorithm R: a uniform sample of at most `capacity` items from a stream of unknown length, holding
 * only the sample (never the stream). `seen` is the stream's length so far.
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;
  constructor(
    private readonly capacity: number,
    private readonly random: () => number,
  ) {}

  offer(item: T): void {
    const i = this.seen++;
    if (this.capacity <= 0) return;
    if (i < this.capacity) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random() * (i + 1));
    if (j < this.capacity) this.items[j] = item;
  }

  /** A uniform subset of `n` of the sampled items (a uniform subset of a uniform sample is uniform). */
  take(n: number): T[] {
    const a = [...this.items];
    const k = Math.min(n, a.length);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.random() * (a.length - i));
      const tmp = a[i] as T;
      a[i] = a[j] as T;
      a[j] = tmp;
    }
    return a.slice(0, k);
  }
}

export type CountOrPercent = { readonly count: number } | { readonly fraction: number };

/**
 * No sample holds more than this many files, whether asked as a count or a percentage: a drill of
 * 10,000 files is plenty, the reservoir stays small, and restic's restore (which matches every node
 * against every --include) stays fast.
 */
export const MAX_SAMPLE = 10_000;

/** How many files the reservoir keeps while streaming (the final size of a % sample is known at the end). */
export function reservoirCapacity(sample: CountOrPercent): number {
  return "count" in sample ? Math.min(sample.count, MAX_SAMPLE) : MAX_SAMPLE;
}

/** The sample size for a snapshot with `files` regular files. */
export function sampleSize(sample: CountOrPercent, files: number): number {
  if ("count" in sample) return Math.min(sample.count, files, MAX_SAMPLE);
  if (sample.fraction <= 0 || files === 0) return 0;
  return Math.min(MAX_SAMPLE, files, Math.max(1, Math.ceil(sample.fraction * files)));
}

/** Whether the source's current file count is within the tolerance of the snapshot's. */
export function withinTolerance(
  tolerance: CountOrPercent,
  snapshotFiles: number,
  sourceFiles: number,
): boolean {
  const delta = Math.abs(snapshotFiles - sourceFiles);
  if ("count" in tolerance) return delta <= tolerance.count;
  return delta <= tolerance.fraction * snapshotFiles;
}

export function describeTolerance(tolerance: CountOrPercent): string {
  return "count" in tolerance ? `${tolerance.count} files` : `${+(tolerance.fraction * 100).toFixed(4)}%`;
}

/**
 * restic's RFC 3339 time as nanoseconds since the epoch (BigInt), keeping all nine fraction digits
 * (Date.parse would round to milliseconds). null when it does not parse.
 */
export function parseNanoTime(text: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1] ?? ""}${m[3] ?? "Z"}`);
  if (Number.isNaN(ms)) return null;
  const frac = BigInt((m[2] ?? "").padEnd(9, "0"));
  return BigInt(ms) * 1_000_000n + frac;
}

export type ChangeCheck = { changed: false } | { changed: true; reason: string };

/**
 * Does the source file still look like the snapshot's? A regular file with the same size and mtime.
 * mtimes are compared at the precision both sides have: nanoseconds normally; if restic's value has
 * no sub-second part but the file has one (a filesystem or restic build that truncates), seconds.
 */
export async function sourceUnchanged(file: SampledFile): Promise<ChangeCheck> {
  let st: fs.BigIntStats;
  try {
    st = await fs.promises.lstat(file.raw ?? file.path, { bigint: true });
  } catch (err) {
    return {
      changed: true,
      reason: (err as NodeJS.ErrnoException).code === "ENOENT" ? "removed" : "unreadable",
    };
  }
  if (!st.isFile()) return { changed: true, reason: "no longer a regular file" };
  if (st.size !== BigInt(file.size)) return { changed: true, reason: `size ${st.size} ≠ ${file.size}` };
  const snap = parseNanoTime(file.mtime);
  if (snap === null) return { changed: true, reason: `mtime "${file.mtime}" unreadable` };
  const now = st.mtimeNs;
  const same = snap % 1_000_000_000n === 0n ? now / 1_000_000_000n === snap / 1_000_000_000n : now === snap;
  if (!same) return { changed: true, reason: "modified since the snapshot" };
  return { changed: false };
}

/** sha256 of a file, streamed (never the whole file in memory). */
export function sha256File(file: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    stream.on("data", (chunk) => hash.update(chunk));
    stream.on("error", reject);
    stream.on("end", () => resolve(hash.digest("hex")));
  });
}

/**
 * A path as a restic --include pattern that matches only itself: restic matches patterns per path
 * component like Go's filepath.Match, where `\` escapes `*`, `?`, `[` and itself.
 */
export function includePattern(p: string): string {
  // U+FFFD stands for one byte that is not UTF-8 (see SampledFile.raw): `?` matches exactly one such
  // byte in Go's filepath.Match, which restic uses (an invalid byte decodes as one rune of width 1).
  return p.replace(/[\\*?[\]]/g, (c) => `\\${c}`).replaceAll("\uFFFD", "?");
}

const REPLACEMENT = "\uFFFD";

/**
 * The real bytes of a path that restic's JSON gave with U+FFFD: each component holding U+FFFD is
 * looked up among its directory's entries (read as bytes) by decoding them the way restic's JSON
 * does. An entry that is gone is `removed`; two entries that read the same are `ambiguous` (the drill
 * cannot tell which one the snapshot holds).
 */
export async function resolveReplacedPath(
  p: string,
): Promise<{ raw: Buffer } | { problem: "removed" | "ambiguous" }> {
  const parts = p.split("/");
  let current = Buffer.from(parts[0] ?? "");
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] ?? "";
    const dir = current.length === 0 ? Buffer.from("/") : current;
    if (!part.includes(REPLACEMENT)) {
      current = Buffer.concat([current, Buffer.from(`/${part}`)]);
      continue;
    }
    let names: Buffer[];
    try {
      names = await fs.promises.readdir(dir, { encoding: "buffer" });
    } catch {
      return { problem: "removed" };
    }
    const found = names.filter((n) => decodeLikeGo(n) === part);
    if (found.length === 0) return { problem: "removed" };
    if (found.length > 1) return { problem: "ambiguous" };
    current = Buffer.concat([current, Buffer.from("/"), found[0] as Buffer]);
  }
  return { raw: current };
}

/** `ignoring error for /path: message` — restic's per-file restore error (0.14 text; still the same through 0.19). */
export function parseRestoreError(line: string): { path: string; message: string } | null {
  const m = /^ignoring error for (.+?): (.+)$/.exec(stripAnsi(line));
  if (!m) return null;
  return { path: m[1] ?? "", message: m[2] ?? "" };
}
