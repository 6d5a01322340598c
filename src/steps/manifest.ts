import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, nameSchema, pathSchema, percentSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const manifestStep = defineStepKind({
  type: "manifest",
  summary: "manifest of file trees with a diff against the previous one and an anomaly guard",
  options: {
    sources: z.array(nameSchema).optional(),
    paths: z.array(pathSchema).optional(),
    output: pathSchema,
    hash: z.union([z.literal(false), z.literal("sha256")]).default(false),
    keep: boundedInt(10_000).default(7),
    max_removed: percentSchema.optional(),
    max_changed: percentSchema.optional(),
    exclude: z.array(z.string()).default([]),
  },
  check: (o) =>
    (o.sources?.length ?? 0) + (o.paths?.length ?? 0) === 0
      ? [{ path: [], message: "a manifest needs `sources` or `paths`", hint: "add sources: [NAME] or paths: [/dir]" }]
      : [],
  references: (o) => (o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  plan: (ctx) => [`walk ${[...(ctx.options.sources ?? []), ...(ctx.options.paths ?? [])].join(", ")} → ${ctx.options.output}`],
  run: notBuilt("manifest"),
});
