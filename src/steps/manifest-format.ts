// The manifest file format and the diff of two manifests.
//
// A manifest is gzip-compressed text, one header line and then one line per entry, ordered by directory
// and then by name (the directory's escaped path, then the entry's escaped name, each compared as
// strings): a walk emits each directory's entries as one sorted block, so writing a manifest is
// concatenating blocks — no global sort of 100k lines — and two manifests still merge in one pass.
//
//   #holdfast-manifest v1<TAB>{"created":"…","hash":"sha256"|null,"roots":[…]}
//   /home/sig/notes/a.md<TAB>f<TAB>1234<TAB>1732614947123<TAB>644<TAB>e3b0c442…
//
// Columns: path (escaped), type (f file, d directory, l symlink, p fifo, s socket, c/b device, ?
// unknown), size in bytes (0 for directories), mtime in epoch milliseconds, permission bits in octal,
// extra (sha256 of a file's content when hashing, "->target" for a symlink, else empty).
// Paths escape "\" as "\\", TAB as "\t", newline as "\n" and other control characters as "\xNN" (and a
// byte of a name that is not UTF-8 as "\xNN" too, NN ≥ 80), so
// no escaped path contains a character below 0x20 and "/" keeps its place; `diff <(zcat a) <(zcat b)`
// works. Text tools can read it; the diff below streams the previous one.

import { isUtf8 } from "node:buffer";

export const MANIFEST_MAGIC = "#holdfast-manifest v1";

export interface ManifestHeader {
  created: string;
  hash: "sha256" | null;
  roots: string[];
  /** Entries the walk could not read (absent when none): such a manifest is no good baseline. */
  unreadable?: number;
}

export type EntryType = "f" | "d" | "l" | "p" | "s" | "c" | "b" | "?";

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\x00-\x1f\x7f\\]/;

export function needsEscape(p: string): boolean {
  return NEEDS_ESCAPE.test(p);
}

