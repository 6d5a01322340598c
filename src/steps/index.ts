// The step types of config.md. A new type is one file in this folder plus one line here; the
// composition root (src/registry.ts) serves them to the rest of holdfast.
import type { StepKind } from "../engine/step-kind.js";
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
