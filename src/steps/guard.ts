// The source guard (behavior.md: no empty snapshots, no pruning into data loss). Before a backup:
// every path exists, every `exists` sentinel exists, the source holds at least `min_files` entries,
// and it has not shrunk by more than `max_shrink` since the last snapshot of this source in each
// repository. Any failure stops the backup to every repository: a source that looks wrong is wrong
// everywhere, and no snapshot of it is better than an empty one that retention then keeps. The one
// exception is time: a repository whose backend does not answer yet is not waited for (backup.ts,
// startGuard), so a shrink it reports later stops only its own backup (and retention everywhere).
import fs from "node:fs";
import path from "node:path";
import type { SourceConfig } from "../config/types.js";
import {
  compileSelection,
  countSelection,
  SelectionError,
  sourceSelection,
  type CompiledSelection,
  type SelectionRules,
  type SourceSelectionOptions,
} from "../sources/selection.js";
import { stepError, type StepError } from "../errors.js";
import { parsePercent } from "../util/units.js";

/**
 * Counts the entries of what the source backs up (sources/selection.ts: its excludes, exclude_file,
 * exclude_if_present, one_file_system, as restic applies them) the way `restic stats --mode
 * restore-size` counts a snapshot's nodes: each path itself and everything below it (files,
 * directories, symlinks, others). An excluded cache that grows must not hide a source that shrank.
 */
export async function countEntries(
  paths: readonly string[],
  selection: SelectionRules | CompiledSelection,
  options: { stopAt?: number; signal?: AbortSignal } = {},
): Promise<number> {
  return (await countSelection(paths, selection, options)).entries;
}

/** The source's selection, or the config failure (a missing exclude_file, a bad pattern) as a StepError. */
export function selectionOrError(
  source: SourceConfig,
  options: SourceSelectionOptions,
): { selection: CompiledSelection } | { error: StepError } {
  try {
    return { selection: compileSelection(sourceSelection(source, options)) };
  } catch (err) {
    if (err instanceof SelectionError) return { error: stepError("config", err.message, err.hint) };
    throw err;
  }
}

/**
 * restic stores an absolute backup path with its parent directories (a snapshot of /srv/data holds
 * /srv, /srv/data, …), and `stats --mode restore-size` counts them too. This is how many such
 * parents the source's paths add, to subtract from the snapshot's count before comparing.
 */
export function ancestorCount(paths: readonly string[]): number {
  const ancestors = new Set<string>();
  const own = new Set(paths.map((p) => path.resolve(p)));
  for (const p of own) {
    let dir = path.dirname(p);
    while (dir !== path.dirname(dir)) {
      if (!own.has(dir)) ancestors.add(dir);
      dir = path.dirname(dir);
    }
  }
  return ancestors.size;
}

/** The repository-independent checks: paths, sentinels, min_files. Returns null when they pass. */
export async function checkSourcePresence(
  source: SourceConfig,
  selection: SelectionRules | CompiledSelection,
  signal?: AbortSignal,
): Promise<StepError | null> {
  const missing = source.paths.filter((p) => !fs.existsSync(p));
  if (missing.length > 0) {
    return stepError(
      "guard",
      `source ${source.name}: ${missing.length === 1 ? "path" : "paths"} ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not exist`,
      "is the disk mounted? holdfast made no snapshot, so retention keeps the earlier ones; fix the path in the config if it moved",
    );
  }
  const sentinels = source.guard.exists.filter((p) => !fs.existsSync(p));
  if (sentinels.length > 0) {
    return stepError(
      "guard",
      `source ${source.name}: sentinel ${sentinels.join(", ")} is missing`,
      "the sentinel file is only there when the source is really mounted; mount it (or recreate the sentinel if it was removed on purpose) and run again",
    );
  }
  const min = source.guard.min_files;
  if (min !== undefined && min > 0) {
    const found = await countEntries(source.paths, selection, { stopAt: min, ...(signal ? { signal } : {}) });
    if (found < min) {
      return stepError(
        "guard",
        `source ${source.name} holds ${found} ${found === 1 ? "entry" : "entries"} outside its excludes, fewer than min_files ${min}`,
        "an empty or half-mounted source would make an empty snapshot; check the source (mounted? emptied?), or lower guard.min_files",
      );
    }
  }
  return null;
}

/** Parses guard.max_shrink ("30%") into a fraction; a StepError (config) when malformed. */
export function parseMaxShrink(source: SourceConfig): number | null | StepError {
  const raw = source.guard.max_shrink;
  if (raw === undefined) return null;
  const fraction = parsePercent(raw);
  if (fraction === null) {
    return stepError(
      "config",
      `source ${source.name}: guard.max_shrink "${raw}" is not a percentage`,
      "write it like 30%",
    );
  }
  return fraction;
}

/** The shrink check against one repository's last snapshot count; null when it passes. */
export function shrinkFailure(
  source: SourceConfig,
  repo: string,
  maxShrink: number,
  previous: number,
  current: number,
): StepError | null {
  if (previous <= 0) return null;
  const shrink = (previous - current) / previous;
  if (shrink <= maxShrink) return null;
  return stepError(
    "guard",
    `source ${source.name} shrank by ${(shrink * 100).toFixed(1)}% since the last snapshot in ${repo} (${previous} → ${current} entries backed up, excludes left out), more than max_shrink ${(maxShrink * 100).toFixed(0)}%`,
    "if files really were deleted on purpose, raise guard.max_shrink for one run or back up with the guard adjusted; otherwise find out where they went before the next run",
  );
}
