import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { resticProjects, SECURITY_RESTIC_FREE } from "./test/helpers/restic-projects.js";

// The security suite (targets.md S1–S5): planted secrets, file modes, no shell, hostile values. `npm run test:security`.
// Every file with restic 0.14, the restic-running ones again with restic 0.18.
export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
    // vitest's default is one worker per CPU minus one: a single worker on a 2-core CI machine, and
    // most of these files wait on restic, rsync, servers and timeouts rather than compute. Two
    // workers overlap those waits.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: resticProjects({
      include: ["test/security/**/*.test.ts"],
      runsRestic: ["test/security/**/*.test.ts"],
      resticFree: SECURITY_RESTIC_FREE,
    }),
  },
});
