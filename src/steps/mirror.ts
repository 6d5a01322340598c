// `mirror`: an rsync mirror, the seed's `logseq` step (`mkdir -pv DST; rsync -ar SRC/ DST/`), with
// rsync's own statistics as the summary and rsync's exit codes mapped to success / warning / failure.
import fs from "node:fs";
import { z } from "zod";
import { stepError } from "../errors.js";
import { defineStepKind, type StepOutcome, type StepProblem } from "../engine/step-kind.js";
import { pathOrRemoteSchema } from "../config/values.js";
import { describeExit } from "../util/process.js";
import { boundedInt, countOrPercentSchema, pathSchema } from "../config/values.js";
import type { StepContext } from "../engine/step-kind.js";
import type { StepError } from "../errors.js";
import {
  checkMirrorGuard,
  countSide,
  describeSide,
  effectiveTarget,
  maxDeleteLimit,
  readRsyncArgs,
  type MirrorGuardConfig,
  type Side,
  type TreeCount,
} from "./mirror-guard.js";
import { quoteArgv } from "../util/shell-quote.js";
import { mirrorOverlap } from "./overlaps.js";
import { createRsyncCollector, judgeRsyncExit } from "./rsync-stats.js";

const REMOTE = /^([^/~$][^/:]*):(.*)$/;

// Without ssh_command: never prompt (there is no one to answer), and give up on a dead host in
// seconds instead of the TCP default of minutes.
const DEFAULT_SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"];

interface MirrorOptions {
  from: string;
  to: string;
  delete: boolean;
  exclude: string[];
  rsync_args: string[];
  ssh_command?: string[] | undefined;
  guard?: MirrorGuardConfig | undefined;
}

/** "user@host:path" → { host: "user@host", path }; null for a local path. */
export function splitRemote(spec: string): { host: string; path: string } | null {
  const m = REMOTE.exec(spec);
  return m ? { host: m[1] as string, path: m[2] as string } : null;
}

/**
 * Quotes an argv for rsync's -e, which rsync splits itself (no shell): whitespace separates words,
 * and inside '…' or "…" a doubled quote stands for one (rsync main.c, do_cmd). No backslash escapes.
 */
export function quoteForRsyncRsh(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "''")}'`))
    .join(" ");
}

/** The ssh argv rsync is given (and the guard uses) for a remote side; null for a local copy. */
export function sshArgvFor(o: Pick<MirrorOptions, "from" | "to" | "ssh_command">): string[] | null {
  const remote = splitRemote(o.from) ?? splitRemote(o.to);
  return o.ssh_command ?? (remote ? DEFAULT_SSH : null);
}

/** Deleting is what rsync will do: `delete: true`, or a deletion option in rsync_args. */
export function mirrorDeletes(o: Pick<MirrorOptions, "delete" | "rsync_args">): boolean {
  return o.delete || readRsyncArgs(o.rsync_args, o.delete).deletion !== null;
}

/** rsync's argv; `maxDelete` is the guard's limit (a number, or the plan's placeholder text). */
export function buildRsyncArgs(o: MirrorOptions, maxDelete?: number | string): string[] {
  const ssh = sshArgvFor(o);
  return [
    "-a",
    ...o.rsync_args,
    // After the user's arguments, so the statistics always come out in a form we can parse.
    "--stats",
    "--no-human-readable",
    ...(o.delete ? ["--delete"] : []),
    ...(mirrorDeletes(o) ? ["--info=del1"] : []),
    ...(maxDelete !== undefined ? [`--max-delete=${maxDelete}`] : []),
    ...o.exclude.map((pattern) => `--exclude=${pattern}`),
    ...(ssh ? ["-e", quoteForRsyncRsh(ssh)] : []),
    "--",
    o.from,
    o.to,
  ];
}

