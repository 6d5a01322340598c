import { z } from "zod";
import { defineStepKind, type StepContext } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { stepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { planResticCommand } from "../restic/plan.js";
import { combineTargets } from "./targets.js";

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
  references: (o) => o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  plan: (ctx) =>
    ctx.options.repos.flatMap((name) => {
      const repo = ctx.config.repositories[name];
      return repo ? [planResticCommand(ctx.config, repo, checkArgs(ctx.options))] : [];
    }),
  run: runCheck,
});

async function runCheck(ctx: StepContext<CheckOptions>) {
  const { resticHostFromStep } = await import("./restic-host.js");
  const { check, detectRestic } = await import("../restic/commands.js");
  const host = resticHostFromStep(ctx);
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error) return { status: "failed" as const, error: restic.error };

  const runOne = async (repoName: string): Promise<TargetRecord> => {
    const repo = ctx.config.repositories[repoName];
    if (!repo)
      return {
        repo: repoName,
        status: "failed",
        duration_ms: null,
        error: stepError("config", `unknown repository "${repoName}"`, null),
      };
    const started = Date.now();
    const { outcome, output } = await check(host, repo, { readDataSubset: ctx.options.read_data_subset });
    const durationMs = Date.now() - started;
    const figures = {
      exit_code: outcome.exitCode,
      errors: output.errors,
      // 0.18+ (`check --json`): the damaged packs by id; `restic repair packs …` is in the error's hint.
      ...(output.brokenPacks.length > 0 ? { broken_packs: output.brokenPacks } : {}),
      ...(ctx.options.read_data_subset ? { read_data_subset: ctx.options.read_data_subset } : {}),
      ...(output.suggestPrune ? { suggest_prune: true } : {}),
    };
    if (output.suggestPrune)
      ctx.log.warn(`${repoName}: restic found unreferenced data (non-critical); a prune would remove it`);
    if (outcome.ok)
      return { repo: repoName, status: "succeeded", duration_ms: durationMs, error: null, ...figures };
    const error = outcome.error ?? stepError("exit_code", "restic check failed", null);
    const status =
      error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
    return { repo: repoName, status, duration_ms: durationMs, error, ...figures };
  };

  const targets = await Promise.all(ctx.options.repos.map(runOne));
  return combineTargets(targets);
}
