// `forget`'s runner: in each repository, one restic forget per source (grouped by host: a source on
// a host is one retention group, its adopted snapshots included), then one prune when several sources
// shared the repository. Never the snapshots of a source whose backup failed or was guarded in this
// run (behavior.md). Each group is logged as what it is: the source, the host, how many of its
// snapshots are holdfast's and how many adopted, and what was kept and removed.
import { defineStepRunner, isSourceBlocked } from "../engine/step-kind.js";
import { stepError, type StepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/host.js";
import type { RepositoryConfig } from "../config/types.js";
import type { snapshots as snapshotsCommand } from "../restic/commands.js";
import type { ForgetGroup, ForgetOutput } from "../restic/outputs.js";
import { describeAdopt } from "../sources/adopt.js";
import { forgetOptionsFor, forgetStep, scopeFilter } from "./forget.js";
import type { SourceScope } from "./scope.js";
import { sourceScopes } from "./scope.js";
import { combineTargets } from "./targets.js";

/**
 * After a forget that could not delete everything: the snapshots of the source that are still there
 * (snapshots_kept), which of restic's planned removals really went (snapshots_removed; unknown when
 * restic printed no plan, as 0.14 does when it fails) and which were refused.
 */
async function countAfterRefusal(
  host: ResticHost,
  repo: RepositoryConfig,
  filter: ReturnType<typeof scopeFilter>,
  planned: ForgetOutput | null,
  list: typeof snapshotsCommand,
): Promise<Record<string, number | null>> {
  const after = await list(host, repo, filter);
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

const isHoldfasts = (s: { tags: string[] }) => s.tags.includes("holdfast");

/** "source home on vm: 3 of holdfast's + 5 adopted (tags ar:location:home): keep 2, remove 6 (…)". */
export function describeGroup(repo: string, source: string, adopt: string | null, g: ForgetGroup): string {
  const all = [...g.keep, ...g.remove];
  const own = all.filter(isHoldfasts).length;
  const adopted = all.length - own;
  const what = adopt ? `${own} of holdfast's + ${adopted} adopted (${adopt})` : `${own} snapshots`;
  const removed = g.remove.length ? ` (${g.remove.map((s) => s.shortId).join(" ")})` : "";
  return `${repo}: source ${source} on ${g.host}: ${what}: keep ${g.keep.length}, remove ${g.remove.length}${removed}`;
}

export const forgetRunner = defineStepRunner(forgetStep, async (ctx) => {
  const { resticHostFromStep } = await import("./restic-host.js");
  const { detectRestic, forget, prune, snapshots } = await import("../restic/commands.js");
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
    const skippedNote = blocked.length > 0 ? { sources_skipped: blocked.join(",") } : {};
    const apart = allowed.length > 1;
    let groups = 0;
    let kept = 0;
    let removed = 0;
    let adoptedRemoved = 0;
    let exitCode: number | null = 0;
    for (const scope of allowed) {
      const source = ctx.config.sources[scope.source];
      const adopt = source?.adopt ? describeAdopt(source) : null;
      const { outcome, output } = await forget(host, repo, forgetOptionsFor(opts, ctx.config, scope, apart));
      exitCode = outcome.exitCode;
      if (!outcome.ok || !output) {
        const error: StepError = outcome.error ?? stepError("exit_code", "restic forget failed", null);
        const status =
          error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
        // A refused delete (an append-only server: 0.18.0 exits 0 and lists the snapshot as removed, 0.14
        // exits 1): what is really gone is what the repository no longer lists.
        const truth =
          error.kind === "permission" || outcome.refusedFiles !== undefined
            ? await countAfterRefusal(host, repo, scopeFilter(ctx.config, scope), output, snapshots)
            : {};
        return {
          repo: repoName,
          status,
          duration_ms: Date.now() - started,
          error: { ...error, message: `source ${scope.source}: ${error.message}` },
          exit_code: outcome.exitCode,
          ...truth,
          ...skippedNote,
        };
      }
      for (const g of output.groups) {
        ctx.log.info(describeGroup(repoName, scope.source, adopt, g));
        groups++;
        kept += g.keep.length;
        removed += g.remove.length;
        adoptedRemoved += g.remove.filter((s) => !isHoldfasts(s)).length;
      }
      if (output.groups.length === 0)
        ctx.log.info(
          `${repoName}: source ${scope.source}: no snapshots${adopt ? ` (none of holdfast's, none adopted: ${adopt})` : ""}`,
        );
    }
    if (apart && opts.prune && removed > 0) {
      const outcome = await prune(host, repo);
      exitCode = outcome.exitCode;
      if (!outcome.ok) {
        return {
          repo: repoName,
          status: outcome.error?.kind === "cancelled" ? "cancelled" : "failed",
          duration_ms: Date.now() - started,
          error: outcome.error ?? stepError("exit_code", "restic prune failed", null),
          exit_code: outcome.exitCode,
          snapshots_kept: kept,
          snapshots_removed: removed,
          ...skippedNote,
        };
      }
    }
    return {
      repo: repoName,
      status: "succeeded",
      duration_ms: Date.now() - started,
      error: null,
      exit_code: exitCode,
      groups,
      snapshots_kept: kept,
      snapshots_removed: removed,
      ...(adoptedRemoved > 0 ? { adopted_removed: adoptedRemoved } : {}),
      pruned: opts.prune && removed > 0,
      ...skippedNote,
    };
  };

  const targets = await Promise.all(opts.repos.map(runOne));
  const outcome = combineTargets(targets);
  return {
    ...outcome,
    summary: {
      sources: scopes.map((s: SourceScope) => s.source),
      snapshots_removed: targets.reduce(
        (n, t) => n + (typeof t.snapshots_removed === "number" ? t.snapshots_removed : 0),
        0,
      ),
    },
  };
});
