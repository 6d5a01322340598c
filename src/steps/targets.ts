// A step that fans out over repositories (backup, copy, forget, check) reports one sub-result per
// repository; the step's own status, error and exit code follow from them.
import { stepError, type StepError } from "../errors.js";
import type { StepOutcome } from "../engine/step-kind.js";
import type { StepStatus, TargetRecord } from "../store/types.js";

const BAD: ReadonlySet<StepStatus> = new Set(["failed", "timed_out", "cancelled"]);

/** failed when any repository failed (after all of them ran), warning when any warned, else succeeded. */
export function combineTargets(targets: TargetRecord[]): StepOutcome & { targets: TargetRecord[] } {
  const failedTargets = targets.filter((t) => BAD.has(t.status));
  const warned = targets.filter((t) => t.status === "warning");
  const exitOf = (t: TargetRecord | undefined) => (typeof t?.exit_code === "number" ? t.exit_code : null);
  if (failedTargets.length > 0) {
    return {
      status: "failed",
      error: combineErrors(failedTargets, targets.length),
      exitCode: exitOf(failedTargets[0]),
      targets,
    };
  }
  if (warned.length > 0) {
    return {
      status: "warning",
      error: combineErrors(warned, targets.length),
      exitCode: exitOf(warned[0]) ?? 3,
      targets,
    };
  }
  const allSkipped = targets.length > 0 && targets.every((t) => t.status === "skipped");
  return { status: "succeeded", error: null, exitCode: allSkipped ? null : 0, targets };
}

function combineErrors(bad: TargetRecord[], total: number): StepError {
  const first = bad[0]?.error ?? stepError("exit_code", "failed");
  if (bad.length === 1) {
    const only = bad[0] as TargetRecord;
    return {
      kind: first.kind,
      message: total > 1 ? `${only.repo}: ${first.message}` : first.message,
      hint: first.hint,
    };
  }
  const message = `${bad.length} of ${total} repositories: ${bad.map((t) => `${t.repo}: ${t.error?.message ?? t.status}`).join("; ")}`;
  return { kind: first.kind, message, hint: first.hint };
}
