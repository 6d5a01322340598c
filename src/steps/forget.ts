import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, nameSchema, resticDurationSchema } from "../config/values.js";
import { forgetArgs } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { sourceScopes, type SourceScope } from "./scope.js";
import type { Config } from "../config/types.js";
import { describeAdopt, sourceFilter } from "../sources/adopt.js";

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
// Retention groups are one source on one host (issue 17): one restic forget per source, grouped by
// host — so a second job backing the source up, a changed `tags:`, or the snapshots the source adopts
// from another tool are thinned together instead of each keeping its own `last N` forever. (restic's
// default host,paths would mix sources with equal paths; host,tags split them by job and tags.)
export const GROUP_BY = "host";

export type ForgetStepOptions = z.output<z.ZodObject<typeof options>>;

/** The restic filter of one source's retention group(s): holdfast's snapshots and the adopted ones. */
export function scopeFilter(config: Pick<Config, "sources">, scope: SourceScope) {
  const source = config.sources[scope.source];
  return sourceFilter(source ?? { name: scope.source }, scope.hosts);
}

/**
 * One source's forget. With several sources in a repository, each forget runs without --prune and one
 * `restic prune` follows (pruneApart): restic prunes only after a forget that removed something, and
 * pruning once is the expensive part.
 */
export function forgetOptionsFor(
  opts: ForgetStepOptions,
  config: Pick<Config, "sources">,
  scope: SourceScope,
  pruneApart: boolean,
) {
  return {
    keep: opts.keep,
    ...scopeFilter(config, scope),
    groupBy: GROUP_BY,
    prune: opts.prune && !pruneApart,
  };
}

export const forgetStep = defineStepKind({
  type: "forget",
  summary:
    "retention with restic forget, per source and host (holdfast's snapshots and those the source adopts), optionally prune",
  options,
  references: (o) => [
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
    ...(o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  ],
  plan: (ctx) => {
    const scopes = sourceScopes(ctx, ctx.options.sources);
    return ctx.options.repos.flatMap((name) => {
      const repo = ctx.config.repositories[name];
      if (!repo) return [];
      const apart = scopes.length > 1;
      const lines = scopes.map((scope) => {
        const source = ctx.config.sources[scope.source];
        const adopted = source?.adopt ? ` and the snapshots it adopts (${describeAdopt(source)})` : "";
        const args = forgetArgs(forgetOptionsFor(ctx.options, ctx.config, scope, apart));
        return `${planResticCommand(ctx.config, repo, args)}   # source ${scope.source}${adopted}, per host`;
      });
      if (apart && ctx.options.prune)
        lines.push(
          `${planResticCommand(ctx.config, repo, ["prune"])}   # once, when a forget removed snapshots`,
        );
      return lines;
    });
  },
});
