// Options that need a newer restic than some users run. restic 0.14 (Debian 12) rejects an unknown
// flag only when the step runs — at 03:00, after the guard and maybe after other steps — so the
// config is refused up front instead: `config validate` and `run` ask each step kind what its options
// need and compare it with the restic that is installed.
import type { Config } from "../config/types.js";
import type { ResticRequirement } from "../engine/step-kind.js";
import { versionAtLeast, type ResticVersion } from "../restic/version.js";
import { findStepKind } from "../registry.js";

export interface UnmetRequirement extends ResticRequirement {
  job: string;
  step: string;
  /** Path from the config's root: ["jobs", "nightly", "steps", 2, "skip_if_unchanged"]. */
  configPath: Array<string | number>;
}

/** Which steps to look at: one job (and some of its steps) for a run; every job by default. */
export interface RequirementScope {
  job?: string;
  steps?: readonly string[];
}

/** Every step option in scope that needs some restic version. */
export function listResticRequirements(config: Config, scope: RequirementScope = {}): UnmetRequirement[] {
  const out: UnmetRequirement[] = [];
  for (const job of Object.values(config.jobs)) {
    if (scope.job !== undefined && job.name !== scope.job) continue;
    job.steps.forEach((step, index) => {
      if (scope.steps !== undefined && !scope.steps.includes(step.name)) return;
      const kind = findStepKind(step.type);
      for (const req of kind?.resticRequires?.(step) ?? []) {
        out.push({
          ...req,
          job: job.name,
          step: step.name,
          configPath: ["jobs", job.name, "steps", index, ...req.path],
        });
      }
    });
  }
  return out;
}

/** The step options the given restic does not have. An unknown version is not judged (null → none). */
export function unmetResticRequirements(
  requirements: readonly UnmetRequirement[],
  version: ResticVersion | null,
): UnmetRequirement[] {
  if (version === null) return [];
  return requirements.filter((req) => !versionAtLeast(version, req.minVersion));
}

/** The message of an unmet requirement: what needs which restic, and what is installed. */
export function describeUnmetRequirement(req: UnmetRequirement, version: ResticVersion): string {
  return `${req.what} needs restic ${req.minVersion.replace(/\.0$/, "")} or newer; the configured restic is ${version.text}`;
}
