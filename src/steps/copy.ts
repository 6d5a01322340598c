import { z } from "zod";
import { defineStepKind, type StepContext } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { stepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { HOLDFAST_TAG, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { selectorEnv } from "../restic/repository.js";
import { sourceScopes } from "./scope.js";
import { combineTargets } from "./targets.js";

const options = {
  from: nameSchema.describe("the repository the snapshots are copied from"),
  to: z
    .array(nameSchema)
    .min(1, "name at least one target repository")
    .describe("the repositories they are copied into"),
  snapshots: z
    .enum(["latest", "all"])
    .default("latest")
    .describe("latest: the latest snapshot of each source; all: every snapshot holdfast made of them"),
  sources: z
    .array(nameSchema)
    .optional()
    .describe("only these sources' snapshots (default: the sources this job backs up, else every source)"),
};
type CopyOptions = z.output<z.ZodObject<typeof options>>;

export const copyStep = defineStepKind({
  type: "copy",
  summary: "restic copy of snapshots from one repository to others, without reading the source again",
  options,
  references: (o) => [
    { path: ["from"], kind: "repository", name: o.from },
    ...o.to.map((name, i) => ({ path: ["to", i], kind: "repository" as const, name })),
    ...(o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  ],
  dataFlow: {
    how: "copy",
    of: (o) => ({ from: o.from, repos: o.to, ...(o.sources !== undefined ? { sources: o.sources } : {}) }),
  },
  check: (o) =>
    o.to.includes(o.from)
      ? [{ path: ["to"], message: `cannot copy "${o.from}" into itself`, hint: "remove it from `to`" }]
      : [],
  plan: (ctx) => {
    const from = ctx.config.repositories[ctx.options.from];
    if (!from) return [];
    const scopes = sourceScopes(ctx, ctx.options.sources);
    const tagArgs = scopes.flatMap((s) => ["--tag", `${HOLDFAST_TAG},${sourceTag(s.source)}`]);
    const lines: string[] = [];
    if (ctx.options.snapshots === "latest") {
      lines.push(
        planResticCommand(ctx.config, from, ["snapshots", "--json", ...tagArgs]) +
          "   # latest per source and host",
      );
    }
    for (const name of ctx.options.to) {
      const to = ctx.config.repositories[name];
      if (!to) continue;
      const args = ctx.options.snapshots === "latest" ? ["copy", "<latest ids>"] : ["copy", ...tagArgs];
      let fromEnv: Record<string, string> = {};
      try {
        fromEnv = selectorEnv(from, "FROM_");
      } catch {
        /* shown by the run */
      }
      lines.push(planResticCommand(ctx.config, to, args, fromEnv));
    }
    return lines;
  },
  run: runCopy,
});

async function runCopy(ctx: StepContext<CopyOptions>) {
  const { resticHostFromStep } = await import("./restic-host.js");
  const {
    copy,
    detectRestic,
    resolveSnapshotIds,
    snapshots: listSnapshots,
  } = await import("../restic/commands.js");
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
}
