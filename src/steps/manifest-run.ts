// `manifest`'s runner: the walk (tree-walk.ts), the compressed manifest written atomically, the diff
// against the last one and the anomaly limits. The definition is manifest.ts.
import { defineStepRunner, type StepContext, type StepOutcome } from "../engine/step-kind.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createGunzip, gzip } from "node:zlib";
import { stepError } from "../errors.js";
import {
  isDiskFullError,
  removeStaleTempFiles,
  writeFileAtomic,
  writeStreamAtomic,
} from "../util/atomic-write.js";
import {
  createChunkLineSplitter,
  createManifestDiffer,
  escapePath,
  formatHeader,
  LineCursor,
  parseHeader,
  topDirectories,
  type DirCount,
  type ManifestDiff,
  type ManifestHeader,
} from "./manifest-format.js";
import { walkTrees, type WalkRoot } from "./tree-walk.js";
import { resticCacheDir } from "../restic/repository.js";
import { patternSelection, SelectionError, sourceSelection } from "../sources/selection.js";
import { LATEST_FILE, manifestStep, type ManifestOptions } from "./manifest.js";

const MANIFEST_PREFIX = "manifest-";
const MANIFEST_SUFFIX = ".tsv.gz";
const DIFF_SUFFIX = ".diff.tsv.gz";
// Fast enough to keep P4 (speed over a few hundred KB per generation); any gzip reads it.
const GZIP_LEVEL = 1;
// Text per gzip member; members are compressed side by side (see gzipMembers).
const GZIP_MEMBER_BYTES = 2 * 1024 * 1024;
const gzipAsync = promisify(gzip);

export const manifestRunner = defineStepRunner(manifestStep, (ctx) => runManifest(ctx));

/**
 * The walk roots: each source's paths with what that source backs up (sources/selection.ts, restic's
 * rules), then `paths`; all with the step's own `exclude`. A source whose exclude_file is missing
 * throws SelectionError.
 */
export function manifestRoots(
  ctx: Pick<StepContext<ManifestOptions>, "config" | "options"> & { env?: Record<string, string> },
): WalkRoot[] {
  const o = ctx.options;
  // The manifests themselves would show up as changes in every run (only matched where they can be).
  const output = path.resolve(o.output);
  const ownFor = (root: string) =>
    output === root || output.startsWith(`${root.replace(/\/$/, "")}/`) ? [output] : [];
  const roots: WalkRoot[] = [];
  for (const name of o.sources ?? []) {
    const source = ctx.config.sources[name];
    if (!source) continue;
    for (const p of source.paths) {
      roots.push({
        path: p,
        rules: sourceSelection(source, {
          env: ctx.env ?? {},
          resticCacheDir: resticCacheDir(ctx.config),
          extraExcludes: o.exclude,
          extraExcludedDirs: ownFor(p),
        }),
      });
    }
  }
  for (const p of o.paths ?? []) roots.push({ path: p, rules: patternSelection(o.exclude, ownFor(p)) });
  return roots;
}

/** manifest-20261126T030002123Z.tsv.gz: sorts by time, no characters that need quoting. */
export function manifestName(date: Date): string {
  return `${MANIFEST_PREFIX}${date.toISOString().replace(/[-:.]/g, "")}${MANIFEST_SUFFIX}`;
}

export function diffNameFor(manifest: string): string {
  return manifest.slice(0, -MANIFEST_SUFFIX.length) + DIFF_SUFFIX;
}

/** The manifest `latest` names, if it still exists. */
export async function readLatest(output: string): Promise<string | null> {
  let name: string;
  try {
    name = (await fs.promises.readFile(path.join(output, LATEST_FILE), "utf8")).trim();
  } catch {
    return null;
  }
  if (!name.startsWith(MANIFEST_PREFIX) || name.includes("/")) return null;
  return fs.existsSync(path.join(output, name)) ? name : null;
}

