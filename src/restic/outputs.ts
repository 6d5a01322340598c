// Tolerant parsers for what restic prints, 0.14 – 0.19. Pure functions: text in, typed data out.
// General rule (restic-notes.md §1): JSON goes to stdout, warnings and `Fatal:` lines to stderr as
// text, and several commands accept --json but print text. So every line parser accepts any line
// and hands back non-JSON (or unknown JSON) as `{ type: "text" }` instead of throwing.
// Field names are normalized to camelCase; restic's `omitempty` fields default to 0 / "" / [].
import { HoldfastError } from "../errors.js";

// ---------------------------------------------------------------------------------------------
// Shared helpers

type Raw = Record<string, unknown>;

const ESC = "\u001b";

/**
 * Removes ANSI escape sequences. restic prefixes some stderr lines with `\x1b[2K` (clear line) even
 * when stderr is not a terminal, e.g. `\x1b[2Ksignal interrupt received, cleaning up` (0.14).
 */
export function stripAnsi(text: string): string {
  let esc = text.indexOf(ESC);
  if (esc === -1) return text;
  let out = "";
  let last = 0;
  const n = text.length;
  while (esc !== -1) {
    out += text.slice(last, esc);
    let j = esc + 1;
    const kind = text.charCodeAt(j);
    if (kind === 0x5b /* [ : CSI */) {
      j++;
      while (j < n && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x3f) j++;
      while (j < n && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j++;
      if (j < n && text.charCodeAt(j) >= 0x40 && text.charCodeAt(j) <= 0x7e) j++;
    } else if (kind === 0x5d /* ] : OSC, ends with BEL or ESC \ */) {
      const bel = text.indexOf("\u0007", j);
      const st = text.indexOf(`${ESC}\\`, j);
      if (bel !== -1 && (st === -1 || bel < st)) j = bel + 1;
      else if (st !== -1) j = st + 2;
      else j = n;
    } else if (j < n) {
      j++;
    }
    last = j;
    esc = text.indexOf(ESC, j);
  }
  return out + text.slice(last);
}

function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function numOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function strOrNull(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

function strArray(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const item of v) if (typeof item === "string") out.push(item);
  return out;
}

/** Parses a JSON object line; null for anything else (text, arrays, broken JSON). */
function parseObjectLine(line: string): Raw | null {
  if (line.charCodeAt(0) !== 0x7b /* { */) return null;
  try {
    const value: unknown = JSON.parse(line);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** restic printed something a parser cannot make sense of (a bug or a format change, not a restic failure). */
/** restic printed what our parser does not understand: a bug on our side (kind internal). */
export class ResticParseError extends HoldfastError {
  readonly snippet: string;
  constructor(what: string, text: string) {
    const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    super(`could not parse restic ${what}: ${JSON.stringify(snippet)}`, { kind: "internal" });
    this.name = "ResticParseError";
    this.snippet = snippet;
  }
}

/**
 * A command that prints one JSON document (snapshots, stats, find, key list) may still have text
 * around it (a warning on stdout). Parse the whole text; failing that, the first line that parses.
 * Empty output → undefined (e.g. `forget --json` without a policy prints nothing).
 */
function parseJsonDocument(text: string, what: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    for (const raw of trimmed.split("\n")) {
      const line = stripAnsi(raw).trim();
      const c = line.charCodeAt(0);
      if (c !== 0x5b /* [ */ && c !== 0x7b /* { */) continue;
      try {
        return JSON.parse(line) as unknown;
      } catch {
        /* try the next line */
      }
    }
    throw new ResticParseError(what, trimmed);
  }
}

function nonEmptyLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = stripAnsi(raw).replace(/\r$/, "");
    if (line.trim() !== "") out.push(line);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go error values and times

// Linux errno texts as Go's syscall package prints them; 0.14 serializes a *fs.PathError as
// {"Op":"open","Path":"src/secret.txt","Err":13} with the errno as a bare number.
const ERRNO_TEXT: Record<number, string> = {
  1: "operation not permitted",
  2: "no such file or directory",
  4: "interrupted system call",
  5: "input/output error",
  6: "no such device or address",
  9: "bad file descriptor",
  11: "resource temporarily unavailable",
  12: "cannot allocate memory",
  13: "permission denied",
  16: "device or resource busy",
  19: "no such device",
  20: "not a directory",
  21: "is a directory",
  22: "invalid argument",
  23: "too many open files in system",
  24: "too many open files",
  27: "file too large",
  28: "no space left on device",
  30: "read-only file system",
  36: "file name too long",
  40: "too many levels of symbolic links",
  61: "no data available",
  95: "operation not supported",
  107: "transport endpoint is not connected",
  110: "connection timed out",
  116: "stale NFS file handle",
  121: "remote I/O error",
};

/**
 * Turns the `error` value of a backup/restore JSON error line into text:
 * 0.17.1+ `{"message":"…"}`; 0.14 – 0.17.0 the raw Go error struct, e.g. `{"Op":"open","Path":"x",
 * "Err":13}` (→ "open x: permission denied"), or `{}` when the Go type has no exported fields
 * (→ "unknown error").
 */
export function describeResticError(value: unknown): string {
  return describeGoError(value, 0) ?? "unknown error";
}

function describeGoError(value: unknown, depth: number): string | null {
  if (depth > 5) return null;
  if (typeof value === "string") return value === "" ? null : value;
  if (typeof value === "number") return ERRNO_TEXT[value] ?? `errno ${value}`;
  if (!isObject(value)) return null;
  if (typeof value.message === "string" && value.message !== "") return value.message;
  const inner = value.Err === undefined ? null : describeGoError(value.Err, depth + 1);
  // *fs.PathError {Op, Path, Err}; *os.LinkError {Op, Old, New, Err}; *os.SyscallError {Syscall, Err}
  if (typeof value.Op === "string") {
    const target =
      typeof value.Path === "string"
        ? ` ${value.Path}`
        : typeof value.Old === "string"
          ? ` ${value.Old} ${str(value.New)}`.trimEnd()
          : "";
    return `${value.Op}${target}: ${inner ?? "unknown error"}`;
  }
  if (typeof value.Syscall === "string") return `${value.Syscall}: ${inner ?? "unknown error"}`;
  return inner;
}

/**
 * Go's time.Time String() form, as in copy/restore text: "2026-11-26 09:48:17.928534414 +0000 UTC"
 * → "2026-11-26T09:48:17.928Z". null when the text is not such a time.
 */
export function goTimeToIso(text: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))? ([+-])(\d{2})(\d{2})/.exec(text.trim());
  if (!m) return null;
  const frac = (m[3] ?? "").padEnd(3, "0").slice(0, 3);
  const date = new Date(`${m[1]}T${m[2]}.${frac}${m[4]}${m[5]}:${m[6]}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

// ---------------------------------------------------------------------------------------------
// backup --json

export interface BackupStatus {
  type: "status";
  secondsElapsed: number;
  secondsRemaining: number;
  /** 0..1; can go down while the concurrent scanner raises the totals (0.14, measured). */
  percentDone: number;
  totalFiles: number;
  filesDone: number;
  totalBytes: number;
  bytesDone: number;
  errorCount: number;
  currentFiles: string[];
}

export interface BackupVerboseStatus {
  type: "verbose_status";
  /** "new" | "unchanged" | "modified" | "scan_finished" (may be extended). */
  action: string;
  item: string;
  duration: number;
  dataSize: number;
  dataSizeInRepo: number;
  metadataSize: number;
  metadataSizeInRepo: number;
  totalFiles: number;
}

export interface BackupSummary {
  type: "summary";
  dryRun: boolean;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  dataAdded: number;
  /** 0.17+; null before. */
  dataAddedPacked: number | null;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  /** Seconds; null when restic printed an impossible one (see `impossible`). */
  totalDuration: number | null;
  /** 0.18+ (RFC 3339); null before, and when restic printed an impossible time (see `impossible`). */
  backupStart: string | null;
  backupEnd: string | null;
  /** 8-char short ID in 0.14, full 64-hex ID since 0.15; null when creation was skipped (0.17 --skip-if-unchanged). */
  snapshotId: string | null;
  /**
   * Values restic printed that cannot be true, left out above (null) so they are never recorded as
   * facts: restic 0.18.0's summary of a backup skipped by --skip-if-unchanged says
   * `"total_duration":-9223372036.854776` and `"backup_end":"0001-01-01T00:00:00Z"` (Go's zero
   * time). One line each, for the step log's warning: `total_duration -9223372036.854776 (negative)`.
   */
  impossible: string[];
}

export interface BackupError {
  type: "error";
  /** "scan", "archival", … (where restic was). */
  during: string;
  /** Usually the path (0.14: absolute in the scan phase, as given on the command line in archival). */
  item: string;
  message: string;
}

export interface ExitErrorLine {
  type: "exit_error";
  code: number;
  message: string;
}

export interface TextLine {
  type: "text";
  text: string;
}

export type BackupLine =
  BackupStatus | BackupVerboseStatus | BackupSummary | BackupError | ExitErrorLine | TextLine;

function textLine(line: string): TextLine {
  return { type: "text", text: line.indexOf(ESC) === -1 ? line : stripAnsi(line) };
}

/**
 * Parses one line of `backup --json` stdout or stderr. Hot path (restic -v prints a line per file,
 * ~24k lines/s): a line not starting with `{` is text without any parse attempt, and no regex runs.
 */
export function parseBackupLine(line: string): BackupLine {
  const c = line.charCodeAt(0);
  if (c !== 0x7b /* { */) {
    if (c === 0x1b /* ESC */) {
      const clean = stripAnsi(line);
      return clean.charCodeAt(0) === 0x7b ? parseBackupLine(clean) : { type: "text", text: clean };
    }
    return { type: "text", text: line };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return textLine(line);
  }
  if (!isObject(value)) return textLine(line);
  switch (value.message_type) {
    case "status":
      // 0.14 – 0.15 type `scan_finished` as "status"; 0.16 fixed it to "verbose_status".
      return value.action === undefined ? toBackupStatus(value) : toVerboseStatus(value);
    case "verbose_status":
      return toVerboseStatus(value);
    case "summary":
      return toBackupSummary(value);
    case "error":
      return toBackupError(value);
    case "exit_error": // 0.18+
      return { type: "exit_error", code: num(value.code), message: str(value.message) };
    default:
      return textLine(line);
  }
}

function toBackupStatus(o: Raw): BackupStatus {
  return {
    type: "status",
    secondsElapsed: num(o.seconds_elapsed),
    secondsRemaining: num(o.seconds_remaining),
    percentDone: num(o.percent_done),
    totalFiles: num(o.total_files),
    filesDone: num(o.files_done),
    totalBytes: num(o.total_bytes),
    bytesDone: num(o.bytes_done),
    errorCount: num(o.error_count),
    currentFiles: strArray(o.current_files),
  };
}

function toVerboseStatus(o: Raw): BackupVerboseStatus {
  return {
    type: "verbose_status",
    action: str(o.action),
    item: str(o.item),
    duration: num(o.duration),
    dataSize: num(o.data_size),
    dataSizeInRepo: num(o.data_size_in_repo),
    metadataSize: num(o.metadata_size),
    metadataSizeInRepo: num(o.metadata_size_in_repo),
    totalFiles: num(o.total_files),
  };
}

// Before this, a time in a backup summary is Go's zero time (year 1) or a clock that was far off.
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2000, 0, 1);

/** An RFC 3339 time of a backup that can have happened, or null with why not. */
function plausibleTime(value: unknown): { time: string | null; why: string | null } {
  if (value === undefined || value === null || value === "") return { time: null, why: null };
  if (typeof value !== "string") return { time: null, why: "not a time" };
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) return { time: null, why: "not a time" };
  if (ms < EARLIEST_PLAUSIBLE_MS) return { time: null, why: `year ${Number(value.slice(0, 4))}` };
  return { time: value, why: null };
}

function toBackupSummary(o: Raw): BackupSummary {
  const impossible: string[] = [];
  const start = plausibleTime(o.backup_start);
  if (start.why) impossible.push(`backup_start ${JSON.stringify(o.backup_start)} (${start.why})`);
  const end = plausibleTime(o.backup_end);
  if (end.why) impossible.push(`backup_end ${JSON.stringify(o.backup_end)} (${end.why})`);
  let backupEnd = end.time;
  if (start.time && backupEnd && Date.parse(backupEnd) < Date.parse(start.time)) {
    impossible.push(`backup_end ${backupEnd} (before backup_start ${start.time})`);
    backupEnd = null;
  }
  let totalDuration = numOrNull(o.total_duration);
  if (totalDuration !== null && totalDuration < 0) {
    impossible.push(`total_duration ${totalDuration} (negative)`);
    totalDuration = null;
  } else if (o.total_duration !== undefined && totalDuration === null) {
    impossible.push(`total_duration ${JSON.stringify(o.total_duration)} (not a number)`);
  }
  return {
    type: "summary",
    dryRun: o.dry_run === true,
    filesNew: num(o.files_new),
    filesChanged: num(o.files_changed),
    filesUnmodified: num(o.files_unmodified),
    dirsNew: num(o.dirs_new),
    dirsChanged: num(o.dirs_changed),
    dirsUnmodified: num(o.dirs_unmodified),
    dataBlobs: num(o.data_blobs),
    treeBlobs: num(o.tree_blobs),
    dataAdded: num(o.data_added),
    dataAddedPacked: numOrNull(o.data_added_packed),
    totalFilesProcessed: num(o.total_files_processed),
    totalBytesProcessed: num(o.total_bytes_processed),
    totalDuration,
    backupStart: start.time,
    backupEnd,
    snapshotId: strOrNull(o.snapshot_id),
    impossible,
  };
}

function toBackupError(o: Raw): BackupError {
  return {
    type: "error",
    during: str(o.during),
    item: str(o.item),
    // backup/restore put the error in `error`; check (0.18+) prints a top-level `message`.
    message:
      o.error === undefined && typeof o.message === "string" ? o.message : describeResticError(o.error),
  };
}

/**
 * A stderr line as a person should read it in a log: 0.18's JSON `exit_error` lines and every JSON
 * `error` line (check's, backup's, restore's) become their message text (never the raw JSON), ANSI
 * escapes are removed, anything else is kept as it is.
 */
export function readableStderrLine(line: string): string {
  const clean = line.charCodeAt(0) === 0x1b ? stripAnsi(line) : line;
  if (clean.charCodeAt(0) !== 0x7b) return line.indexOf(ESC) === -1 ? line : stripAnsi(line);
  const o = parseObjectLine(clean);
  if (!o) return clean;
  if (o.message_type === "exit_error") return str(o.message);
  if (o.message_type === "error") {
    // check (0.18+): a top-level message; backup/restore: `error` ({"message"} since 0.17.1, a Go struct before) and the item.
    if (o.error === undefined && typeof o.message === "string") return o.message.replace(/\n+$/, "");
    const item = str(o.item);
    return `${item === "" ? "" : `${item}: `}${describeResticError(o.error)}`;
  }
  return clean;
}

/** Parses a 0.18+ `{"message_type":"exit_error","code":N,"message":"…"}` line; null for anything else. */
export function parseExitErrorLine(line: string): { code: number; message: string } | null {
  const o = parseObjectLine(line.charCodeAt(0) === 0x1b ? stripAnsi(line) : line);
  if (!o || o.message_type !== "exit_error") return null;
  return { code: num(o.code), message: str(o.message) };
}

export interface BackupErrorSummary {
  /** Distinct paths restic could not read, in first-seen order. */
  paths: string[];
  /** One entry per path: the most informative message seen for it. */
  items: { path: string; during: string; message: string }[];
  /** One line for the warning: "could not read 2 paths: /a (open /a: permission denied), /b". */
  message: string;
}

/**
 * Lists the unreadable paths of a backup for the `partial` warning. 0.14 reports a directory twice
 * (absolute in the scan phase, relative in archival: "/tmp/u/src/locked" and "src/locked"), so a
 * relative item that is the tail of an absolute one is merged into it.
 */
export function summarizeBackupErrors(
  errors: readonly Pick<BackupError, "item" | "during" | "message">[],
  maxListed = 5,
): BackupErrorSummary {
  const byPath = new Map<string, { path: string; during: string; message: string }>();
  const relative: { path: string; during: string; message: string }[] = [];
  for (const e of errors) {
    const path = e.item || "(unknown item)";
    const entry = { path, during: e.during, message: e.message };
    if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) mergeInto(byPath, entry);
    else relative.push(entry);
  }
  for (const entry of relative) {
    const tail = `/${entry.path.replace(/^\.\//, "")}`;
    let target: string | null = null;
    for (const path of byPath.keys()) {
      if (path.endsWith(tail)) {
        target = path;
        break;
      }
    }
    mergeInto(byPath, target ? { ...entry, path: target } : entry);
  }
  const items = [...byPath.values()];
  const paths = items.map((i) => i.path);
  const listed = items
    .slice(0, maxListed)
    .map((i) => (i.message === "unknown error" ? i.path : `${i.path} (${i.message})`));
  const more = items.length > maxListed ? `, and ${items.length - maxListed} more` : "";
  const noun = items.length === 1 ? "path" : "paths";
  const message =
    items.length === 0 ? "" : `could not read ${items.length} ${noun}: ${listed.join(", ")}${more}`;
  return { paths, items, message };
}

function mergeInto(
  map: Map<string, { path: string; during: string; message: string }>,
  entry: { path: string; during: string; message: string },
): void {
  const existing = map.get(entry.path);
  if (!existing) map.set(entry.path, entry);
  else if (existing.message === "unknown error" && entry.message !== "unknown error")
    map.set(entry.path, entry);
}

// ---------------------------------------------------------------------------------------------
// Snapshots (snapshots --json, forget --json, ls --json first line)

export interface SnapshotSummary {
  backupStart: string | null;
  backupEnd: string | null;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  dataAdded: number;
  dataAddedPacked: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
}

export interface Snapshot {
  /** Full 64-hex ID (every version prints it in snapshots/ls/forget JSON). */
  id: string;
  /** `short_id` (deprecated since 0.17), or the first 8 characters of the ID when absent. */
  shortId: string;
  /** RFC 3339 with nanoseconds, as restic writes it. */
  time: string;
  paths: string[];
  hostname: string;
  username: string;
  /** Omitted by restic when empty. */
  tags: string[];
  excludes: string[];
  parent: string | null;
  tree: string;
  /** 0.16+. */
  programVersion?: string;
  /** 0.17+. */
  summary?: SnapshotSummary;
}

function toSnapshot(o: Raw): Snapshot {
  const id = str(o.id);
  const snapshot: Snapshot = {
    id,
    shortId: strOrNull(o.short_id) ?? id.slice(0, 8),
    time: str(o.time),
    paths: strArray(o.paths),
    hostname: str(o.hostname),
    username: str(o.username),
    tags: strArray(o.tags),
    excludes: strArray(o.excludes),
    parent: strOrNull(o.parent),
    tree: str(o.tree),
  };
  if (typeof o.program_version === "string") snapshot.programVersion = o.program_version;
  if (isObject(o.summary)) snapshot.summary = toSnapshotSummary(o.summary);
  return snapshot;
}

function toSnapshotSummary(o: Raw): SnapshotSummary {
  return {
    backupStart: strOrNull(o.backup_start),
    backupEnd: strOrNull(o.backup_end),
    filesNew: num(o.files_new),
    filesChanged: num(o.files_changed),
    filesUnmodified: num(o.files_unmodified),
    dirsNew: num(o.dirs_new),
    dirsChanged: num(o.dirs_changed),
    dirsUnmodified: num(o.dirs_unmodified),
    dataBlobs: num(o.data_blobs),
    treeBlobs: num(o.tree_blobs),
    dataAdded: num(o.data_added),
    dataAddedPacked: num(o.data_added_packed),
    totalFilesProcessed: num(o.total_files_processed),
    totalBytesProcessed: num(o.total_bytes_processed),
  };
}

/**
 * Parses `snapshots --json`: one array on one line (`[]` when empty). The `--group-by` form
 * (`[{"group_key":{…},"snapshots":[…]}]`) is flattened. Entries without an ID are skipped.
 * Throws ResticParseError when the output holds no JSON array.
 */
export function parseSnapshotsJson(text: string): Snapshot[] {
  const doc = parseJsonDocument(text, "snapshots output");
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) throw new ResticParseError("snapshots output (not an array)", text.trim());
  const out: Snapshot[] = [];
  const add = (item: unknown) => {
    if (isObject(item) && typeof item.id === "string" && item.id !== "") out.push(toSnapshot(item));
  };
  for (const item of doc) {
    if (isObject(item) && Array.isArray(item.snapshots) && "group_key" in item) item.snapshots.forEach(add);
    else add(item);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ls --json

export interface LsNode {
  name: string;
  /** "file" | "dir" | "symlink" | … */
  type: string;
  path: string;
  uid: number;
  gid: number;
  /** 0 when restic omits it (directories). */
  size: number;
  mode: number;
  permissions: string;
  mtime: string;
  atime: string;
  ctime: string;
  /** 0.16.1+; null before. */
  inode: number | null;
}

export type LsLine = { type: "snapshot"; snapshot: Snapshot } | { type: "node"; node: LsNode } | TextLine;

/**
 * Parses one line of `ls --json`. The kind is in `struct_type` (0.14; deprecated but still printed)
 * and, since 0.17, also in `message_type`.
 */
export function parseLsLine(line: string): LsLine {
  const o = parseObjectLine(line);
  if (!o) return textLine(line);
  const kind = typeof o.message_type === "string" ? o.message_type : o.struct_type;
  if (kind === "snapshot") return { type: "snapshot", snapshot: toSnapshot(o) };
  if (kind === "node") {
    return {
      type: "node",
      node: {
        name: str(o.name),
        type: str(o.type),
        path: str(o.path),
        uid: num(o.uid),
        gid: num(o.gid),
        size: num(o.size),
        mode: num(o.mode),
        permissions: str(o.permissions),
        mtime: str(o.mtime),
        atime: str(o.atime),
        ctime: str(o.ctime),
        inode: numOrNull(o.inode),
      },
    };
  }
  return textLine(line);
}

// ---------------------------------------------------------------------------------------------
// forget --json [--prune]

export interface ForgetReason {
  /** 0.17+ prints the ID; for 0.14 it is looked up in `keep` by time and tree; null if not found. */
  snapshotId: string | null;
  time: string;
  matches: string[];
  counters: Record<string, number>;
}

export interface ForgetGroup {
  host: string;
  paths: string[];
  tags: string[];
  keep: Snapshot[];
  /** `null` in restic's JSON when nothing is removed → []. */
  remove: Snapshot[];
  reasons: ForgetReason[];
}

export interface ForgetOutput {
  groups: ForgetGroup[];
  /** With --prune, the prune report that follows on stdout as text (every version up to 0.19). */
  pruneLines: string[];
}

/**
 * Parses `forget --json` stdout: the first line that starts with `[` is the group array; every other
 * non-blank line is prune text. Empty output (forget by ID, or no policy) → no groups.
 */
export function parseForgetOutput(stdout: string): ForgetOutput {
  const groups: ForgetGroup[] = [];
  const pruneLines: string[] = [];
  let found = false;
  for (const raw of stdout.split("\n")) {
    const line = stripAnsi(raw).replace(/\r$/, "");
    if (!found && line.charCodeAt(0) === 0x5b /* [ */) {
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch {
        throw new ResticParseError("forget output", line);
      }
      if (!Array.isArray(doc)) throw new ResticParseError("forget output (not an array)", line);
      for (const g of doc) if (isObject(g)) groups.push(toForgetGroup(g));
      found = true;
      continue;
    }
    if (line.trim() !== "") pruneLines.push(line);
  }
  return { groups, pruneLines };
}

function snapshotList(v: unknown): Snapshot[] {
  if (!Array.isArray(v)) return [];
  const out: Snapshot[] = [];
  for (const item of v) if (isObject(item)) out.push(toSnapshot(item));
  return out;
}

function toForgetGroup(g: Raw): ForgetGroup {
  const keep = snapshotList(g.keep);
  const reasons: ForgetReason[] = [];
  if (Array.isArray(g.reasons)) {
    for (const r of g.reasons) {
      if (!isObject(r)) continue;
      const sn = isObject(r.snapshot) ? r.snapshot : {};
      const time = str(sn.time);
      const tree = str(sn.tree);
      // 0.14 – 0.16 print the kept snapshot without its ID here; time + tree identify it in `keep`.
      const id = strOrNull(sn.id) ?? keep.find((k) => k.time === time && k.tree === tree)?.id ?? null;
      const counters: Record<string, number> = {};
      if (isObject(r.counters)) for (const [k, v] of Object.entries(r.counters)) counters[k] = num(v);
      reasons.push({ snapshotId: id, time, matches: strArray(r.matches), counters });
    }
  }
  return {
    host: str(g.host),
    paths: strArray(g.paths),
    tags: strArray(g.tags),
    keep,
    remove: snapshotList(g.remove),
    reasons,
  };
}

// ---------------------------------------------------------------------------------------------
// check

export interface CheckOutput {
  /**
   * Number of errors: `num_errors` of the JSON summary (0.18+); in text mode (0.14 – 0.17) 0 for
   * "no errors were found", the count of reported error lines when restic says "repository contains
   * errors", and null when the check did not get that far (lock, network, password …).
   */
  errors: number | null;
  /** The error texts (JSON `error` messages, or the stderr lines before `Fatal: repository contains errors`). */
  errorLines: string[];
  /** The fatal message (`Fatal:` line or 0.18+ exit_error), without the "Fatal: " prefix. */
  fatal: string | null;
  /** stdout text lines (0.14 prints its progress and verdict as text, even with --json). */
  lines: string[];
  brokenPacks: string[];
  suggestRepairIndex: boolean;
  suggestPrune: boolean;
  /** restic's own repair commands from its advice ("restic repair packs ID…"; 0.16.1+), in order. */
  repairCommands: string[];
}

// restic's advice after damaged packs (0.16.1+): a paragraph, the repair commands and a closing
// note. None of these lines is an error of its own.
const CHECK_ADVICE =
  /^(?:The repository contains damaged pack files|Damaged pack files can be caused|restic repair \S|Please read the troubleshooting guide)/;

const RETRY_MARK = "returned error, retrying after";

/** Parses `check [--json]` output of any version. */
export function parseCheckOutput(stdout: string, stderr: string): CheckOutput {
  const lines: string[] = [];
  let summary: Raw | null = null;
  const jsonErrors: string[] = [];
  for (const line of nonEmptyLines(stdout)) {
    const o = parseObjectLine(line);
    if (o?.message_type === "summary") summary = o;
    else if (o?.message_type === "error") jsonErrors.push(str(o.message));
    else lines.push(line);
  }
  let fatal: string | null = null;
  const textErrors: string[] = [];
  for (const line of nonEmptyLines(stderr)) {
    const o = parseObjectLine(line);
    if (o) {
      // 0.18+: `error` lines and the final `exit_error` are JSON on stderr.
      if (o.message_type === "error") jsonErrors.push(str(o.message));
      else if (o.message_type === "exit_error") fatal = stripFatal(str(o.message).split("\n")[0] ?? "");
      continue;
    }
    if (line.startsWith("Fatal: ")) fatal = stripFatal(line);
    else if (!line.includes(RETRY_MARK)) textErrors.push(line);
  }
  const all = `${lines.join("\n")}\n${stderr}`;
  const reportsErrors = fatal !== null && fatal.includes("repository contains errors");
  const messageLines = (messages: readonly string[]) =>
    messages.flatMap((m) => m.split("\n")).map((l) => l.trimEnd());
  const repairCommands = [
    ...new Set(
      messageLines([...jsonErrors, ...textErrors]).filter((l) => /^restic repair \S/.test(l.trim())),
    ),
  ].map((l) => l.trim());
  const isAdvice = (l: string) => l.trim() === "" || CHECK_ADVICE.test(l.trim());
  let errors: number | null;
  let errorLines: string[];
  if (fatal !== null && !reportsErrors) {
    // The check did not get to the data (lock, password, backend): 0.18 still prints a summary
    // with num_errors 1 for that, which is not a repository error.
    errors = null;
    errorLines = [];
  } else if (summary) {
    errors = num(summary.num_errors);
    errorLines = messageLines(jsonErrors).filter((l) => !isAdvice(l));
  } else if (jsonErrors.length > 0) {
    errorLines = messageLines(jsonErrors).filter((l) => !isAdvice(l));
    errors = Math.max(1, errorLines.length);
  } else if (lines.some((l) => l.includes("no errors were found"))) {
    errors = 0;
    errorLines = [];
  } else if (reportsErrors) {
    errorLines = textErrors.filter((l) => !isAdvice(l));
    // Continuation lines of one error are indented; count the others.
    errors = Math.max(1, errorLines.filter((l) => !/^\s/.test(l)).length);
  } else {
    errors = null;
    errorLines = [];
  }
  return {
    errors,
    errorLines,
    fatal,
    lines,
    brokenPacks: summary ? strArray(summary.broken_packs) : [],
    suggestRepairIndex: summary
      ? summary.suggest_repair_index === true
      : /repair index|rebuild-index/.test(all),
    suggestPrune: summary ? summary.suggest_prune === true : /restic prune/.test(all),
    repairCommands,
  };
}

function stripFatal(line: string): string {
  return line.startsWith("Fatal: ") ? line.slice(7) : line;
}

// ---------------------------------------------------------------------------------------------
// stats --json

export interface ResticStats {
  totalSize: number;
  /** 0 in raw-data mode (0.14 prints 0; newer versions omit it). */
  totalFileCount: number;
  /** raw-data and blobs-per-file modes; null otherwise. */
  totalBlobCount: number | null;
  snapshotsCount: number;
  /** 0.15+ raw-data mode (compression); null before or in other modes. */
  totalUncompressedSize: number | null;
  compressionRatio: number | null;
  compressionProgress: number | null;
  compressionSpaceSaving: number | null;
}

export function parseStatsJson(text: string): ResticStats {
  const doc = parseJsonDocument(text, "stats output");
  if (!isObject(doc)) throw new ResticParseError("stats output", text.trim());
  return {
    totalSize: num(doc.total_size),
    totalFileCount: num(doc.total_file_count),
    totalBlobCount: numOrNull(doc.total_blob_count),
    snapshotsCount: num(doc.snapshots_count),
    totalUncompressedSize: numOrNull(doc.total_uncompressed_size),
    compressionRatio: numOrNull(doc.compression_ratio),
    compressionProgress: numOrNull(doc.compression_progress),
    compressionSpaceSaving: numOrNull(doc.compression_space_saving),
  };
}

// ---------------------------------------------------------------------------------------------
// diff --json

export interface DiffStat {
  files: number;
  dirs: number;
  others: number;
  dataBlobs: number;
  treeBlobs: number;
  bytes: number;
}

export type DiffLine =
  | {
      type: "change";
      path: string;
      /** Concatenation of "+" added, "-" removed, "T" type changed, "M" content, "U" metadata, "?" bitrot. */
      modifier: string;
    }
  | {
      type: "statistics";
      sourceSnapshot: string;
      targetSnapshot: string;
      changedFiles: number;
      added: DiffStat;
      removed: DiffStat;
    }
  | TextLine;

function toDiffStat(v: unknown): DiffStat {
  const o = isObject(v) ? v : {};
  return {
    files: num(o.files),
    dirs: num(o.dirs),
    others: num(o.others),
    dataBlobs: num(o.data_blobs),
    treeBlobs: num(o.tree_blobs),
    bytes: num(o.bytes),
  };
}

export function parseDiffLine(line: string): DiffLine {
  const o = parseObjectLine(line);
  if (o?.message_type === "change") return { type: "change", path: str(o.path), modifier: str(o.modifier) };
  if (o?.message_type === "statistics") {
    return {
      type: "statistics",
      sourceSnapshot: str(o.source_snapshot),
      targetSnapshot: str(o.target_snapshot),
      changedFiles: num(o.changed_files),
      added: toDiffStat(o.added),
      removed: toDiffStat(o.removed),
    };
  }
  return textLine(line);
}

// ---------------------------------------------------------------------------------------------
// find --json

export interface FindMatch {
  path: string;
  type: string;
  size: number;
  mtime: string;
  permissions: string;
}

export interface FindResult {
  snapshot: string;
  hits: number;
  matches: FindMatch[];
}

/** Parses `find --json`: one array with an entry per snapshot that has hits (`[]` for none). */
export function parseFindJson(text: string): FindResult[] {
  const doc = parseJsonDocument(text, "find output");
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) throw new ResticParseError("find output (not an array)", text.trim());
  const out: FindResult[] = [];
  for (const entry of doc) {
    if (!isObject(entry)) continue;
    const matches: FindMatch[] = [];
    if (Array.isArray(entry.matches)) {
      for (const m of entry.matches) {
        if (!isObject(m)) continue;
        matches.push({
          path: str(m.path),
          type: str(m.type),
          size: num(m.size),
          mtime: str(m.mtime),
          permissions: str(m.permissions),
        });
      }
    }
    out.push({ snapshot: str(entry.snapshot), hits: num(entry.hits), matches });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// copy (text in every version; --json is ignored)

export type CopyLine =
  | {
      type: "snapshot";
      shortId: string;
      /** Go's "[a b]" rendering split on spaces: exact unless a path contains a space (see pathsText). */
      paths: string[];
      pathsText: string;
      /** As printed (Go time): "2026-11-26 09:48:17.928534414 +0000 UTC". */
      time: string;
      timeIso: string | null;
      /** Newer versions print "by user@host"; null in 0.14. */
      username: string | null;
      hostname: string | null;
    }
  | { type: "copy_started" }
  | { type: "saved"; shortId: string }
  | { type: "skipped"; sourceId: string; copiedTo: string }
  | TextLine;

// 0.14: "snapshot b1817852 of [/src] at 2026-… +0000 UTC)" (the stray ")" is restic's);
// later: "snapshot b1817852 of [/src] at 2026-… +0000 UTC by root@vm)".
const COPY_SNAPSHOT = /^snapshot ([0-9a-f]{8,64}) of \[(.*)\] at (.+?)(?: by ([^@\s]*)@(\S*?))?\)?$/;
const COPY_SAVED = /^snapshot ([0-9a-f]{8,64}) saved$/;
const COPY_SKIPPED =
  /^skipping source snapshot ([0-9a-f]{8,64}), was already copied to snapshot ([0-9a-f]{8,64})$/;

export function parseCopyLine(line: string): CopyLine {
  const text = stripAnsi(line).trim();
  let m = COPY_SNAPSHOT.exec(text);
  if (m) {
    const pathsText = m[2] ?? "";
    const time = m[3] ?? "";
    return {
      type: "snapshot",
      shortId: m[1] ?? "",
      paths: pathsText === "" ? [] : pathsText.split(" "),
      pathsText,
      time,
      timeIso: goTimeToIso(time),
      username: m[4] ?? null,
      hostname: m[5] ?? null,
    };
  }
  if (text.startsWith("copy started")) return { type: "copy_started" };
  m = COPY_SAVED.exec(text);
  if (m) return { type: "saved", shortId: m[1] ?? "" };
  m = COPY_SKIPPED.exec(text);
  if (m) return { type: "skipped", sourceId: m[1] ?? "", copiedTo: m[2] ?? "" };
  return textLine(line);
}

// ---------------------------------------------------------------------------------------------
// restore (text in 0.14; JSON lines with --json since 0.16)

export type RestoreLine =
  | { type: "restoring"; shortId: string; target: string }
  | { type: "verified"; files: number }
  | {
      type: "status" | "summary";
      secondsElapsed: number;
      percentDone: number;
      totalFiles: number;
      filesRestored: number;
      filesSkipped: number;
      filesDeleted: number;
      totalBytes: number;
      bytesRestored: number;
      bytesSkipped: number;
    }
  | { type: "error"; item: string; message: string }
  /** 0.17+ with --verbose=2: one line per restored item ("restored", "updated", "unchanged", "deleted"). */
  | { type: "verbose_status"; action: string; item: string; size: number }
  | TextLine;

// 0.14: "restoring <Snapshot 7ca36a08 of [/src] at … by root@vm> to /dst"
const RESTORING = /^restoring <?[Ss]napshot ([0-9a-f]{8,64}) of .* to (.+)$/;
const VERIFIED = /^finished verifying (\d+) files in /;

export function parseRestoreLine(line: string): RestoreLine {
  const o = parseObjectLine(line);
  if (o) {
    if (o.message_type === "status" || o.message_type === "summary") {
      return {
        type: o.message_type,
        secondsElapsed: num(o.seconds_elapsed),
        percentDone: num(o.percent_done),
        totalFiles: num(o.total_files),
        filesRestored: num(o.files_restored),
        filesSkipped: num(o.files_skipped),
        filesDeleted: num(o.files_deleted),
        totalBytes: num(o.total_bytes),
        bytesRestored: num(o.bytes_restored),
        bytesSkipped: num(o.bytes_skipped),
      };
    }
    if (o.message_type === "error")
      return { type: "error", item: str(o.item), message: describeResticError(o.error) };
    if (o.message_type === "verbose_status")
      return { type: "verbose_status", action: str(o.action), item: str(o.item), size: num(o.size) };
    return textLine(line);
  }
  const text = stripAnsi(line).trim();
  let m = RESTORING.exec(text);
  if (m) return { type: "restoring", shortId: m[1] ?? "", target: m[2] ?? "" };
  m = VERIFIED.exec(text);
  if (m) return { type: "verified", files: Number(m[1]) };
  return textLine(line);
}

// ---------------------------------------------------------------------------------------------
// init, key list, cat config, cat lock

export interface InitOutput {
  /** 0.14 prints a 10-char short ID ("created restic repository 6e3a7ba7a0 at …"); `init --json` (0.15+) the full ID. */
  repositoryId: string | null;
  location: string | null;
}

// 0.18 adds " with chunker parameters copied from secondary repository" for `init --copy-chunker-params`.
const INIT_CREATED =
  /^created restic repository ([0-9a-f]+) at (.+?)(?: with chunker parameters copied from secondary repository)?$/;

export function parseInitOutput(stdout: string): InitOutput {
  for (const line of nonEmptyLines(stdout)) {
    const o = parseObjectLine(line);
    if (o?.message_type === "initialized")
      return { repositoryId: strOrNull(o.id), location: strOrNull(o.repository) };
    const m = INIT_CREATED.exec(line.trim());
    if (m) return { repositoryId: m[1] ?? null, location: m[2] ?? null };
  }
  return { repositoryId: null, location: null };
}

export interface ResticKey {
  current: boolean;
  /** 8-char short ID in 0.14, full ID since 0.17. */
  id: string;
  userName: string;
  hostName: string;
  /** Local time of the machine that made the key: "2026-11-26 09:48:15". */
  created: string;
}

export function parseKeyListJson(text: string): ResticKey[] {
  const doc = parseJsonDocument(text, "key list output");
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) throw new ResticParseError("key list output (not an array)", text.trim());
  const out: ResticKey[] = [];
  for (const k of doc) {
    if (!isObject(k)) continue;
    out.push({
      current: k.current === true,
      id: str(k.id),
      userName: str(k.userName),
      hostName: str(k.hostName),
      created: str(k.created),
    });
  }
  return out;
}

export interface RepoConfig {
  /** Repository format: 1 (no compression) or 2 (0.14 creates 2 by default). */
  version: number;
  id: string;
  chunkerPolynomial: string;
}

/** Parses `cat config` (pretty-printed JSON in every version). */
export function parseRepoConfig(text: string): RepoConfig {
  const doc = parseJsonDocument(text, "config");
  if (!isObject(doc)) throw new ResticParseError("config", text.trim());
  return { version: num(doc.version), id: str(doc.id), chunkerPolynomial: str(doc.chunker_polynomial) };
}

export interface LockFile {
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  /** Omitted by restic when 0 (root). */
  uid: number;
  gid: number;
}

/** Parses `cat lock <id>` (pretty-printed JSON). */
export function parseLockFile(text: string): LockFile {
  const doc = parseJsonDocument(text, "lock");
  if (!isObject(doc)) throw new ResticParseError("lock", text.trim());
  return {
    time: str(doc.time),
    exclusive: doc.exclusive === true,
    hostname: str(doc.hostname),
    username: str(doc.username),
    pid: num(doc.pid),
    uid: num(doc.uid),
    gid: num(doc.gid),
  };
}
