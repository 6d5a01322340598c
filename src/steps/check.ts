// `check`: restic check of each repository, optionally reading back a subset of the data. The
// definition (options, references, plan); the runner is check-run.ts.
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { planResticCommand } from "../restic/plan.js";

const options = {
  repos: z.array(nameSchema).min(1).describe("the repositories to check"),
  read_data_subset: z
    .string()
    .regex(
      /^(\d+(\.\d+)?%|\d+\/\d+|\d+(\.\d+)?[KMGT]i?B?)$/,
      'use a percentage ("5%"), "n/m" or a size ("1GiB")',
    )
    .optional()
    .describe(
      'also read back this part of the data: "5%", "n/m" or a size ("1GiB") (restic --read-data-subset)',
    ),
};
type CheckOptions = z.output<z.ZodObject<typeof options>>;

const checkArgs = (o: CheckOptions) => [
  "check",
  ...(o.read_data_subset ? ["--read-data-subset", o.read_data_subset] : []),
];

export const checkStep = defineStepKind({
  type: "check",
  summary: "restic check, optionally reading a subset of the data",
  options,
  dataFlow: { how: "check", of: (o) => ({ repos: o.repos }) },
  references: (o) => o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  plan: (ctx) =>
    ctx.options.repos.flatMap((name) => {
      const repo = ctx.config.repositories[name];
      return repo ? [planResticCommand(ctx.config, repo, checkArgs(ctx.options))] : [];
    }),
});
