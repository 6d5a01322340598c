import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, nameSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const keepSchema = z
  .strictObject({
    last: boundedInt(100_000).optional(),
    hourly: boundedInt(100_000).optional(),
    daily: boundedInt(100_000).optional(),
    weekly: boundedInt(100_000).optional(),
    monthly: boundedInt(100_000).optional(),
    yearly: boundedInt(100_000).optional(),
    within: z.string().regex(/^(\d+[yMwdh])+$/, 'restic duration such as "30d" or "1y6M"').optional(),
  })
  .refine((k) => Object.values(k).some((v) => v !== undefined), {
    message: "a keep policy needs at least one rule",
  });

export const forgetStep = defineStepKind({
  type: "forget",
  summary: "retention with restic forget (scoped to holdfast's own snapshots), optionally prune",
  options: {
    repos: z.array(nameSchema).min(1),
    keep: keepSchema,
    prune: z.boolean().default(false),
    sources: z.array(nameSchema).optional(),
  },
  references: (o) => [
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
    ...(o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  ],
  plan: (ctx) => ctx.options.repos.map((repo) => `restic -r <${repo}> forget --json --tag holdfast …${ctx.options.prune ? " --prune" : ""}`),
  run: notBuilt("forget"),
});
