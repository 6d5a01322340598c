// `check`'s runner: restic check of each repository in parallel; the errors it printed, the damaged
// packs (0.18+) and its prune suggestion go into each repository's sub-result. The definition is
// check.ts.
import { defineStepRunner } from "../engine/step-kind.js";
import { stepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { check, detectRestic } from "../restic/commands.js";
import { resticHostFromStep } from "./restic-host.js";
import { combineTargets } from "./targets.js";
import { checkStep } from "./check.js";

export const checkRunner = defineStepRunner(checkStep, async (ctx) => {
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
});
