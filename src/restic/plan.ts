// `holdfast run --dry-run`: the exact restic command a step would run, as one shell-quoted line for
// a person to read (never executed). Only the variables that select the repository and its password
// are shown — they hold paths and commands, not secrets; env_file values are never read here.
import type { Config, RepositoryConfig } from "../config/types.js";
import { quoteArgv } from "../util/shell-quote.js";
import { resticCacheDir, selectorEnv } from "./repository.js";

export function planResticCommand(
  config: Config,
  repo: RepositoryConfig,
  args: readonly string[],
  extraEnv: Record<string, string> = {},
): string {
  let env: Record<string, string>;
  try {
    env = { ...selectorEnv(repo, ""), ...extraEnv };
  } catch (err) {
    return `(repository ${repo.name}: ${(err as Error).message})`;
  }
  env.RESTIC_CACHE_DIR = resticCacheDir(config);
  const global: string[] = [];
  if (repo.cacert !== undefined) global.push("--cacert", repo.cacert);
  for (const [key, value] of Object.entries(repo.options ?? {})) global.push("-o", `${key}=${value}`);
  if (repo.limit_upload !== undefined) global.push("--limit-upload", String(repo.limit_upload));
  if (repo.limit_download !== undefined) global.push("--limit-download", String(repo.limit_download));
  // The order of priorityPrefix (restic/priority.ts): ionice, then nice.
  const prefix: string[] = [];
  if (config.restic.ionice !== "none")
    prefix.push("ionice", ...(config.restic.ionice === "idle" ? ["-c3"] : ["-c2", "-n7"]));
  if (config.restic.nice !== null && config.restic.nice !== 0)
    prefix.push("nice", "-n", String(config.restic.nice));
  const envText = Object.entries(env).map(([k, v]) => `${k}=${quoteArgv([v])}`);
  const fileNote = repo.env_file !== undefined ? ` (+ variables from ${repo.env_file})` : "";
  return `${[...envText, quoteArgv([...prefix, config.restic.binary, ...global, ...args])].join(" ")}${fileNote}`;
}