async function runManifest(ctx: StepContext<ManifestOptions>): Promise<StepOutcome> {
  const o = ctx.options;
  const output = o.output;
  const started = new Date();
  try {
    await fs.promises.mkdir(output, { recursive: true, mode: 0o700 });
  } catch (err) {
    return { status: "failed", error: ioError(err, `cannot create the manifest directory ${output}`) };
  }
  await removeStaleTempFiles(output, MANIFEST_PREFIX);
  const previousName = await readLatest(output);

  let roots: WalkRoot[];
  try {
    roots = manifestRoots(ctx);
  } catch (err) {
    if (err instanceof SelectionError)
      return { status: "failed", error: stepError("config", err.message, err.hint) };
    throw err;
  }
  ctx.log.info(`walking ${roots.map((r) => r.path).join(", ")}${o.hash ? " (sha256 of every file)" : ""}`);
  let lastProgress = 0;
  const walk = await walkTrees(roots, {
    hash: o.hash === "sha256",
    signal: ctx.signal,
    onProgress: (entries) => {
      if (entries - lastProgress >= 50_000) {
        lastProgress = entries;
        ctx.progress({ filesDone: entries, label: "walking" });
      }
    },
  });
  if (walk.missingRoots.length > 0) {
    const list = walk.missingRoots.map((r) => `${r.path} (${r.message})`).join(", ");
    return {
      status: "failed",
      error: stepError("not_found", `cannot walk ${list}`, "check the path, and that its disk is mounted"),
    };
  }
  for (const p of walk.problems.slice(0, 20)) ctx.log.warn(`${p.path}: ${p.message}`);

  const header: ManifestHeader = {
    created: started.toISOString(),
    hash: o.hash === "sha256" ? "sha256" : null,
    roots: roots.map((r) => r.path),
    ...(walk.problemCount > 0 ? { unreadable: walk.problemCount } : {}),
  };
  // What was below a directory the walk could not open is unreadable, not removed.
  const unreadableDirs = new Set(
    walk.problems.filter((p) => p.message.startsWith("cannot read directory")).map((p) => escapePath(p.path)),
  );
  const name = uniqueName(output, manifestName(started));
  const file = path.join(output, name);
  const previousFile = previousName ? path.join(output, previousName) : null;
  const diffLines: string[] = [];
  let compared: { diff: ManifestDiff; dirs: DirCount[]; previousHeader: ManifestHeader | null } | null = null;
  let unreadablePrevious = null as string | null;
  try {
    // Writing (gzip in the thread pool) and reading the previous manifest overlap.
    const [, result] = await Promise.all([
      writeStreamAtomic(file, gzipMembers(manifestChunks(header, walk.blocks)), { mode: 0o600 }),
      previousFile
        ? diffWithPrevious(
            previousFile,
            walk.blocks,
            header,
            (mark, line) => diffLines.push(`${mark}\t${line}`),
            unreadableDirs,
          ).catch((err: unknown) => {
            // Atomic writes make this unlikely (disk corruption, a hand edit); failing every run
            // from now on would help no one, so this run says so and starts a new baseline.
            unreadablePrevious = `${previousName} cannot be read (${(err as Error).message})`;
            ctx.log.warn(`the previous manifest ${unreadablePrevious}; nothing to compare with this time`);
            return null;
          })
        : null,
    ]);
    compared = result;
    if (compared) {
      await writeStreamAtomic(
        path.join(output, diffNameFor(name)),
        gzipMembers(manifestChunks(null, lineBlocks(diffLines))),
        { mode: 0o600 },
      );
    }
  } catch (err) {
    // Nothing of this run is left half-written; the last good manifest and `latest` are untouched.
    await fs.promises.rm(file, { force: true });
    await fs.promises.rm(path.join(output, diffNameFor(name)), { force: true });
    if (isDiskFullError(err)) {
      return {
        status: "failed",
        error: stepError(
          "disk_full",
          `no space left on the device of ${output} while writing the manifest; the previous manifest ${previousName ?? "(none)"} is kept`,
          `free space on the filesystem of ${output}, or lower keep`,
        ),
      };
    }
    if ((err as NodeJS.ErrnoException).code)
      return { status: "failed", error: ioError(err, `cannot write the manifest in ${output}`) };
    throw err;
  }

  const summary: Record<string, unknown> = {
    manifest: file,
    previous: previousFile,
    entries: walk.entries,
    files: walk.files,
    dirs: walk.dirs,
    bytes: walk.bytes,
    hash: header.hash,
    unreadable: walk.problemCount,
    vanished: walk.vanished,
  };
  let anomaly: string | null = null;
  if (compared) {
    const { diff, dirs } = compared;
    Object.assign(summary, diff, { diff: path.join(output, diffNameFor(name)) });
    if (diff.files_unreadable > 0)
      ctx.log.warn(
        `${diff.files_unreadable} files of ${previousName} could not be read this time; they are counted as unreadable, not removed`,
      );
    const base = diff.previous_files;
    const removedShare = base > 0 ? diff.files_removed / base : 0;
    const changedShare = base > 0 ? diff.files_changed / base : 0;
    summary.removed_fraction = round4(removedShare);
    summary.changed_fraction = round4(changedShare);
    summary.most_removed = topDirectories(dirs, "removed").map((d) => ({ dir: d.dir, files: d.removed }));
    summary.most_changed = topDirectories(dirs, "changed").map((d) => ({ dir: d.dir, files: d.changed }));
    ctx.log.info(
      `compared with ${previousName}: ${diff.files_added} added, ${diff.files_removed} removed, ${diff.files_changed} changed`,
    );
    const reasons: string[] = [];
    if (o.max_removed !== undefined && removedShare > o.max_removed) {
      reasons.push(
        `${diff.files_removed} of ${base} files (${percent(removedShare)}) were removed (limit ${percent(o.max_removed)}); ` +
          `most affected: ${describeDirs(topDirectories(dirs, "removed"), "removed")}`,
      );
    }
    if (o.max_changed !== undefined && changedShare > o.max_changed) {
      reasons.push(
        `${diff.files_changed} of ${base} files (${percent(changedShare)}) changed (limit ${percent(o.max_changed)}); ` +
          `most affected: ${describeDirs(topDirectories(dirs, "changed"), "changed")}`,
      );
    }
    if (reasons.length > 0) anomaly = reasons.join("; ");
  }

  // On an anomaly the new manifest is kept for inspection but `latest` keeps pointing at the last
  // good one: the next run compares with that again, so one bad run cannot make the damage the new
  // normal (a second run after a mass deletion would otherwise see no change and pass).
  // A walk with unreadable parts never replaces a good baseline (one read whole): the next run compares
  // with the good one again. It does replace a baseline that had unreadable parts itself (or none).
  const baselineKept =
    walk.problemCount > 0 && compared !== null && compared.previousHeader?.unreadable === undefined;
  const promote = anomaly === null && !baselineKept;
  summary.promoted = promote;
  try {
    if (promote) await writeFileAtomic(path.join(output, LATEST_FILE), `${name}\n`, { mode: 0o600 });
    await pruneGenerations(output, o.keep, promote ? name : previousName);
  } catch (err) {
    if (isDiskFullError(err)) {
      return {
        status: "failed",
        summary,
        error: stepError(
          "disk_full",
          `no space left on the device of ${output} while updating ${LATEST_FILE}`,
          `free space on ${output}`,
        ),
      };
    }
    throw err;
  }

  if (anomaly !== null) {
    return {
      status: "failed",
      summary,
      error: stepError(
        "anomaly",
        `${anomaly} since the last good manifest ${previousName ?? ""}`.trim(),
        `look at what changed (zcat ${path.join(output, diffNameFor(name))}); if it was intended, accept the new manifest: ` +
          `echo ${name} > ${path.join(output, LATEST_FILE)}`,
      ),
    };
  }
  if (unreadablePrevious !== null) {
    return {
      status: "warning",
      summary,
      error: stepError(
        "partial",
        `the previous manifest ${unreadablePrevious}; this run could not be compared and is the new baseline`,
        `look at ${output}: a damaged disk?`,
      ),
    };
  }
  if (walk.problemCount > 0) {
    const first = walk.problems.slice(0, 3).map((p) => `${p.path} (${p.message})`);
    const kept = baselineKept
      ? `; this manifest is kept as ${name}, but the baseline stays ${previousName ?? ""} (a walk with unreadable parts never replaces a good one)`
      : "";
    return {
      status: "warning",
      summary,
      error: stepError(
        "partial",
        `${walk.problemCount} entries could not be read: ${first.join(", ")}${walk.problemCount > 3 ? ", …" : ""}${kept}`,
        "check permissions (holdfast needs to read every file it lists, so run it as a user who can, or exclude what it must not read)",
      ),
    };
  }
  return { status: "succeeded", summary };
}

