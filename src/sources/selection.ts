// What a source backs up: the one answer the guard (min_files, max_shrink), the manifest, the restore
// drill's file count and the git step's repository search all use, so that none of them counts or
// lists what restic leaves out (issue 12 item 1: a guard that counted an excluded cache let a source
// lose 90 % of what was backed up and pass). It follows restic's own rules, read from restic's source
// at v0.14.0 and v0.18.0 (internal/filter/filter.go, cmd/restic/exclude.go → internal/{filter,archiver}/
// exclude.go; the same in both), and test/restic/selection-conformance.test.ts holds it to
// `restic ls` of a real backup under both versions:
//   - a pattern is split into components and cleaned (Go's filepath.Clean: "a//b/" is "a/b");
//     each component matches one path component with Go's filepath.Match (`*`, `?`, `[a-z]`, `[^a]`,
//     `\` escapes; `[!a]` is NOT a negated class in Go); `**` matches any number of components;
//   - a pattern that starts with `/` must match from the root; any other pattern matches any run of
//     consecutive components (so `b/c` excludes /a/b/c and everything below it);
//   - `!pattern` re-includes what an earlier pattern of the same list excluded (the last pattern that
//     matches decides); an excluded directory is never entered, so nothing below it comes back;
//   - exclude_file: one pattern a line, trimmed, blank lines and `#` lines skipped, `$VAR` / `${VAR}`
//     expanded from restic's environment (`$$` is a `$`); patterns from files come after `exclude`;
//   - exclude_if_present NAME[:HEADER]: a directory holding NAME (starting with HEADER, when given)
//     keeps only NAME itself — the directory and its tag file are in the snapshot, nothing else is;
//   - one_file_system: an entry on another device than its root is left out, except a directory (the
//     mount point, kept empty);
//   - restic's own cache directory is left out when it lies inside the source;
//   - matching is on the absolute path as given (symlinks are not resolved), case-sensitive.
import fs from "node:fs";
import path from "node:path";
import type { SourceConfig } from "../config/types.js";
import { EXIT, HoldfastError } from "../errors.js";
import {
  childPath,
  defaultReaderKind,
  directoryReader,
  errnoCode,
  STAT_FIELDS,
  type DirectoryReaderKind,
  type FsPath,
} from "./directory-reader.js";

/**
 * A problem with what the config says to leave out (an exclude file that cannot be read, a bad
 * pattern); the steps report it as a `config` failure, and the CLI as a user error (exit 2).
 */
export class SelectionError extends HoldfastError {
  declare readonly hint: string;
  /** The exclude file concerned, when there is one. */
  readonly file: string | null;
  constructor(message: string, hint: string, file: string | null = null) {
    super(message, { kind: "config", hint, exitCode: EXIT.usage });
    this.name = "SelectionError";
    this.file = file;
  }
}

/**
 * Everything needed to decide what a source backs up, as plain data (it crosses to worker threads).
 * Each pattern list is matched on its own and a path any list excludes is left out, as restic does
 * with its `--exclude` and `--iexclude` lists; a `!` pattern acts only within its own list.
 */
export interface SelectionRules {
  patternLists: string[][];
  /** exclude_if_present specs, NAME or NAME:HEADER. */
  tagFiles: string[];
  oneFileSystem: boolean;
  /** Directories left out with everything below them (restic's cache). */
  excludedDirs: string[];
}

export const EMPTY_RULES: SelectionRules = {
  patternLists: [],
  tagFiles: [],
  oneFileSystem: false,
  excludedDirs: [],
};

export interface SourceSelectionOptions {
  /** The environment restic runs with, for `$VAR` in exclude files. */
  env: Readonly<Record<string, string | undefined>>;
  /** restic's cache directory (RESTIC_CACHE_DIR holdfast gives it), left out like restic does. */
  resticCacheDir?: string;
  /** Patterns of the step's own, added as a list of their own (a manifest's `exclude`). */
  extraExcludes?: readonly string[];
  /** Directories of the step's own to leave out (a manifest's output), taken literally. */
  extraExcludedDirs?: readonly string[];
}

