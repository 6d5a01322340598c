// `copy`: restic copy of snapshots from one repository into others, without reading the source again.
// The definition (options, references, checks, plan, data flow); the runner is copy-run.ts.
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { HOLDFAST_TAG, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { selectorEnv } from "../restic/repository.js";
import { sourceScopes } from "./scope.js";

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
export type CopyOptions = z.output<z.ZodObject<typeof options>>;

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
});
