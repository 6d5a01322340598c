// `backup`: restic backup of a source into each of its repositories, the source guard first (paths,
// sentinels, min_files, max_shrink per repository), one sub-result per repository. The definition
// (options, references, restic requirements, plan, data flow); the runner is backup-run.ts.
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import type { SourceConfig } from "../config/types.js";
import { backupArgs, HOLDFAST_TAG, jobTag, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { backupOverlap } from "./overlaps.js";

// The record helpers are shared with the dump step's runner, which imports them from here.
export { skippedTarget, targetFor } from "./backup-targets.js";

const options = {
  source: nameSchema.describe("the source to back up (a name under sources)"),
  repos: z
    .array(nameSchema)
    .min(1, "name at least one repository")
    .describe("the repositories to back up into; each is its own sub-result"),
  tags: z
    .array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces"))
    .default([])
    .describe("restic tags added to holdfast's own (holdfast, source:NAME, job:NAME)"),
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .optional()
    .describe("the host name of the snapshots (default: the config's host)"),
  parallel: z.boolean().default(true).describe("back up into the repositories at the same time"),
  skip_if_unchanged: z
    .boolean()
    .default(false)
    .describe(
      "make no snapshot when nothing changed since the last one (restic 0.17+ --skip-if-unchanged); the step still succeeds, with skipped_unchanged: true",
    ),
  extra_args: z
    .array(z.string())
    .default([])
    .describe("more restic backup arguments, passed as written after holdfast's own"),
};
export type BackupOptions = z.output<z.ZodObject<typeof options>>;

export const backupStep = defineStepKind({
  type: "backup",
  summary: "restic backup of a source into each repository (guard first; one sub-result per repository)",
  options,
  references: (o) => [
    { path: ["source"], kind: "source", name: o.source },
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  ],
  resticRequires: (o) =>
    skipIfUnchangedPaths(o).map((path) => ({
      path,
      minVersion: SKIP_IF_UNCHANGED_SINCE,
      what:
        path[0] === "extra_args"
          ? "extra_args --skip-if-unchanged (skip_if_unchanged)"
          : "skip_if_unchanged (restic --skip-if-unchanged)",
      hint: "remove skip_if_unchanged from this step (a snapshot is then made every run; unchanged data adds almost nothing to the repository)",
    })),
  checkWithConfig: (o, config) => backupOverlap(config, o),
  dataFlow: {
    how: "backup",
    of: (o) => ({ source: o.source, repos: o.repos, ...(o.host !== undefined ? { host: o.host } : {}) }),
  },
  plan: (ctx) => {
    const source = ctx.config.sources[ctx.options.source];
    if (!source) return [`(unknown source ${ctx.options.source})`];
    const lines = [`guard ${ctx.options.source}: ${describeGuard(source)}`];
    for (const name of ctx.options.repos) {
      const repo = ctx.config.repositories[name];
      if (!repo) continue;
      const args = backupArgs(
        backupOptionsFor(ctx.options, source, ctx.options.host ?? ctx.host, ctx.job.name),
      );
      lines.push(planResticCommand(ctx.config, repo, args));
    }
    return lines;
  },
});

/** restic 0.17.0 added `backup --skip-if-unchanged`. */
export const SKIP_IF_UNCHANGED_SINCE = "0.17.0";

// `extra_args: [--skip-if-unchanged]` is the option written as a flag: holdfast treats it as
// skip_if_unchanged (its own flag, its version check, its record), so the two never disagree.
const isSkipFlag = (arg: string) => arg === "--skip-if-unchanged" || arg === "--skip-if-unchanged=true";

/** Where the step asks for --skip-if-unchanged: ["skip_if_unchanged"] and/or ["extra_args", i]. */
export function skipIfUnchangedPaths(o: BackupOptions): Array<Array<string | number>> {
  const paths: Array<Array<string | number>> = o.skip_if_unchanged ? [["skip_if_unchanged"]] : [];
  o.extra_args.forEach((arg, i) => {
    if (isSkipFlag(arg)) paths.push(["extra_args", i]);
  });
  return paths;
}

function describeGuard(source: SourceConfig): string {
  const parts = [`paths exist (${source.paths.join(", ")})`];
  if (source.guard.exists.length > 0) parts.push(`sentinels ${source.guard.exists.join(", ")}`);
  if (source.guard.min_files !== undefined) parts.push(`min_files ${source.guard.min_files}`);
  if (source.guard.max_shrink !== undefined)
    parts.push(`max_shrink ${source.guard.max_shrink} (restic stats of the last snapshot per repository)`);
  return parts.join("; ");
}

export function backupOptionsFor(opts: BackupOptions, source: SourceConfig, host: string, job: string) {
  return {
    paths: source.paths,
    tags: [HOLDFAST_TAG, sourceTag(source.name), jobTag(job), ...opts.tags],
    host,
    exclude: source.exclude,
    excludeIfPresent: source.exclude_if_present,
    excludeFile: source.exclude_file,
    oneFileSystem: source.one_file_system,
    skipIfUnchanged: skipIfUnchangedPaths(opts).length > 0,
    extraArgs: opts.extra_args.filter((arg) => !isSkipFlag(arg) && arg !== "--skip-if-unchanged=false"),
  };
}