export const mirrorStep = defineStepKind({
  type: "mirror",
  summary: "rsync mirror of a directory to a path or host:path",
  options: {
    from: pathOrRemoteSchema.describe("what to mirror; a trailing / means its contents, as for rsync"),
    to: pathOrRemoteSchema.describe("where the copy goes: a path or host:path"),
    delete: z
      .boolean()
      .default(false)
      .describe("delete what is gone from `from` at `to` too (rsync --delete; see guard.max_delete)"),
    exclude: z.array(z.string()).default([]).describe("rsync exclude patterns (--exclude)"),
    rsync_args: z
      .array(z.string())
      .default([])
      .describe("more rsync arguments (deletion options here count as delete: true)"),
    ssh_command: z
      .array(z.string())
      .min(1, "needs at least the program, e.g. [ssh, -p, '2222']")
      .optional()
      .describe("the ssh argv for a host:path (default: ssh -o BatchMode=yes -o ConnectTimeout=30)"),
    guard: z
      .strictObject({
        exists: z
          .array(pathSchema)
          .default([])
          .describe("files that are only there when the source is really there (a mount's sentinel)"),
        min_files: boundedInt(1_000_000_000)
          .optional()
          .describe("fail when the source holds fewer files than this (directories do not count)"),
        max_delete: countOrPercentSchema
          .optional()
          .describe(
            "with deletions: at most this many deletions per run, a count (100) or a share of the mirror (10%)",
          ),
      })
      .default({ exists: [] })
      .describe("checks before the mirror runs (docs/guards.md)"),
  },
  // From a path to a path: no config source, no repository.
  dataFlow: { how: "mirror", of: () => ({ repos: [] }) },
  checkWithConfig: (o) => (splitRemote(o.from) || splitRemote(o.to) ? [] : mirrorOverlap(o)),
  check: (o) => {
    const problems: StepProblem[] = [];
    const from = splitRemote(o.from);
    const to = splitRemote(o.to);
    if (from && to) {
      problems.push({
        path: ["to"],
        message: "rsync cannot copy from one remote host to another",
        hint: "make `from` or `to` a local path",
      });
    }
    for (const [key, remote] of [
      ["from", from],
      ["to", to],
    ] as const) {
      // A host starting with "-" would reach ssh as an option (e.g. -oProxyCommand=…).
      if (remote && (remote.host.startsWith("-") || !/^[A-Za-z0-9_.@[\]:%-]+$/.test(remote.host))) {
        problems.push({
          path: [key],
          message: `"${remote.host}" is not a valid host name`,
          hint: "write host:path or user@host:path",
        });
      }
    }
    const raw = o as unknown as Record<string, unknown>;
    const args = Array.isArray(raw.rsync_args) ? (raw.rsync_args as unknown[]) : [];
    problems.push(...readRsyncArgs(args, raw.delete === true).problems);
    problems.push(...checkMirrorGuard(raw, typeof raw.from === "string" && splitRemote(raw.from) !== null));
    return problems;
  },
  plan: (ctx) => {
    const o = ctx.options;
    const lines: string[] = [];
    const deleting = mirrorDeletes(o);
    const guard = o.guard ?? { exists: [] };
    if (deleting || guard.exists.length > 0 || guard.min_files !== undefined)
      lines.push(`mirror guard: ${describeGuardPlan(o, deleting)}`);
    const maxDelete = guard.max_delete;
    // A share becomes a count only when the step runs (the mirror is counted first): N in the plan.
    const placeholder = maxDelete === undefined ? undefined : "count" in maxDelete ? maxDelete.count : "N";
    lines.push(`rsync ${quoteArgv(buildRsyncArgs(o, placeholder))}`);
    return lines;
  },
  async run(ctx): Promise<StepOutcome> {
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
  },
});

function sideOf(spec: string): Side {
  const remote = splitRemote(spec);
  return remote ? { kind: "remote", host: remote.host, path: remote.path } : { kind: "local", path: spec };
}

function describeGuardPlan(o: MirrorOptions, deleting: boolean): string {
  const guard = o.guard ?? { exists: [] };
  const parts: string[] = [];
  const where = splitRemote(o.from) ? ` over ${quoteArgv(sshArgvFor(o) ?? [])}` : "";
  if (guard.exists.length) parts.push(`sentinels ${guard.exists.join(", ")}`);
  if (guard.min_files !== undefined) parts.push(`at least ${guard.min_files} files`);
  if (deleting) parts.push("a source with no files never empties a mirror that has some");
  const share = guard.max_delete && "fraction" in guard.max_delete ? guard.max_delete.fraction : null;
  if (deleting && share !== null) {
    const mirror = effectiveTarget(sideOf(o.from).path, sideOf(o.to).path);
    const over = splitRemote(o.to) ? " (over ssh)" : "";
    parts.push(`--max-delete=N, N = ${Number((share * 100).toFixed(2))}% of the entries of ${mirror}${over}`);
  }
  return `count the files of ${o.from}${where}: ${parts.join("; ")}`;
}

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
