// `mirror`'s runner: the guard (the source is there, deletions within max_delete), then rsync with
// its statistics collected and its exit code judged (rsync-stats.ts). The definition is mirror.ts.
import { defineStepRunner, type StepContext } from "../engine/step-kind.js";
import fs from "node:fs";
import { stepError } from "../errors.js";
import { describeExit } from "../util/process.js";
import type { StepError } from "../errors.js";
import {
  countSide,
  describeSide,
  effectiveTarget,
  maxDeleteLimit,
  readRsyncArgs,
  type Side,
  type TreeCount,
} from "./mirror-guard.js";
import { createRsyncCollector, judgeRsyncExit } from "./rsync-stats.js";
import {
  buildRsyncArgs,
  DEFAULT_SSH,
  mirrorDeletes,
  mirrorStep,
  sideOf,
  splitRemote,
  sshArgvFor,
  type MirrorOptions,
} from "./mirror.js";

export const mirrorRunner = defineStepRunner(mirrorStep, async (ctx) => {
  const o = ctx.options;
  const fromRemote = splitRemote(o.from);
  const toRemote = splitRemote(o.to);
  const deleting = mirrorDeletes(o);

  const guarded = await runMirrorGuard(ctx, deleting);
  if ("error" in guarded) return { status: "failed", error: guarded.error };
  const limit = guarded.limit;

  if (!toRemote) {
    // The seed's `mkdir -pv`: rsync itself creates only the last component of the destination.
    try {
      const created = await fs.promises.mkdir(o.to, { recursive: true });
      if (created) ctx.log.info(`created directory ${o.to}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return {
        status: "failed",
        error: stepError(
          e.code === "EACCES" || e.code === "EPERM" ? "permission" : "not_found",
          `cannot create the destination ${o.to}: ${e.message}`,
          "check that the destination's parent exists and is writable (a mounted disk?)",
        ),
      };
    }
  }

  const collector = createRsyncCollector();
  let skippedDeletions: number | null = null;
  const result = await ctx.exec("rsync", buildRsyncArgs(o, limit?.limit), {
    onLine: (line, stream) => {
      collector.push(line, stream);
      // rsync 3.x: "Deletions stopped due to --max-delete limit (40 skipped)", then exit 25.
      const stopped = /^Deletions stopped due to --max-delete limit \((\d+) skipped\)/.exec(line);
      if (stopped) skippedDeletions = Number(stopped[1]);
      ctx.log.output(line, stream);
    },
  });
  if (result.spawnError) {
    return {
      status: "failed",
      error: stepError(
        "not_found",
        describeExit(result),
        result.spawnError.code === "ENOENT"
          ? `install rsync, or put it on the step's PATH (${ctx.env.PATH ?? ""})`
          : null,
      ),
    };
  }
  const summary = {
    ...collector.stats(),
    from: o.from,
    to: o.to,
    delete: deleting,
    ...(limit ? { max_delete: limit.limit } : {}),
  };
  if (result.exitCode === null) {
    return {
      status: "failed",
      summary,
      error: stepError("exit_code", `rsync ${describeExit(result)}`, null),
    };
  }
  if (result.exitCode === 25 && limit) {
    const skipped = skippedDeletions as number | null;
    return {
      status: "failed",
      exitCode: 25,
      summary,
      error: stepError(
        "guard",
        `rsync stopped deleting at ${limit.described}: ${skipped === null ? "further" : `${skipped} more`} ${skipped === 1 ? "deletion" : "deletions"} skipped; the rest of the mirror was updated (rsync code 25)`,
        "the source lost more than the guard allows: check that it is complete (mounted? synced?) before the next run; if the deletions are wanted, raise guard.max_delete for one run",
      ),
    };
  }
  const verdict = judgeRsyncExit(result.exitCode, collector, (fromRemote ?? toRemote)?.host ?? null);
  const vanished = collector.vanished();
  return {
    status: verdict.status,
    exitCode: result.exitCode,
    summary: vanished.length ? { ...summary, vanished } : summary,
    error: verdict.kind ? stepError(verdict.kind, ctx.redact(verdict.message ?? ""), verdict.hint) : null,
  };
});

