// The embedded defaults: what `holdfast run` uses when there is no config file at all, so the
// README's quickstart works on a fresh machine with nothing written by hand. The job "main" is the
// seed's hello step followed by a real restic backup of a small sample folder into a local
// repository — all under the state dir. `holdfast run` prepares these (sample files, a 0600
// password file, `restic init`) before the first run; see src/cli/quickstart.ts.
import path from "node:path";
import { defaultStateDir, finishConfig } from "./load.js";
import type { Config } from "./types.js";
// Parsed with the schema of the built-in kinds, from the composition root.
import { configSchemas } from "../registry.js";

export const EMBEDDED_JOB = "main";
export const EMBEDDED_REPOSITORY = "local";
export const EMBEDDED_SOURCE = "sample";

/** Where the quickstart keeps its sample folder, password and repository (under the state dir). */
export function quickstartPaths(stateDir: string) {
  const base = path.join(stateDir, "quickstart");
  return {
    base,
    sample: path.join(base, "sample"),
    secrets: path.join(base, "secrets"),
    passwordFile: path.join(base, "secrets", "local.pass"),
    repository: path.join(base, "repo"),
  };
}

export function embeddedDefaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const paths = quickstartPaths(defaultStateDir(env));
  const raw = configSchemas().configSchema.parse({
    version: 1,
    repositories: {
      [EMBEDDED_REPOSITORY]: { url: paths.repository, password_file: paths.passwordFile },
    },
    sources: {
      [EMBEDDED_SOURCE]: { paths: [paths.sample], guard: { exists: [], min_files: 1 } },
    },
    jobs: {
      [EMBEDDED_JOB]: {
        description: "the quickstart job: the seed's hello step, then a restic backup of a sample folder",
        max_age: "26h",
        steps: [
          { name: "hello", type: "exec", command: ["echo", "hello from holdfast"] },
          { name: "backup", type: "backup", source: EMBEDDED_SOURCE, repos: [EMBEDDED_REPOSITORY] },
        ],
      },
    },
  });
  return finishConfig(raw, null, env);
}