/** The header, then the blocks gathered into pieces of ~64 KiB (fewer, larger writes into gzip). */
function* manifestChunks(header: ManifestHeader | null, blocks: readonly string[]): Generator<string> {
  if (header) yield `${formatHeader(header)}\n`;
  let pending: string[] = [];
  let size = 0;
  for (const block of blocks) {
    pending.push(block);
    size += block.length;
    if (size >= 65_536) {
      yield pending.join("");
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield pending.join("");
}

/**
 * The chunks gzipped as consecutive members of ~2 MiB of text each, several compressed at once in the
 * thread pool and yielded in order. Members one after another are one gzip file (RFC 1952: gunzip,
 * zcat and Node's gunzip read them as one stream); compressing them side by side halves the time the
 * step waits for the compressor after the walk (7.5 MB of manifest text, 2 cores: 54–73 → 37–47 ms).
 */
async function* gzipMembers(
  chunks: Iterable<string>,
  parallel = Math.min(4, os.availableParallelism()),
): AsyncGenerator<Buffer> {
  const inFlight: Array<Promise<Buffer>> = [];
  let part: string[] = [];
  let size = 0;
  const compressPart = () => {
    const compressed = gzipAsync(Buffer.from(part.join("")), { level: GZIP_LEVEL });
    // Awaited in order below; a failure while an earlier member is awaited must not go unhandled.
    compressed.catch(() => undefined);
    inFlight.push(compressed);
    part = [];
    size = 0;
  };
  for (const chunk of chunks) {
    part.push(chunk);
    size += chunk.length;
    if (size >= GZIP_MEMBER_BYTES) {
      compressPart();
      if (inFlight.length >= parallel) yield await (inFlight.shift() as Promise<Buffer>);
    }
  }
  if (part.length > 0) compressPart();
  while (inFlight.length > 0) yield await (inFlight.shift() as Promise<Buffer>);
}

function lineBlocks(lines: readonly string[]): string[] {
  const blocks: string[] = [];
  // Joined in slices: one string for a huge diff could pass V8's string length limit.
  for (let i = 0; i < lines.length; i += 4096) blocks.push(`${lines.slice(i, i + 4096).join("\n")}\n`);
  return blocks;
}

/** Streams the previous manifest through the differ; never holds it whole. */
async function diffWithPrevious(
  previousFile: string,
  blocks: readonly string[],
  header: ManifestHeader,
  onDifference: (mark: "A" | "R" | "C", line: string) => void,
  unreadableDirs: ReadonlySet<string>,
): Promise<{ diff: ManifestDiff; dirs: DirCount[]; previousHeader: ManifestHeader | null }> {
  let differ: ReturnType<typeof createManifestDiffer> | null = null;
  let previousHeader: ManifestHeader | null = null;
  const splitter = createChunkLineSplitter((text, start, end) => {
    if (differ === null) {
      const headerEnd = text.indexOf("\n", start);
      previousHeader = parseHeader(text.slice(start, headerEnd));
      // A manifest with hashes compared with one without: compare everything but the hash column.
      differ = createManifestDiffer(new LineCursor(blocks), {
        ignoreExtra: (previousHeader?.hash ?? null) !== header.hash,
        onDifference,
        unreadableDirs,
      });
      if (previousHeader) start = headerEnd + 1;
    }
    differ.pushText(text, start, end);
  });
  // Large pieces: a few dozen runs of lines to compare instead of hundreds (half the diff's time).
  const input = fs
    .createReadStream(previousFile, { highWaterMark: 256 * 1024 })
    .pipe(createGunzip({ chunkSize: 1024 * 1024 }));
  input.setEncoding("utf8");
  for await (const chunk of input) splitter.push(chunk as string);
  splitter.end();
  differ ??= createManifestDiffer(new LineCursor(blocks), { onDifference, unreadableDirs });
  return { ...differ.finish(), previousHeader };
}

/** Keeps the newest `keep` manifests (and their diffs), and always the one `latest` names. */
async function pruneGenerations(output: string, keep: number, protect: string | null): Promise<void> {
  const names = (await fs.promises.readdir(output))
    .filter((n) => n.startsWith(MANIFEST_PREFIX) && n.endsWith(MANIFEST_SUFFIX) && !n.endsWith(DIFF_SUFFIX))
    .sort()
    .reverse();
  const latest = (await readLatest(output)) ?? protect;
  for (const name of names.slice(keep)) {
    if (name === latest || name === protect) continue;
    await fs.promises.rm(path.join(output, name), { force: true });
    await fs.promises.rm(path.join(output, diffNameFor(name)), { force: true });
  }
}

function uniqueName(output: string, name: string): string {
  let candidate = name;
  for (let n = 2; fs.existsSync(path.join(output, candidate)); n++) {
    candidate = `${name.slice(0, -MANIFEST_SUFFIX.length)}-${n}${MANIFEST_SUFFIX}`;
  }
  return candidate;
}

function ioError(err: unknown, what: string) {
  const e = err as NodeJS.ErrnoException;
  const kind =
    e.code === "EACCES" || e.code === "EPERM"
      ? "permission"
      : e.code === "ENOENT"
        ? "not_found"
        : e.code === "ENOSPC" || e.code === "EDQUOT"
          ? "disk_full"
          : "internal";
  return stepError(
    kind,
    `${what}: ${e.message}`,
    "check that the output directory is on a mounted, writable disk",
  );
}

function describeDirs(dirs: DirCount[], key: "removed" | "changed"): string {
  return dirs.map((d) => `${d.dir} (${d[key]})`).join(", ");
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 ? 2 : 1)}%`;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
