// The two restic passes of every suite (imported by the three vitest configs): a vitest project per
// restic version. The 0.14 pass runs every file of the suite with Debian 12's /usr/bin/restic; the
// 0.18 pass runs the files that run restic again, with Debian trixie's restic 0.18 first on PATH
// (scripts/setup.sh installs it) and HOLDFAST_TEST_RESTIC=0.18. Tests read the version's
// differences from test/helpers/restic-version.ts, never from the environment directly.
import path from "node:path";
import type { TestProjectInlineConfiguration } from "vitest/config";

/** Where scripts/setup.sh puts restic 0.18 (HOLDFAST_RESTIC18_ROOT moves it, for both). */
export const RESTIC_018_BIN_DIR = path.join(
  process.env.HOLDFAST_RESTIC18_ROOT ?? "/opt/holdfast-tools/restic-0.18",
  "usr/bin",
);

export interface SuiteFiles {
  /** Every test file of the suite (run with restic 0.14). */
  include: string[];
  exclude?: string[];
  /**
   * The files that run restic — restic itself, or the CLI with restic steps — and so run a second
   * time with 0.18. A file that never starts restic passes or fails the same way under both, so it
   * runs once. test/restic-passes.test.ts checks that no restic-running file is missing here.
   */
  runsRestic: string[];
  /** Files matched by runsRestic that never start restic (left out of the 0.18 pass). */
  resticFree?: string[];
  /** Run the 0.18 pass after the 0.14 pass instead of beside it (timing-sensitive suites). */
  oneAfterTheOther?: boolean;
}

export function resticProjects(files: SuiteFiles): TestProjectInlineConfiguration[] {
  const exclude = [...(files.exclude ?? []), "node_modules/**", "dist/**"];
  return [
    {
      extends: true,
      test: {
        name: "restic-0.14",
        include: files.include,
        exclude,
        env: { HOLDFAST_TEST_RESTIC: "0.14" },
        setupFiles: ["test/helpers/restic-version-setup.ts"],
        sequence: { groupOrder: 0 },
      },
    },
    {
      extends: true,
      test: {
        name: "restic-0.18",
        include: files.runsRestic,
        exclude: [...exclude, ...(files.resticFree ?? [])],
        env: {
          HOLDFAST_TEST_RESTIC: "0.18",
          PATH: `${RESTIC_018_BIN_DIR}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`,
        },
        setupFiles: ["test/helpers/restic-version-setup.ts"],
        sequence: { groupOrder: files.oneAfterTheOther ? 1 : 0 },
      },
    },
  ];
}

/** The main suite's restic-running files (shared with test/restic-passes.test.ts). */
export const MAIN_SUITE_RUNS_RESTIC = [
  "test/restic/**/*.test.ts",
  "test/steps/verify.test.ts",
  "test/e2e/**/*.test.ts",
  "test/dump/**/*.test.ts",
  "test/metrics/metrics-restic.test.ts",
  "test/server/restic-*.test.ts",
  "test/import/**/*.test.ts",
  "test/fleet/least-privilege.test.ts",
  "test/fleet/liveness.test.ts",
];
// Reliability and security: every file runs in both passes except these, which never start restic
// (a new file runs twice until someone lists it here; test/restic-passes.test.ts checks the list).
export const RELIABILITY_RESTIC_FREE = [
  "test/reliability/r5-malformed-configs.test.ts",
  "test/reliability/r7-disk-full.test.ts",
  "test/reliability/r8-soak.test.ts",
  "test/reliability/r11-clock-steps.test.ts",
];
export const SECURITY_RESTIC_FREE = [
  "test/security/s4-dashboard.test.ts",
  "test/security/s10-notifier-answers.test.ts",
  "test/security/s9-env-secrets.test.ts",
  "test/security/s1-import-secrets.test.ts",
  "test/security/s9-dump-args-passwords.test.ts",
  "test/security/s5-prototype-names.test.ts",
];
