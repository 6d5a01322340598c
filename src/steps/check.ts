import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const checkStep = defineStepKind({
  type: "check",
  summary: "restic check, optionally reading a subset of the data",
  options: {
    repos: z.array(nameSchema).min(1),
    read_data_subset: z
      .string()
      .regex(/^(\d+(\.\d+)?%|\d+\/\d+|\d+(\.\d+)?[KMGT]i?B?)$/, 'use a percentage ("5%"), "n/m" or a size ("1GiB")')
      .optional(),
  },
  references: (o) => o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  plan: (ctx) =>
    ctx.options.repos.map(
      (repo) => `restic -r <${repo}> check${ctx.options.read_data_subset ? ` --read-data-subset ${ctx.options.read_data_subset}` : ""}`,
    ),
  run: notBuilt("check"),
});
