// The step types of config.md. A new type is two files in this folder — its definition (NAME.ts:
// options, references, checks, plan, data flow) and its runner (NAME-run.ts) — plus one line in each
// list here; the composition root (src/registry.ts) serves them to the rest of holdfast. The runner
// imports are the only imports of runner modules (lint: runners-load-lazily), so loading a config
// imports no runtime code.
import type { StepKind, StepRunner } from "../engine/step-kind.js";
import { backupStep } from "./backup.js";
import { checkStep } from "./check.js";
import { copyStep } from "./copy.js";
import { dumpStep } from "./dump.js";
import { execStep } from "./exec.js";
import { forgetStep } from "./forget.js";
import { gitStep } from "./git.js";
import { manifestStep } from "./manifest.js";
import { mirrorStep } from "./mirror.js";
import { verifyStep } from "./verify.js";

// Each kind has its own options type; the registry holds them side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const builtinStepKinds: readonly StepKind<any>[] = [
  execStep,
  backupStep,
  dumpStep,
  copyStep,
  forgetStep,
  checkStep,
  mirrorStep,
  gitStep,
  manifestStep,
  verifyStep,
];

/** The runner of each kind that has one of its own, imported when a step of the kind first runs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const builtinStepRunners: Readonly<Record<string, () => Promise<StepRunner<any>>>> = {
  exec: async () => (await import("./exec-run.js")).execRunner,
  backup: async () => (await import("./backup-run.js")).backupRunner,
  copy: async () => (await import("./copy-run.js")).copyRunner,
  check: async () => (await import("./check-run.js")).checkRunner,
  mirror: async () => (await import("./mirror-run.js")).mirrorRunner,
  git: async () => (await import("./git-run.js")).gitRunner,
  manifest: async () => (await import("./manifest-run.js")).manifestRunner,
  forget: async () => (await import("./forget-run.js")).forgetRunner,
  verify: async () => (await import("./verify-run.js")).verifyRunner,
};
