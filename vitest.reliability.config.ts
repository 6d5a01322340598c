import { defineConfig } from "vitest/config";
import { RELIABILITY_RESTIC_FREE, resticProjects } from "./test/helpers/restic-projects.js";

// The reliability suite (targets.md R1–R8): fault injection with real processes. `npm run test:reliability`.
// Every file with restic 0.14, then the restic-running ones with restic 0.18 — one pass after the
// other, one file at a time, so kills and timings never share the machine with the other pass.
export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
    // R8 samples memory after an explicit GC, so growth means retained objects, not garbage.
    execArgv: ["--expose-gc"],
    projects: resticProjects({
      include: ["test/reliability/**/*.test.ts"],
      runsRestic: ["test/reliability/**/*.test.ts"],
      resticFree: RELIABILITY_RESTIC_FREE,
      oneAfterTheOther: true,
    }),
  },
});
