import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, pathSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const gitStep = defineStepKind({
  type: "git",
  summary: "inventory of git repositories, with bundles of work that exists nowhere else",
  options: {
    roots: z.array(pathSchema).min(1),
    exclude: z.array(z.string()).default([]),
    max_depth: boundedInt(64).default(8),
    output: pathSchema,
    bundle: z.enum(["none", "unpushed", "all"]).default("unpushed"),
  },
  plan: (ctx) => [`find git repositories under ${ctx.options.roots.join(", ")} → ${ctx.options.output}`],
  run: notBuilt("git"),
});
