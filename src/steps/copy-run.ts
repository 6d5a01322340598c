// `copy`'s runner: the latest snapshot of each source and host listed once in the from-repository
// (or every holdfast snapshot of the sources), then one restic copy per target repository, the
// copied snapshots recorded by their full ids. The definition is copy.ts.
import { defineStepRunner } from "../engine/step-kind.js";
import { stepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { HOLDFAST_TAG, sourceTag } from "../restic/args.js";
import { copy, detectRestic, resolveSnapshotIds, snapshots as listSnapshots } from "../restic/commands.js";
import { resticHostFromStep } from "./restic-host.js";
import { sourceScopes } from "./scope.js";
import { combineTargets } from "./targets.js";
import { copyStep } from "./copy.js";

export const copyRunner = defineStepRunner(copyStep, async (ctx) => {
  const opts = ctx.options;
  const host = resticHostFromStep(ctx);
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error) return { status: "failed" as const, error: restic.error };
  const from = ctx.config.repositories[opts.from];
  if (!from)
    return {
      status: "failed" as const,
      error: stepError("config", `unknown repository "${opts.from}"`, null),
    };
  const scopes = sourceScopes(ctx, opts.sources);
  const tags = scopes.map((s) => [HOLDFAST_TAG, sourceTag(s.source)]);

  let ids: string[] | null = null;
  if (opts.snapshots === "latest") {
    // One listing of the source repository, then one copy per target with the latest snapshot of
    // each source and host (cheaper than `copy latest` per source: each restic call costs a KDF).
    const listed = await listSnapshots(host, from, { tags });
    if (!listed.outcome.ok) {
      const error = listed.outcome.error ?? stepError("exit_code", "restic snapshots failed", null);
      return {
        status: "failed" as const,
        error: { ...error, message: `${opts.from}: ${error.message}` },
        exitCode: listed.outcome.exitCode,
        targets: opts.to.map((repo): TargetRecord => ({
          repo,
          status: "skipped",
          duration_ms: null,
          error: null,
        })),
      };
    }
    const latest = new Map<string, string>();
    for (const snap of listed.snapshots) {
      const source = snap.tags.find((t) => t.startsWith("source:")) ?? "";
      latest.set(`${source}\0${snap.hostname}`, snap.id); // sorted oldest first, so the last one wins
    }
    ids = [...latest.values()];
    ctx.log.info(
      `${opts.from}: ${ids.length} latest snapshot${ids.length === 1 ? "" : "s"} to copy (${listed.snapshots.length} holdfast snapshots of ${scopes.map((s) => s.source).join(", ")})`,
    );
    if (ids.length === 0) {
      return {
        status: "succeeded" as const,
        targets: opts.to.map((repo): TargetRecord => ({
          repo,
          status: "succeeded",
          duration_ms: 0,
          error: null,
          snapshots_copied: 0,
          snapshots_skipped: 0,
        })),
        summary: { from: opts.from, snapshots: 0 },
      };
    }
  }

  const runOne = async (repoName: string): Promise<TargetRecord> => {
    const to = ctx.config.repositories[repoName];
    if (!to)
      return {
        repo: repoName,
        status: "failed",
        duration_ms: null,
        error: stepError("config", `unknown repository "${repoName}"`, null),
      };
    const started = Date.now();
    const result = await copy(host, to, from, ids ? { snapshotIds: ids } : { filter: { tags } });
    // restic names the source snapshots by 8 characters: record them by their full ids, like the
    // backup that made them (the ids we asked for, or the source repository's own answer).
    const shorts = [...result.copied, ...result.skipped].map((c) => c.sourceId).filter((id) => id !== "?");
    const full = ids
      ? new Map(shorts.map((short) => [short, ids.find((id) => id.startsWith(short)) ?? short]))
      : await resolveSnapshotIds(host, from, shorts, { tags });
    const fullIds = [...new Set(shorts.map((short) => full.get(short) ?? short))];
    const durationMs = Date.now() - started;
    const figures = {
      exit_code: result.outcome.exitCode,
      snapshots_copied: result.copied.length,
      snapshots_skipped: result.skipped.length,
      // The source snapshots now in this repository (copied by this run or before it).
      snapshot_ids: fullIds,
      ...(fullIds.length === 1 && fullIds[0]
        ? { snapshot_id: fullIds[0], short_id: fullIds[0].slice(0, 8) }
        : {}),
    };
    if (result.outcome.ok)
      return { repo: repoName, status: "succeeded", duration_ms: durationMs, error: null, ...figures };
    const error = result.outcome.error ?? stepError("exit_code", "restic copy failed", null);
    const status =
      error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
    return { repo: repoName, status, duration_ms: durationMs, error, ...figures };
  };
  const targets = await Promise.all(opts.to.map(runOne));
  return { ...combineTargets(targets), summary: { from: opts.from, snapshots: opts.snapshots } };
});
