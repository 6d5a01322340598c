// Before a run and in `config validate`: refuse step options the installed restic does not have
// (steps/restic-requirements.ts) as a config error (exit 2) with the file position of each.
import type { Config } from "../config/types.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import { detectRestic } from "../restic/detect.js";
import {
  describeUnmetRequirement,
  listResticRequirements,
  unmetResticRequirements,
  type RequirementScope,
} from "../steps/restic-requirements.js";
import { cliResticEnv } from "./commands/restic-shared.js";

/**
 * The config's problems with the installed restic, as config issues. None when restic cannot be run
 * or its version is unknown: that is reported by the step (and by `holdfast doctor`), not here.
 */
export async function resticRequirementIssues(
  config: Config,
  scope: RequirementScope = {},
): Promise<ConfigIssue[]> {
  // No version to ask for when no option needs one (most configs): no `restic version` then.
  const requirements = listResticRequirements(config, scope);
  if (requirements.length === 0) return [];
  const restic = await detectRestic(config, cliResticEnv(config));
  if (restic.error || restic.version === null) return [];
  const version = restic.version;
  const unmet = unmetResticRequirements(requirements, version);
  if (unmet.length === 0) return [];
  const file = config.file ?? "(embedded config)";
  const { formatPath, positionsInConfigFile } = await import("../config/load.js");
  const positions = config.file
    ? positionsInConfigFile(
        config.file,
        unmet.map((u) => u.configPath),
      )
    : unmet.map(() => ({ line: 0, col: 0 }));
  return unmet.map((req, i) => ({
    file,
    ...(positions[i] ?? { line: 0, col: 0 }),
    path: formatPath(req.configPath),
    message: describeUnmetRequirement(req, version),
    hint: `upgrade restic to ${req.minVersion.replace(/\.0$/, "")}+ (or set restic.binary to a newer one), or ${req.hint}`,
  }));
}

/** Throws the ConfigError (exit 2) of resticRequirementIssues, when there is any. */
export async function refuseUnsupportedOptions(config: Config, scope: RequirementScope = {}): Promise<void> {
  const issues = await resticRequirementIssues(config, scope);
  if (issues.length > 0) throw new ConfigError(issues);
}
