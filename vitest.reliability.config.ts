import { defineConfig } from "vitest/config";

// The reliability suite (targets.md R1–R8): fault injection with real processes. `npm run test:reliability`.
export default defineConfig({
  test: {
    include: ["test/reliability/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
    // R8 samples memory after an explicit GC, so growth means retained objects, not garbage.
    execArgv: ["--expose-gc"],
  },
});
