// `git`: the seed's grepped-gitrepos. Finds the repositories below `roots`, records for each what a
// restore would need to know (branch, HEAD, remotes, uncommitted and unpushed work, stashes), writes the
// inventory atomically, and bundles the work that exists nowhere else, each bundle checked with
// `git bundle verify`. Three or four git calls per repository, a few repositories at a time.
// The definition (options, plan); the runner is git-run.ts.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { boundedInt, excludePatternSchema, pathSchema } from "../config/values.js";

const gitOptions = {
  roots: z.array(pathSchema).min(1).describe("the directories searched for git repositories"),
  exclude: z.array(excludePatternSchema).default([]).describe("paths left out of the search"),
  max_depth: boundedInt(64).default(8).describe("how many directory levels below a root are searched"),
  output: pathSchema.describe("the directory the inventory and the bundles are written to"),
  bundle: z
    .enum(["none", "unpushed", "all"])
    .default("unpushed")
    .describe("which repositories get a git bundle: none, unpushed (work that is on no remote), all"),
};

export type GitOptions = z.output<z.ZodObject<typeof gitOptions>>;

export const BUNDLE_DIR = "bundles";
export const CONCURRENCY = Math.min(4, Math.max(2, os.availableParallelism()));

export const gitStep = defineStepKind({
  type: "git",
  summary: "inventory of git repositories, with bundles of work that exists nowhere else",
  tools: [
    { tool: "git", versionArgs: ["--version"], hint: "install git (apt install git); git steps need it" },
  ],
  options: gitOptions,
  plan: (ctx) => [
    `find git repositories under ${ctx.options.roots.join(", ")} (max depth ${ctx.options.max_depth})`,
    `per repository: git status --porcelain=v2 --branch --show-stash; git for-each-ref; git config --get-regexp remote; git rev-list --parents --branches --not --remotes`,
    `write ${path.join(ctx.options.output, "inventory.json")} and inventory.txt` +
      (ctx.options.bundle === "none"
        ? ""
        : `; git bundle create (${ctx.options.bundle}) → ${path.join(ctx.options.output, BUNDLE_DIR)}/`),
  ],
});