/** The source's rules: reads its exclude files, so a missing or unreadable one throws SelectionError. */
export function sourceSelection(
  source: Pick<SourceConfig, "name" | "exclude" | "exclude_file" | "exclude_if_present" | "one_file_system">,
  options: SourceSelectionOptions,
): SelectionRules {
  const fromFiles = source.exclude_file.flatMap((file) => readExcludeFile(file, options.env, source.name));
  const patterns = [...source.exclude, ...fromFiles];
  const invalid = patterns.filter((p) => patternProblem(p) !== null);
  if (invalid.length > 0) {
    throw new SelectionError(
      `source ${source.name}: invalid exclude pattern ${invalid.map((p) => JSON.stringify(p)).join(", ")} (${patternProblem(invalid[0] as string)})`,
      "restic refuses it too; fix the pattern (a `[` opens a character class that needs its `]`; write \\[ for a literal one)",
    );
  }
  for (const spec of source.exclude_if_present) {
    const problem = tagSpecProblem(spec);
    if (problem)
      throw new SelectionError(
        `source ${source.name}: exclude_if_present ${JSON.stringify(spec)}: ${problem}`,
        "write NAME or NAME:HEADER",
      );
  }
  const lists = [patterns];
  if (options.extraExcludes && options.extraExcludes.length > 0) lists.push([...options.extraExcludes]);
  return {
    patternLists: lists.filter((l) => l.some((p) => p !== "")),
    tagFiles: [...source.exclude_if_present],
    oneFileSystem: source.one_file_system,
    excludedDirs: [
      ...(options.resticCacheDir ? [path.resolve(options.resticCacheDir)] : []),
      ...(options.extraExcludedDirs ?? []).map((d) => path.resolve(d)),
    ],
  };
}

/** Rules from patterns alone (a manifest's `paths`, the git step's roots). */
export function patternSelection(
  patterns: readonly string[],
  excludedDirs: readonly string[] = [],
): SelectionRules {
  return {
    ...EMPTY_RULES,
    patternLists: patterns.some((p) => p !== "") ? [[...patterns]] : [],
    excludedDirs: excludedDirs.map((d) => path.resolve(d)),
  };
}

/**
 * An exclude file's patterns as restic reads them (readExcludePatternsFromFiles, 0.14 – 0.18): a UTF-8
 * BOM dropped, lines trimmed, blank and `#` lines skipped, `$VAR`/`${VAR}` expanded (an unset
 * variable is empty, `$$` is `$`).
 */
export function readExcludeFile(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  sourceName?: string,
): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const owner = sourceName === undefined ? "" : `source ${sourceName}: `;
    const what =
      e.code === "ENOENT"
        ? "does not exist"
        : e.code === "EACCES"
          ? "cannot be read (permission denied)"
          : e.code === "EISDIR"
            ? "is a directory"
            : `cannot be read (${e.code ?? e.message})`;
    throw new SelectionError(
      `${owner}exclude_file ${file} ${what}`,
      e.code === "ENOENT"
        ? "create the file (one restic exclude pattern a line), or remove it from the source's exclude_file; restic would refuse the backup too"
        : "make the file readable by the user holdfast runs as, or remove it from the source's exclude_file",
      file,
    );
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const patterns: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    patterns.push(expandLikeGo(line, env));
  }
  return patterns;
}

const SPECIAL = /^[*#$@!?\-0-9]$/;

/** Go's os.Expand with restic's mapping (`$$` → `$`, an unset variable → ""). */
export function expandLikeGo(text: string, env: Readonly<Record<string, string | undefined>>): string {
  const lookup = (name: string) => (name === "$" ? "$" : (env[name] ?? ""));
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c !== "$" || i + 1 >= text.length) {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1] as string;
    if (next === "{") {
      if (text.length > i + 3 && SPECIAL.test(text[i + 2] as string) && text[i + 3] === "}") {
        out += lookup(text[i + 2] as string);
        i += 4;
        continue;
      }
      const close = text.indexOf("}", i + 2);
      // Go eats a bad "${}" whole, and the "${" of one never closed.
      if (close === -1) i += 2;
      else {
        if (close > i + 2) out += lookup(text.slice(i + 2, close));
        i = close + 1;
      }
      continue;
    }
    if (SPECIAL.test(next)) {
      // Go's one-character names: $$, $1, $@, …
      out += lookup(next);
      i += 2;
      continue;
    }
    let j = i + 1;
    while (j < text.length && /[A-Za-z0-9_]/.test(text[j] as string)) j++;
    if (j === i + 1) {
      // A "$" before anything else stays.
      out += "$";
      i++;
      continue;
    }
    out += lookup(text.slice(i + 1, j));
    i = j;
  }
  return out;
}

/** Why restic would refuse this exclude_if_present spec, or null. */
export function tagSpecProblem(spec: string): string | null {
  if (spec === "") return "the name of the tag file is empty";
  if (spec.startsWith(":")) return "no name for the tag file before the colon";
  return null;
}

// ---------------------------------------------------------------------------------------------
// Patterns

