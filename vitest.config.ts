import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { MAIN_SUITE_RUNS_RESTIC, resticProjects } from "./test/helpers/restic-projects.js";

// The main suite: unit tests beside the code, integration tests with real restic, rsync, git and
// servers on 127.0.0.1 under test/. The reliability and security suites have their own configs.
// Two projects: every file with restic 0.14, the restic-running files again with restic 0.18
// (`--project restic-0.14` / `--project restic-0.18` runs one pass).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest's default is one worker per CPU minus one: a single worker on a 2-core CI machine, and
    // most of these files wait on restic, rsync, servers and timeouts rather than compute. Two
    // workers overlap those waits.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: resticProjects({
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      exclude: ["test/reliability/**", "test/security/**"],
      runsRestic: MAIN_SUITE_RUNS_RESTIC,
    }),
  },
});
