import { defineConfig } from "vitest/config";

// The main suite: unit tests beside the code, integration tests with real restic, rsync, git and
// servers on 127.0.0.1 under test/. The reliability and security suites have their own configs.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/reliability/**", "test/security/**", "node_modules/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