/**
 * Looks at both sides before rsync runs. Returns the --max-delete limit to give rsync (when the guard
 * has max_delete), or the StepError that stops the step with nothing transferred.
 */
async function runMirrorGuard(
  ctx: StepContext<MirrorOptions>,
  deleting: boolean,
): Promise<{ limit: { limit: number; described: string } | null } | { error: StepError }> {
  const o = ctx.options;
  const guard = o.guard ?? { exists: [] };
  const ssh = sshArgvFor(o) ?? DEFAULT_SSH;
  const from = sideOf(o.from);
  const to = sideOf(o.to);
  const minFiles = guard.min_files ?? 0;
  // A remote source that nothing asks about is left to rsync (no extra ssh connection per run).
  if (from.kind === "remote" && !deleting && guard.exists.length === 0 && minFiles === 0)
    return { limit: null };
  // Only "are there at least N files" is asked of the source: stop counting there.
  const source = await countSide(ctx, from, ssh, guard.exists, Math.max(minFiles, 1));
  if ("kind" in source) return { error: source };
  const fromText = describeSide(from);
  if (!source.exists) {
    // A missing source would make rsync exit 23 ("partial transfer"): not a warning but a failure.
    return {
      error: stepError(
        "not_found",
        `the source ${fromText} does not exist${from.kind === "remote" ? ` on ${from.host}` : ""}`,
        "check the path, and that its disk is mounted",
      ),
    };
  }
  if (source.missingSentinels.length > 0) {
    const named = source.missingSentinels.map((s) => (from.kind === "remote" ? `${from.host}:${s}` : s));
    return {
      error: stepError(
        "guard",
        `mirror source ${fromText}: sentinel ${named.join(", ")} ${named.length === 1 ? "is" : "are"} missing`,
        "the sentinel file is only there when the source is really mounted; mount it (or recreate the sentinel if it was removed on purpose) and run again — holdfast mirrored nothing",
      ),
    };
  }
  if (minFiles > 0 && source.files < minFiles) {
    return {
      error: stepError(
        "guard",
        `mirror source ${fromText} holds ${source.files} ${source.files === 1 ? "file" : "files"}, fewer than min_files ${minFiles} (directories do not count)`,
        "an empty or half-mounted source would be mirrored as it is; check the source (mounted? emptied?), or lower guard.min_files",
      ),
    };
  }
  if (!deleting || !source.isDirectory) return { limit: null };

  const target: Side =
    to.kind === "local"
      ? { kind: "local", path: effectiveTarget(from.path, to.path) }
      : { kind: "remote", host: to.host, path: effectiveTarget(from.path, to.path) };
  const share = guard.max_delete !== undefined && "fraction" in guard.max_delete;
  // The share needs every entry of the mirror; the empty-source rule only whether it holds a file.
  const needTarget = share || source.files === 0;
  let mirror: TreeCount | null = null;
  if (needTarget) {
    const counted = await countSide(ctx, target, ssh, [], share ? undefined : 1);
    if ("kind" in counted) return { error: counted };
    mirror = counted;
  }
  if (source.files === 0 && mirror && mirror.files > 0) {
    return {
      error: stepError(
        "guard",
        `the source ${fromText} holds no files (${source.entries > 0 ? "only empty directories" : "it is empty"}) while the mirror ${describeSide(target)} holds some; with deletions on (${o.delete ? "delete: true" : readRsyncArgs(o.rsync_args, false).deletion}) rsync would empty the mirror`,
        "check that the source's disk is mounted; if it really is empty now, empty the mirror by hand — holdfast mirrored nothing",
      ),
    };
  }
  if (guard.max_delete === undefined) return { limit: null };
  const limit = maxDeleteLimit(guard.max_delete, mirror?.entries ?? 0);
  ctx.log.info(`mirror guard: rsync may delete at most ${limit.limit} (${limit.described})`);
  return { limit };
}
