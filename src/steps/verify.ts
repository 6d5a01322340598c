import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { countOrPercentSchema, nameSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const verifyStep = defineStepKind({
  type: "verify",
  summary: "restore drill: reads a random sample of files back from the latest snapshot and compares them",
  options: {
    source: nameSchema,
    repos: z.array(nameSchema).min(1),
    sample: countOrPercentSchema.default({ count: 20 }),
    count_tolerance: countOrPercentSchema.default({ fraction: 0.01 }),
  },
  references: (o) => [
    { path: ["source"], kind: "source", name: o.source },
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  ],
  plan: (ctx) => ctx.options.repos.map((repo) => `restic -r <${repo}> ls/dump a sample of ${ctx.options.source}`),
  run: notBuilt("verify"),
});
