// `manifest`: the seed's gen-manifest. Walks the sources' paths (with their excludes) and `paths`,
// writes a compressed, sorted, line-per-entry manifest atomically, diffs it against the last good
// one, and fails with kind `anomaly` when more than max_removed / max_changed of the files went away
// or changed — so with on_failure: stop the backups after it never see the damage.
// The definition (options, checks, references, plan); the runner is manifest-run.ts.
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, excludePatternSchema, nameSchema, pathSchema, percentSchema } from "../config/values.js";

export const LATEST_FILE = "latest";

const manifestOptions = {
  sources: z.array(nameSchema).optional().describe("the sources whose paths (and rules) are walked"),
  paths: z.array(pathSchema).optional().describe("paths walked besides, or instead of, sources"),
  output: pathSchema.describe("the directory the manifests and their diffs are written to"),
  hash: z
    .union([z.literal(false), z.literal("sha256")])
    .default(false)
    .describe("false, or sha256 to hash every file (slower; finds changes that keep size and mtime)"),
  keep: boundedInt(10_000)
    .min(1, "keep at least 1 manifest")
    .default(7)
    .describe("how many manifests (and diffs) are kept"),
  max_removed: percentSchema
    .optional()
    .describe("fail when more than this share of the files was removed since the last manifest"),
  max_changed: percentSchema
    .optional()
    .describe("fail when more than this share of the files changed since the last manifest"),
  exclude: z.array(excludePatternSchema).default([]).describe("paths left out of the walk"),
};

export type ManifestOptions = z.output<z.ZodObject<typeof manifestOptions>>;

export const manifestStep = defineStepKind({
  type: "manifest",
  summary: "manifest of file trees with a diff against the previous one and an anomaly guard",
  options: manifestOptions,
  check: (o) =>
    (o.sources?.length ?? 0) + (o.paths?.length ?? 0) === 0
      ? [
          {
            path: [],
            message: "a manifest needs `sources` or `paths`",
            hint: "add sources: [NAME] or paths: [/dir]",
          },
        ]
      : [],
  references: (o) =>
    (o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  plan: (ctx) => [
    `walk ${[...(ctx.options.sources ?? []), ...(ctx.options.paths ?? [])].join(", ")} → ${ctx.options.output}` +
      `${ctx.options.hash ? " (sha256)" : ""}`,
  ],
});