/** Go's path.Clean. */
export function cleanLikeGo(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out.at(-1) !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  if (rooted) return `/${joined}`;
  return joined === "" ? "." : joined;
}

const DOUBLE_STAR = Symbol("**");
type Part = string | typeof DOUBLE_STAR;

/** One component pattern as a regular expression source matching within one component; throws on a bad one. */
function componentToRegExp(part: string): string {
  // restic compares a component without \ [ ] * ? literally.
  if (!/[\\[\]*?]/.test(part)) return escapeRegExp(part);
  let out = "";
  const chars = Array.from(part);
  let i = 0;
  const bad = (why: string): never => {
    throw new Error(why);
  };
  // Go's getEsc: one character of a class, with \ escapes; - and ] must be escaped.
  const classChar = (): number => {
    let c = chars[i];
    if (c === undefined || c === "-" || c === "]") bad("syntax error in character class");
    if (c === "\\") {
      i++;
      c = chars[i];
      if (c === undefined) bad("a \\ at the end of the pattern");
    }
    i++;
    // Go also needs something after the character (the class's end at least).
    if (i >= chars.length) bad("character class without its closing ]");
    return (c as string).codePointAt(0) as number;
  };
  while (i < chars.length) {
    const c = chars[i] as string;
    if (c === "*") {
      out += "[^/]*";
      i++;
    } else if (c === "?") {
      out += "[^/]";
      i++;
    } else if (c === "\\") {
      const next = chars[i + 1];
      if (next === undefined) bad("a \\ at the end of the pattern");
      out += escapeRegExp(next as string);
      i += 2;
    } else if (c === "[") {
      i++;
      let negated = false;
      if (chars[i] === "^") {
        negated = true;
        i++;
      }
      const ranges: string[] = [];
      let count = 0;
      for (;;) {
        if (chars[i] === "]" && count > 0) {
          i++;
          break;
        }
        const lo = classChar();
        let hi = lo;
        if (chars[i] === "-") {
          i++;
          hi = classChar();
        }
        // Go accepts an empty range (lo > hi); it matches nothing.
        if (lo <= hi) ranges.push(`\\u{${lo.toString(16)}}-\\u{${hi.toString(16)}}`);
        count++;
      }
      if (negated) out += `[^/${ranges.join("")}]`;
      else out += ranges.length === 0 ? "(?!)" : `(?:(?!/)[${ranges.join("")}])`;
    } else {
      out += escapeRegExp(c);
      i++;
    }
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

interface CompiledPattern {
  negated: boolean;
  regex: RegExp;
}

/** The pattern as restic reads it (preparePattern), as a regular expression over an absolute path. */
function compilePattern(pattern: string): CompiledPattern {
  const negated = pattern.startsWith("!");
  const cleaned = cleanLikeGo(negated ? pattern.slice(1) : pattern);
  const split = cleaned.split("/");
  const anchored = split[0] === "";
  // Clean leaves no empty component but the one a leading "/" makes; "/" alone splits into ["", ""],
  // which restic reads as "/" then "**".
  const parts: Part[] = (anchored ? split.slice(1) : split).map((p) =>
    p === "**" || p === "" ? DOUBLE_STAR : p,
  );
  if (parts.every((p) => p === DOUBLE_STAR)) {
    // restic: "**" matches every path; "/" and "/**" too.
    return { negated, regex: /^/u };
  }
  // Each component is preceded by its "/": a window of components starts right after a "/" (the
  // path is absolute) and ends before one or at the end.
  let body = "";
  for (const part of parts) body += part === DOUBLE_STAR ? "(?:/[^/]+)*" : `/${componentToRegExp(part)}`;
  return { negated, regex: new RegExp(`${anchored ? "^" : ""}${body}(?=/|$)`, "u") };
}

/** Why restic would refuse the pattern (filter.ValidatePatterns), or null when it is fine. */
export function patternProblem(pattern: string): string | null {
  if (pattern === "") return null;
  try {
    compilePattern(pattern);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export type PathMatcher = (absolutePath: string) => boolean;

/** One list of patterns with restic's meaning (filter.List): true when the path is excluded. */
export function compilePatterns(patterns: readonly string[]): PathMatcher {
  const compiled = patterns.filter((p) => p !== "").map(compilePattern);
  if (compiled.length === 0) return () => false;
  if (!compiled.some((p) => p.negated)) {
    // Without `!` the first match decides: one combined expression.
    const combined = new RegExp(compiled.map((p) => `(?:${p.regex.source})`).join("|"), "u");
    return (absolutePath) => combined.test(absolutePath);
  }
  // The last pattern that matches decides.
  const reversed = compiled.slice().reverse();
  return (absolutePath) => {
    for (const p of reversed) if (p.regex.test(absolutePath)) return !p.negated;
    return false;
  };
}

// ---------------------------------------------------------------------------------------------
// Rules compiled

export interface TagFile {
  name: string;
  /** The bytes the tag file must start with; null when its presence is enough. */
  header: Buffer | null;
}

export interface CompiledSelection {
  rules: SelectionRules;
  /** Left out by its path alone: patterns and restic's cache (before any lstat, as restic does). */
  excludedByPath(absolutePath: string): boolean;
  tagFiles: TagFile[];
  oneFileSystem: boolean;
}

export function compileSelection(rules: SelectionRules): CompiledSelection {
  const matchers = rules.patternLists.map(compilePatterns);
  const dirs = rules.excludedDirs;
  return {
    rules,
    excludedByPath: (p) => {
      for (const m of matchers) if (m(p)) return true;
      for (const d of dirs) if (p === d || p.startsWith(d === "/" ? "/" : `${d}/`)) return true;
      return false;
    },
    tagFiles: rules.tagFiles.map((spec) => {
      const colon = spec.indexOf(":");
      return colon > 0
        ? { name: spec.slice(0, colon), header: Buffer.from(spec.slice(colon + 1)) }
        : { name: spec, header: null };
    }),
    oneFileSystem: rules.oneFileSystem,
  };
}

/**
 * The tag files present in a directory (its names given where the caller has read them): a directory
 * holding one keeps only the tag files themselves. restic lstats the name, and with a header reads
 * that many bytes: a shorter file or another start does not count.
 */
export function presentTags(
  selection: CompiledSelection,
  dir: FsPath,
  names?: readonly string[],
): Set<string> | null {
  let found: Set<string> | null = null;
  for (const tag of selection.tagFiles) {
    if (names !== undefined && !names.includes(tag.name)) continue;
    const file = childPath(dir, tag.name, undefined);
    if (names === undefined && fs.lstatSync(file, { throwIfNoEntry: false }) === undefined) continue;
    if (tag.header !== null && !startsWith(file, tag.header)) continue;
    (found ??= new Set()).add(tag.name);
  }
  return found;
}

/**
 * Whether an entry of a directory holding these tag files is left out: restic checks each
 * exclude_if_present on its own and spares only that tag's own file, so with two different tags
 * present neither file is kept.
 */
export function taggedOut(tags: ReadonlySet<string> | null, name: string): boolean {
  return tags !== null && !(tags.size === 1 && tags.has(name));
}

function startsWith(file: FsPath, header: Buffer): boolean {
  if (header.length === 0) return true;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const buffer = Buffer.alloc(header.length);
    let total = 0;
    while (total < header.length) {
      const n = fs.readSync(fd, buffer, total, header.length - total, null);
      if (n === 0) return false;
      total += n;
    }
    return buffer.equals(header);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Whether a walk root is itself left out: by its path, or by a tag file beside it (restic checks the root's parent too). */
export function rootExcluded(selection: CompiledSelection, root: string): boolean {
  if (selection.excludedByPath(root)) return true;
  if (selection.tagFiles.length === 0) return false;
  const parent = path.dirname(root);
  if (parent === root) return false;
  return taggedOut(presentTags(selection, parent), path.basename(root));
}

// ---------------------------------------------------------------------------------------------
// The walk

export type SelectedType = "f" | "d" | "l" | "o";

export interface SelectedEntry {
  /** The absolute path (U+FFFD where its bytes are not UTF-8). */
  path: string;
  /** Its bytes, where they are not UTF-8. */
  raw?: Buffer;
  type: SelectedType;
  size: number;
}

export interface SelectionWalkOptions {
  signal?: AbortSignal;
  reader?: DirectoryReaderKind;
}

export interface SelectionWalkResult {
  /** Directories that could not be read (restic keeps them, empty, and warns). The first 100. */
  unreadable: Array<{ path: string; message: string }>;
  unreadableCount: number;
  /** Roots that do not exist. */
  missingRoots: string[];
  /** False when the visitor stopped the walk or the signal did. */
  complete: boolean;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function typeOf(mode: number): SelectedType {
  const format = mode & S_IFMT;
  return format === S_IFREG ? "f" : format === S_IFDIR ? "d" : format === S_IFLNK ? "l" : "o";
}

// Entries between two looks at the event loop (the step's timeout and cancellation).
const YIELD_EVERY = 2048;

/**
 * Walks what the source backs up, calling visit for every entry restic would store — each root
 * itself (not followed when it is a symlink, as restic does) and everything below it — until visit
 * returns false. Directories are read whole, one at a time, with the fastest reader built
 * (directory-reader.ts); between directories the event loop gets its turn.
 */
export async function walkSelection(
  roots: readonly string[],
  rules: SelectionRules | CompiledSelection,
  visit: (entry: SelectedEntry) => boolean | void,
  options: SelectionWalkOptions = {},
): Promise<SelectionWalkResult> {
  const selection = "excludedByPath" in rules ? rules : compileSelection(rules);
  const read = directoryReader(options.reader ?? defaultReaderKind());
  const result: SelectionWalkResult = {
    unreadable: [],
    unreadableCount: 0,
    missingRoots: [],
    complete: true,
  };
  const seenRoots = new Set<string>();
  let sinceYield = 0;
  for (const given of roots) {
    const root = path.resolve(given);
    if (seenRoots.has(root)) continue;
    seenRoots.add(root);
    if (rootExcluded(selection, root)) continue;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(root, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) {
      result.missingRoots.push(root);
      continue;
    }
    const rootType = typeOf(st.mode);
    if (visit({ path: root, type: rootType, size: rootType === "f" ? st.size : 0 }) === false)
      return { ...result, complete: false };
    if (rootType !== "d") continue;
    const rootDev = st.dev;
    const stack: Array<{ dir: string; raw?: Buffer }> = [{ dir: root }];
    while (stack.length > 0) {
      if (options.signal?.aborted) return { ...result, complete: false };
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { dir, raw: dirRaw } = stack.pop() as { dir: string; raw?: Buffer };
      const fsDir: FsPath = dirRaw ?? dir;
      let listing;
      try {
        listing = read(fsDir);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code !== "ENOENT") {
          result.unreadableCount++;
          if (result.unreadable.length < 100)
            result.unreadable.push({ path: dir, message: e.code ?? e.message });
        }
        continue;
      }
      const { names, stats, raw } = listing;
      const tags = selection.tagFiles.length > 0 ? presentTags(selection, fsDir, names) : null;
      const prefix = dir === "/" ? "/" : `${dir}/`;
      // Names in order, so a walk lists the same way each time.
      const order = Array.from(names.keys()).sort((a, b) =>
        (names[a] as string) < (names[b] as string) ? -1 : 1,
      );
      for (const i of order) {
        const name = names[i] as string;
        sinceYield++;
        if (taggedOut(tags, name)) continue;
        const full = prefix + name;
        if (selection.excludedByPath(full)) continue;
        const mode = stats[i * STAT_FIELDS] as number;
        // Vanished since the directory was read, or cannot be lstat'ed: restic stores nothing.
        if (mode < 0) {
          if (errnoCode(mode) !== "ENOENT") {
            result.unreadableCount++;
            if (result.unreadable.length < 100)
              result.unreadable.push({ path: full, message: errnoCode(mode) });
          }
          continue;
        }
        const type = typeOf(mode);
        const otherDevice = selection.oneFileSystem && stats[i * STAT_FIELDS + 3] !== rootDev;
        // restic keeps a mount point (the directory) and leaves out anything else on another device.
        if (otherDevice && type !== "d") continue;
        const rawName = raw?.[i];
        const fsPath =
          dirRaw === undefined && rawName === undefined ? undefined : childPath(fsDir, name, rawName);
        const entry: SelectedEntry = {
          path: full,
          type,
          size: type === "f" ? (stats[i * STAT_FIELDS + 1] as number) : 0,
        };
        if (fsPath !== undefined) entry.raw = fsPath as Buffer;
        if (visit(entry) === false) return { ...result, complete: false };
        if (type === "d" && !otherDevice)
          stack.push(fsPath === undefined ? { dir: full } : { dir: full, raw: fsPath as Buffer });
      }
    }
  }
  return result;
}

export interface SelectionCount {
  /** Every entry restic would store: roots, directories, files, links, others. */
  entries: number;
  regularFiles: number;
  walk: SelectionWalkResult;
}

/** Counts what the source backs up; stops early once `stopAt` entries were seen. */
export async function countSelection(
  roots: readonly string[],
  rules: SelectionRules | CompiledSelection,
  options: SelectionWalkOptions & { stopAt?: number } = {},
): Promise<SelectionCount> {
  let entries = 0;
  let regularFiles = 0;
  const stop = options.stopAt ?? Number.POSITIVE_INFINITY;
  const walk = await walkSelection(
    roots,
    rules,
    (entry) => {
      entries++;
      if (entry.type === "f") regularFiles++;
      return entries < stop;
    },
    options,
  );
  return { entries, regularFiles, walk };
}
