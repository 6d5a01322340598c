// The restic version a test runs against, and every difference between the versions as the tests
// see them — the ONE place for them. Tests ask `resticUnderTest` (or skip with `requireRestic`),
// never `process.env.HOLDFAST_TEST_RESTIC` or `if (version …)` of their own.
//
// The vitest projects (test/helpers/restic-projects.ts) run each suite with restic 0.14 (Debian 12's
// /usr/bin/restic, HOLDFAST_TEST_RESTIC unset or "0.14") and again with restic 0.18 (Debian trixie's,
// first on PATH, HOLDFAST_TEST_RESTIC=0.18). The facts below were measured with 0.14.0 and 0.18.0
// (/work/shared/spec/restic-notes.md §2, §9; recorded in test/fixtures/restic/0.14.0/ and 0.18.0/).
import { spawnSync } from "node:child_process";
import type { TestContext } from "vitest";

export type TestedRestic = "0.14" | "0.18";

function selected(): TestedRestic {
  const value = process.env.HOLDFAST_TEST_RESTIC ?? "0.14";
  if (value !== "0.14" && value !== "0.18") {
    throw new Error(`HOLDFAST_TEST_RESTIC=${value}: the tests know restic "0.14" and "0.18"`);
  }
  return value;
}

/** What a feature needs: the first version that has it. */
const FEATURE_SINCE = {
  /** `snapshot_id` of the backup summary is the full 64-hex id (8 characters before). */
  fullSnapshotIdFromBackup: "0.15",
  /** `copy` prints "skipping source snapshot …, was already copied" only with -v. */
  copySkipNeedsVerbose: "0.15",
  /**
   * forget keeps the oldest snapshot too when a --keep-daily/weekly/… count is not filled (restic
   * PR #4366): all snapshots of one day under keep-daily 14 keep 2, not 1.
   */
  keepsOldestOfUnfilledBucket: "0.16",
  /** `--retry-lock DURATION` on every command that locks. */
  retryLock: "0.16",
  /** `program_version` in `snapshots --json`. */
  programVersion: "0.16",
  /** `restore --json` prints status/summary lines. */
  restoreJson: "0.16",
  /** `data_added_packed` (the bytes added, after compression) in the backup summary. */
  dataAddedPacked: "0.17",
  /** `backup --skip-if-unchanged`. */
  skipIfUnchanged: "0.17",
  /** `backup --stdin-from-command` (restic runs the program and sees its exit status). */
  stdinFromCommand: "0.17",
  /** Exit codes 10 (no repository), 11 (locked), 12 (wrong password). */
  exitCodes10to12: "0.17",
  /** SIGTERM shuts restic down cleanly (lock removed). */
  cleanSigterm: "0.17",
  /** Backend errors (refused connection, unknown CA) are retried for up to 15 minutes. */
  fifteenMinuteBackendRetry: "0.17",
  /** `{"message_type":"exit_error",…}` on stderr with --json. */
  exitErrorJson: "0.18",
  /** `check --json` prints a summary (num_errors, broken_packs, …). */
  checkJson: "0.18",
  /** `backup_start` / `backup_end` in the backup summary. */
  backupStartEnd: "0.18",
} as const;
export type ResticFeature = keyof typeof FEATURE_SINCE;

function atLeast(version: TestedRestic, since: string): boolean {
  const [a = 0, b = 0] = version.split(".").map(Number);
  const [c = 0, d = 0] = since.split(".").map(Number);
  return a > c || (a === c && b >= d);
}

function describeVersion(version: TestedRestic) {
  const v14 = version === "0.14";
  const has = (feature: ResticFeature) => atLeast(version, FEATURE_SINCE[feature]);
  return {
    version,
    label: `restic ${version}`,
    has,
    exitCodes: {
      repositoryMissing: v14 ? 1 : 10,
      locked: v14 ? 1 : 11,
      wrongPassword: v14 ? 1 : 12,
      /** `ls` of an id that matches no snapshot. */
      lsUnknownId: v14 ? 0 : 1,
      /** restic after a SIGINT during a backup (0.18 exits 1, 0.14 130). */
      afterSigint: v14 ? 130 : 1,
    },
    /** How restic ends on SIGTERM: 0.14 dies of the signal and leaves its lock; 0.18 exits 1 cleanly. */
    sigterm: v14
      ? ({ exitCode: null, signal: "SIGTERM", leavesLock: true } as const)
      : ({ exitCode: 1, signal: null, leavesLock: false } as const),
    /** forget on a server that refuses deletes (append-only REST, 403). */
    refusedDelete: v14
      ? { exitCode: 1, retriesForMs: 45_000, printsJson: false }
      : { exitCode: 0, retriesForMs: 0, printsJson: true },
    /** How long restic keeps retrying an unreachable backend before it gives up on its own. */
    unreachableBackendRetryMs: v14 ? 0 : 15 * 60_000,
    /** Length of the backup summary's `snapshot_id`. */
    backupSnapshotIdLength: v14 ? 8 : 64,
    /** restic's own texts (stderr) where they differ. */
    messages: {
      emptyPassword: v14
        ? "an empty password is not a password"
        : "an empty password is not allowed by default",
      allSourcesMissing: v14
        ? "all target directories/files do not exist"
        : "all source directories/files do not exist",
      lsUnknownId: v14 ? "no matching ID found" : "no matching ID found for prefix",
      /** The lock conflict line (same text in both). */
      locked: "repository is already locked",
    },
  };
}

export type ResticUnderTest = ReturnType<typeof describeVersion>;

/** The restic of this test pass. */
export const resticUnderTest: ResticUnderTest = describeVersion(selected());

/** The same facts for a given version (tests that compare the versions' fixtures). */
export function resticFacts(version: TestedRestic): ResticUnderTest {
  return describeVersion(version);
}

/**
 * Skips the running test, with a reason the reporter shows, when this pass's restic lacks FEATURE:
 * `requireRestic(ctx, "skipIfUnchanged")` at the top of the test body.
 */
export function requireRestic(ctx: TestContext, feature: ResticFeature): void {
  if (resticUnderTest.has(feature)) return;
  const reason = `needs restic ≥ ${FEATURE_SINCE[feature]} (${feature}); this pass runs ${resticUnderTest.label}`;
  process.stderr.write(`skipped: ${ctx.task.name}: ${reason}\n`);
  ctx.skip(reason);
}

/** The restic on PATH says the version of this pass (checked once per test file by the setup file). */
export function checkResticOnPath(): void {
  const result = spawnSync("restic", ["version"], { encoding: "utf8" });
  const text = (result.stdout ?? "").trim();
  const found = /^restic (\d+\.\d+)\./.exec(text)?.[1];
  if (found !== resticUnderTest.version) {
    throw new Error(
      `this test pass is for restic ${resticUnderTest.version}, but \`restic version\` on PATH says ` +
        `${text || result.error?.message || "nothing"} — run ./scripts/setup.sh (it installs restic 0.18 ` +
        `into /opt/holdfast-tools/restic-0.18)`,
    );
  }
}
