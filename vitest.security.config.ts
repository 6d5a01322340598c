import { defineConfig } from "vitest/config";

// The security suite (targets.md S1–S5): planted secrets, file modes, no shell, hostile values. `npm run test:security`.
export default defineConfig({
  test: {
    include: ["test/security/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