export function escapePath(p: string): string {
  if (!NEEDS_ESCAPE.test(p)) return p;
  let out = "";
  for (const ch of p) {
    const code = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

/**
 * A name or path given as bytes that may not be UTF-8: its valid UTF-8 runs escaped as escapePath
 * does, each byte that is not part of one as "\xNN" (never ambiguous: a real character U+0080 and up
 * is written as itself, only control characters are written \xNN, and they are below 0x80).
 */
export function escapeBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return escapePath(buffer.toString());
  let out = "";
  let start = 0;
  for (let i = 0; i < buffer.length;) {
    const length = utf8SequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out += `${escapePath(buffer.toString("utf8", start, i))}\\x${(buffer[i] as number).toString(16).padStart(2, "0")}`;
    i++;
    start = i;
  }
  return out + escapePath(buffer.toString("utf8", start));
}

/**
 * Bytes as text the way Go's encoding/json writes them (and so restic's JSON, 0.14 – 0.19): every
 * byte that is not part of a valid UTF-8 sequence becomes one U+FFFD.
 */
export function decodeLikeGo(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString();
  let out = "";
  let start = 0;
  for (let i = 0; i < buffer.length;) {
    const length = utf8SequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out += `${buffer.toString("utf8", start, i)}\uFFFD`;
    i++;
    start = i;
  }
  return out + buffer.toString("utf8", start);
}

/** The length of the valid UTF-8 sequence at bytes[i] (as native/read-directory.c judges it), or 0. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const c = bytes[i] as number;
  if (c < 0x80) return 1;
  let extra: number;
  let code: number;
  if (c >= 0xc2 && c <= 0xdf) [extra, code] = [1, c & 0x1f];
  else if (c >= 0xe0 && c <= 0xef) [extra, code] = [2, c & 0x0f];
  else if (c >= 0xf0 && c <= 0xf4) [extra, code] = [3, c & 0x07];
  else return 0;
  for (let k = 1; k <= extra; k++) {
    const next = bytes[i + k];
    if (next === undefined || (next & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  if (extra === 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) return 0;
  if (extra === 3 && (code < 0x10000 || code > 0x10ffff)) return 0;
  return extra + 1;
}

export function unescapePath(p: string): string {
  if (!p.includes("\\")) return p;
  return p.replace(/\\(\\|t|n|x[0-9a-f]{2})/g, (_m, e: string) =>
    e === "\\" ? "\\" : e === "t" ? "\t" : e === "n" ? "\n" : String.fromCharCode(parseInt(e.slice(1), 16)),
  );
}

export function formatHeader(header: ManifestHeader): string {
  return `${MANIFEST_MAGIC}\t${JSON.stringify(header)}`;
}

export function parseHeader(line: string): ManifestHeader | null {
  if (!line.startsWith(`${MANIFEST_MAGIC}\t`)) return null;
  try {
    const parsed = JSON.parse(line.slice(MANIFEST_MAGIC.length + 1)) as Partial<ManifestHeader>;
    return {
      created: parsed.created ?? "",
      hash: parsed.hash ?? null,
      roots: parsed.roots ?? [],
      ...(typeof parsed.unreadable === "number" && parsed.unreadable > 0
        ? { unreadable: parsed.unreadable }
        : {}),
    };
  } catch {
    return null;
  }
}

/** One manifest line (without newline). */
export function formatEntry(
  escapedPath: string,
  type: EntryType,
  size: number,
  mtimeMs: number,
  mode: number,
  extra: string,
): string {
  return `${escapedPath}\t${type}\t${size}\t${Math.trunc(mtimeMs)}\t${(mode & 0o7777).toString(8)}\t${extra}`;
}

export interface ParsedEntry {
  path: string;
  type: string;
  size: number;
  mtimeMs: number;
  mode: number;
  extra: string;
}

export function parseEntry(line: string): ParsedEntry | null {
  const f = line.split("\t");
  if (f.length < 6) return null;
  return {
    path: unescapePath(f[0] as string),
    type: f[1] as string,
    size: Number(f[2]),
    mtimeMs: Number(f[3]),
    mode: parseInt(f[4] as string, 8),
    extra: f[5] as string,
  };
}

/** The path field of a line, still escaped (what the sort order is defined on). */
export function pathField(line: string): string {
  const tab = line.indexOf("\t");
  return tab === -1 ? line : line.slice(0, tab);
}

function typeField(line: string): string {
  const tab = line.indexOf("\t");
  return line.charAt(tab + 1);
}

function sizeField(line: string): number {
  const a = line.indexOf("\t");
  const b = line.indexOf("\t", a + 1);
  const c = line.indexOf("\t", b + 1);
  return Number(line.slice(b + 1, c)) || 0;
}

/** The line without its extra column, for comparing a hashed manifest with an unhashed one. */
function withoutExtra(line: string): string {
  return line.slice(0, line.lastIndexOf("\t"));
}

/** The directory part of an escaped path ("" for entries of "/"), which is also a block's key. */
export function dirKey(escapedPath: string): string {
  return escapedPath.slice(0, escapedPath.lastIndexOf("/"));
}

/** The manifest order of two escaped paths: by directory, then by name (no allocation). */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a.lastIndexOf("/");
  const ib = b.lastIndexOf("/");
  const n = Math.min(ia, ib);
  let k = 0;
  while (k < n && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  if (k < n) return a.charCodeAt(k) < b.charCodeAt(k) ? -1 : 1;
  // One directory is a prefix of the other: the shorter one sorts first.
  if (ia !== ib) return ia < ib ? -1 : 1;
  // Same directory: by name.
  return a < b ? -1 : 1;
}

/** Sorts manifest lines into manifest order and drops repeated paths, in place; returns the array. */
export function sortManifestLines(lines: string[]): string[] {
  lines.sort((x, y) => comparePaths(pathField(x), pathField(y)));
  let w = 0;
  let previousPath: string | null = null;
  for (const line of lines) {
    const p = pathField(line);
    if (p === previousPath) continue;
    previousPath = p;
    lines[w++] = line;
  }
  lines.length = w;
  return lines;
}

/**
 * Reads manifest lines out of text blocks (each a run of "line\n") without splitting them into an
 * array; matches() compares in place, so the unchanged majority of a diff allocates nothing.
 */
export class LineCursor {
  private block = 0;
  private pos = 0;
  private cached: string | null = null;

  constructor(private readonly blocks: readonly string[]) {
    this.skipEmpty();
  }

  static fromLines(lines: readonly string[]): LineCursor {
    return new LineCursor(lines.length ? [`${lines.join("\n")}\n`] : []);
  }

  /** The current line, or null at the end. */
  current(): string | null {
    if (this.cached !== null) return this.cached;
    const text = this.blocks[this.block];
    if (text === undefined) return null;
    const nl = text.indexOf("\n", this.pos);
    this.cached = text.slice(this.pos, nl === -1 ? text.length : nl);
    return this.cached;
  }

  matches(line: string): boolean {
    const text = this.blocks[this.block];
    if (text === undefined || !text.startsWith(line, this.pos)) return false;
    const after = this.pos + line.length;
    return after === text.length || text.charCodeAt(after) === 10;
  }

  advance(): void {
    const text = this.blocks[this.block];
    if (text === undefined) return;
    const nl = text.indexOf("\n", this.pos);
    this.pos = nl === -1 ? text.length : nl + 1;
    this.cached = null;
    this.skipEmpty();
  }

  /**
   * Moves past the lines ahead when they equal text[start, end) — whole lines, ending with "\n" — and
   * says whether they did; otherwise leaves the cursor where it was. One string comparison for a run
   * of many lines, which may span blocks.
   */
  skipRun(text: string, start: number, end: number): boolean {
    let block = this.block;
    let pos = this.pos;
    let at = start;
    while (at < end) {
      const current = this.blocks[block];
      if (current === undefined) return false;
      const rest = current.length - pos;
      if (rest <= end - at) {
        if (!text.startsWith(pos === 0 ? current : current.slice(pos), at)) return false;
        at += rest;
        block++;
        pos = 0;
      } else {
        if (!current.startsWith(text.slice(at, end), pos)) return false;
        pos += end - at;
        at = end;
      }
    }
    this.block = block;
    this.pos = pos;
    this.cached = null;
    this.skipEmpty();
    return true;
  }

  private skipEmpty(): void {
    while (this.block < this.blocks.length && this.pos >= (this.blocks[this.block] as string).length) {
      this.block++;
      this.pos = 0;
    }
  }
}

export interface DirCount {
  dir: string;
  removed: number;
  changed: number;
  added: number;
}

export interface ManifestDiff {
  /** Non-directory entries in the previous manifest: the base of max_removed / max_changed. */
  previous_files: number;
  files_added: number;
  files_removed: number;
  files_changed: number;
  bytes_added: number;
  bytes_removed: number;
  /** Size of the changed files now. */
  bytes_changed: number;
  dirs_added: number;
  dirs_removed: number;
  /**
   * Files of the previous manifest that this walk could not read (inside a directory it could not
   * open, or a file it could not hash): not counted as removed or changed — unreadable is not gone.
   */
  files_unreadable: number;
}

export type DiffMark = "A" | "R" | "C";

/**
 * A streaming merge of the previous manifest (fed line by line, sorted) against the new one (a
 * sorted array of lines): neither side is ever parsed into objects, and only differing lines are
 * looked at beyond a string comparison. Directories count as added/removed but never as changed
 * (their mtime moves with every file created in them).
 */
export function createManifestDiffer(
  next: LineCursor,
  options: {
    ignoreExtra?: boolean;
    onDifference?: (mark: DiffMark, line: string) => void;
    /** Escaped paths of directories the walk could not open: what was below them is unreadable, not removed. */
    unreadableDirs?: ReadonlySet<string>;
  } = {},
) {
  const diff: ManifestDiff = {
    previous_files: 0,
    files_added: 0,
    files_removed: 0,
    files_changed: 0,
    bytes_added: 0,
    bytes_removed: 0,
    bytes_changed: 0,
    dirs_added: 0,
    dirs_removed: 0,
    files_unreadable: 0,
  };
  const dirs = new Map<string, DirCount>();
  const unreadableDirs = options.unreadableDirs ?? new Set<string>();
  const belowUnreadable = (p: string): boolean => {
    if (unreadableDirs.size === 0) return false;
    for (let i = p.indexOf("/", 1); i !== -1; i = p.indexOf("/", i + 1)) {
      if (unreadableDirs.has(p.slice(0, i))) return true;
    }
    return false;
  };
  let headerSeen = false;
  const ignoreExtra = options.ignoreExtra ?? false;

  const bump = (line: string, key: "added" | "removed" | "changed") => {
    const dir = dirKey(pathField(line)) || "/";
    let entry = dirs.get(dir);
    if (!entry) dirs.set(dir, (entry = { dir, removed: 0, changed: 0, added: 0 }));
    entry[key]++;
  };
  const added = (line: string) => {
    if (typeField(line) === "d") diff.dirs_added++;
    else {
      diff.files_added++;
      diff.bytes_added += sizeField(line);
      bump(line, "added");
    }
    options.onDifference?.("A", line);
  };
  const removed = (line: string) => {
    if (belowUnreadable(pathField(line))) {
      if (typeField(line) !== "d") diff.files_unreadable++;
      return;
    }
    if (typeField(line) === "d") diff.dirs_removed++;
    else {
      diff.files_removed++;
      diff.bytes_removed += sizeField(line);
      bump(line, "removed");
    }
    options.onDifference?.("R", line);
  };

  // Unchanged runs are compared as whole strings: first a window of a few lines, doubling while runs
  // keep matching, back to a few lines after a difference (which is then handled line by line). A
  // steady-state diff of 100k lines costs ~100 string comparisons instead of 100k line slices.
  const FIRST_WINDOW = 512;
  let window = FIRST_WINDOW;

  const differ = {
    /** Feeds the next line of the previous manifest. */
    push(oldLine: string) {
      if (oldLine === "") return;
      if (!headerSeen && oldLine.startsWith("#")) {
        headerSeen = true;
        return;
      }
      headerSeen = true;
      if (typeField(oldLine) !== "d") diff.previous_files++;
      if (next.matches(oldLine)) {
        next.advance();
        return;
      }
      const oldPath = pathField(oldLine);
      let newLine = next.current();
      while (newLine !== null && comparePaths(pathField(newLine), oldPath) < 0) {
        added(newLine);
        next.advance();
        newLine = next.current();
      }
      if (newLine === null || pathField(newLine) !== oldPath) {
        removed(oldLine);
        return;
      }
      next.advance();
      if (newLine === oldLine) return;
      const oldType = typeField(oldLine);
      const newType = typeField(newLine);
      if (oldType === "d" && newType === "d") return;
      if (oldType === "d" || newType === "d") {
        // A directory became a file or the other way round: one removed, one added.
        removed(oldLine);
        added(newLine);
        return;
      }
      if (ignoreExtra && withoutExtra(oldLine) === withoutExtra(newLine)) return;
      // "!EACCES" in the hash column: the file is there but could not be read this time.
      if (newLine.charCodeAt(newLine.lastIndexOf("\t") + 1) === 33 /* ! */) {
        diff.files_unreadable++;
        return;
      }
      diff.files_changed++;
      diff.bytes_changed += sizeField(newLine);
      bump(newLine, "changed");
      options.onDifference?.("C", newLine);
    },
    /** Feeds lines of the previous manifest in bulk: text[start, end), whole lines each ending in "\n". */
    pushText(text: string, start: number, end: number) {
      let at = start;
      while (at < end) {
        if (headerSeen) {
          const stop = end - at <= window ? end : text.indexOf("\n", at + window) + 1 || end;
          if (next.skipRun(text, at, stop)) {
            diff.previous_files += countFileLines(text, at, stop);
            at = stop;
            window *= 2;
            continue;
          }
          window = FIRST_WINDOW;
        }
        const nl = text.indexOf("\n", at);
        const lineEnd = nl === -1 || nl >= end ? end : nl;
        differ.push(text.slice(at, lineEnd));
        at = lineEnd + 1;
      }
    },
    /** Call after the last line of the previous manifest. */
    finish(): { diff: ManifestDiff; dirs: DirCount[] } {
      for (let line = next.current(); line !== null; next.advance(), line = next.current()) added(line);
      return { diff, dirs: [...dirs.values()] };
    },
  };
  return differ;
}

/**
 * Lines in text[start, end) that are not directories. A real TAB only ever separates columns (paths
 * escape theirs), and no column after the type is ever just "d", so "\td\t" marks a directory line.
 */
function countFileLines(text: string, start: number, end: number): number {
  let lines = 0;
  for (let i = text.indexOf("\n", start); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) lines++;
  let directories = 0;
  for (let i = text.indexOf("\td\t", start); i !== -1 && i < end; i = text.indexOf("\td\t", i + 1))
    directories++;
  return lines - directories;
}

/** The directories with the most removed (or changed) files, most affected first. */
export function topDirectories(dirs: readonly DirCount[], key: "removed" | "changed", limit = 5): DirCount[] {
  return dirs
    .filter((d) => d[key] > 0)
    .sort((a, b) => b[key] - a[key] || (a.dir < b.dir ? -1 : 1))
    .slice(0, limit);
}

/**
 * Cuts decoded text chunks at line ends: onLines(text, start, end) gets runs of whole lines, each
 * ending in "\n" (the last line of the input gets one if it had none); only a partial line is kept.
 */
export function createChunkLineSplitter(onLines: (text: string, start: number, end: number) => void) {
  let partial = "";
  return {
    push(chunk: string) {
      const text = partial + chunk;
      const last = text.lastIndexOf("\n");
      if (last === -1) {
        partial = text;
        return;
      }
      partial = text.slice(last + 1);
      onLines(text, 0, last + 1);
    },
    end() {
      if (partial) onLines(`${partial}\n`, 0, partial.length + 1);
      partial = "";
    },
  };
}
