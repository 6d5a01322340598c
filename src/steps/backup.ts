import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const backupStep = defineStepKind({
  type: "backup",
  summary: "restic backup of a source into each repository (guard first; one sub-result per repository)",
  options: {
    source: nameSchema,
    repos: z.array(nameSchema).min(1, "name at least one repository"),
    tags: z.array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces")).default([]),
    host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).optional(),
    parallel: z.boolean().default(true),
    extra_args: z.array(z.string()).default([]),
  },
  references: (o) => [
    { path: ["source"], kind: "source", name: o.source },
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  ],
  plan: (ctx) => ctx.options.repos.map((repo) => `restic -r <${repo}> backup --json (source ${ctx.options.source})`),
  run: notBuilt("backup"),
});
