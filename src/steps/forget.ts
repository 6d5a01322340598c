import { z } from "zod";
import { defineStepKind, isSourceBlocked, type StepContext } from "../engine/step-kind.js";
import { boundedInt, nameSchema, resticDurationSchema } from "../config/values.js";
import { stepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { forgetArgs, HOLDFAST_TAG, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { sourceScopes, type SourceScope } from "./scope.js";
import type { ResticHost } from "../restic/host.js";
import type { RepositoryConfig } from "../config/types.js";
import type { snapshots as snapshotsCommand } from "../restic/commands.js";
import type { ForgetOutput } from "../restic/outputs.js";
import { combineTargets } from "./targets.js";

export const keepSchema = z
  .strictObject({
    last: boundedInt(100_000).optional().describe("keep the last N snapshots"),
    hourly: boundedInt(100_000)
      .optional()
      .describe("keep the last snapshot of each of the last N hours that have one"),
    daily: boundedInt(100_000).optional().describe("… of each of the last N days"),
    weekly: boundedInt(100_000).optional().describe("… of each of the last N weeks"),
    monthly: boundedInt(100_000).optional().describe("… of each of the last N months"),
    yearly: boundedInt(100_000).optional().describe("… of each of the last N years"),
    within: resticDurationSchema
      .optional()
      .describe("keep every snapshot made within this time of the latest (restic --keep-within)"),
    within_hourly: resticDurationSchema
      .optional()
      .describe("keep hourly snapshots made within this time of the latest (restic --keep-within-hourly)"),
    within_daily: resticDurationSchema
      .optional()
      .describe("keep daily snapshots within this time (restic --keep-within-daily)"),
    within_weekly: resticDurationSchema
      .optional()
      .describe("keep weekly snapshots within this time (restic --keep-within-weekly)"),
    within_monthly: resticDurationSchema
      .optional()
      .describe("keep monthly snapshots within this time (restic --keep-within-monthly)"),
    within_yearly: resticDurationSchema
      .optional()
      .describe("keep yearly snapshots within this time (restic --keep-within-yearly)"),
  })
  .refine((k) => Object.values(k).some((v) => v !== undefined), {
    message: "a keep policy needs at least one rule",
  });

const options = {
  repos: z.array(nameSchema).min(1).describe("the repositories retention is applied in"),
  keep: keepSchema.describe("the policy, as restic forget --keep-*: at least one rule"),
  prune: z
    .boolean()
    .default(false)
    .describe("restic prune after forget: frees the space of what was forgotten"),
  sources: z
    .array(nameSchema)
    .optional()
    .describe("only these sources' snapshots (default: the sources this job backs up, else every source)"),
};
type ForgetStepOptions = z.output<z.ZodObject<typeof options>>;

// Groups per host and tag set: holdfast's tags carry the source (and job), so each source of each
// host keeps its own `last N` — restic's default (host,paths) would mix sources with equal paths.
const GROUP_BY = "host,tags";

/** holdfast's own snapshots of these sources, as restic --tag/--host filters. */
function scopeFilter(scopes: SourceScope[]) {
  return {
    tags: scopes.map((s) => [HOLDFAST_TAG, sourceTag(s.source)]),
    hosts: [...new Set(scopes.flatMap((s) => s.hosts))],
  };
}

function forgetOptionsFor(opts: ForgetStepOptions, scopes: SourceScope[]) {
  return { keep: opts.keep, ...scopeFilter(scopes), groupBy: GROUP_BY, prune: opts.prune };
}

export const forgetStep = defineStepKind({
  type: "forget",
  summary: "retention with restic forget (scoped to holdfast's own snapshots), optionally prune",
  options,
  references: (o) => [
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
    ...(o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  ],
  plan: (ctx) => {
    const scopes = sourceScopes(ctx, ctx.options.sources);
    return ctx.options.repos.flatMap((name) => {
      const repo = ctx.config.repositories[name];
      return repo
        ? [planResticCommand(ctx.config, repo, forgetArgs(forgetOptionsFor(ctx.options, scopes)))]
        : [];
    });
  },
  run: runForget,
});

/**
 * After a forget that could not delete everything: the snapshots of the step's scope that are still
 * there (snapshots_kept), which of restic's planned removals really went (snapshots_removed; unknown
 * when restic printed no plan, as 0.14 does when it fails) and which were refused.
 */
async function countAfterRefusal(
  host: ResticHost,
  repo: RepositoryConfig,
  scopes: SourceScope[],
  planned: ForgetOutput | null,
  list: typeof snapshotsCommand,
): Promise<Record<string, number | null>> {
  const after = await list(host, repo, scopeFilter(scopes));
  if (!after.outcome.ok) return { snapshots_removed: null };
  const present = new Set(after.snapshots.map((s) => s.id));
  const plannedRemovals = planned?.groups.flatMap((g) => g.remove) ?? null;
  const refused = plannedRemovals?.filter((s) => present.has(s.id)).length ?? null;
  return {
    snapshots_kept: after.snapshots.length,
    snapshots_removed: plannedRemovals === null ? null : plannedRemovals.length - (refused ?? 0),
    snapshots_refused: refused,
  };
}

async function runForget(ctx: StepContext<ForgetStepOptions>) {
  const { resticHostFromStep } = await import("./restic-host.js");
  const { detectRestic, forget, snapshots } = await import("../restic/commands.js");
  const opts = ctx.options;
  const host = resticHostFromStep(ctx);
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error) return { status: "failed" as const, error: restic.error };
  const scopes = sourceScopes(ctx, opts.sources);

  const runOne = async (repoName: string): Promise<TargetRecord> => {
    const repo = ctx.config.repositories[repoName];
    if (!repo)
      return {
        repo: repoName,
        status: "failed",
        duration_ms: null,
        error: stepError("config", `unknown repository "${repoName}"`, null),
      };
    // Never forget snapshots of a source whose backup failed or was guarded in this run (behavior.md).
    const allowed = scopes.filter((s) => !isSourceBlocked(ctx.runState, s.source, repoName));
    const blocked = scopes
      .filter((s) => isSourceBlocked(ctx.runState, s.source, repoName))
      .map((s) => s.source);
    if (blocked.length > 0) {
      ctx.log.warn(
        `${repoName}: not forgetting snapshots of ${blocked.join(", ")}: the backup failed or was stopped by its guard in this run`,
      );
    }
    if (allowed.length === 0) {
      return {
        repo: repoName,
        status: "skipped",
        duration_ms: null,
        error: null,
        reason: `source ${blocked.join(", ")} failed or was guarded in this run; its snapshots are left alone`,
        sources_skipped: blocked.join(","),
      };
    }
    const started = Date.now();
    const { outcome, output } = await forget(host, repo, forgetOptionsFor(opts, allowed));
    const durationMs = Date.now() - started;
    const skippedNote = blocked.length > 0 ? { sources_skipped: blocked.join(",") } : {};
    if (!outcome.ok || !output) {
      const error = outcome.error ?? stepError("exit_code", "restic forget failed", null);
      const status =
        error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
      // A refused delete (an append-only server: 0.18.0 exits 0 and lists the snapshot as removed, 0.14
      // exits 1): what is really gone is what the repository no longer lists.
      const truth =
        error.kind === "permission" || outcome.refusedFiles !== undefined
          ? await countAfterRefusal(host, repo, allowed, output, snapshots)
          : {};
      return {
        repo: repoName,
        status,
        duration_ms: Date.now() - started,
        error,
        exit_code: outcome.exitCode,
        ...truth,
        ...skippedNote,
      };
    }
    const kept = output.groups.reduce((n, g) => n + g.keep.length, 0);
    const removed = output.groups.flatMap((g) => g.remove);
    for (const g of output.groups) {
      const tags = g.tags.filter((t) => t.startsWith("source:")).join(",");
      ctx.log.info(
        `${repoName}: ${tags || "(no tags)"} on ${g.host}: keep ${g.keep.length}, remove ${g.remove.length}${g.remove.length ? ` (${g.remove.map((s) => s.shortId).join(" ")})` : ""}`,
      );
    }
    return {
      repo: repoName,
      status: "succeeded",
      duration_ms: durationMs,
      error: null,
      exit_code: outcome.exitCode,
      groups: output.groups.length,
      snapshots_kept: kept,
      snapshots_removed: removed.length,
      pruned: opts.prune && removed.length > 0,
      ...skippedNote,
    };
  };

  const targets = await Promise.all(opts.repos.map(runOne));
  const outcome = combineTargets(targets);
  return {
    ...outcome,
    summary: {
      sources: scopes.map((s) => s.source),
      snapshots_removed: targets.reduce(
        (n, t) => n + (typeof t.snapshots_removed === "number" ? t.snapshots_removed : 0),
        0,
      ),
    },
  };
}
