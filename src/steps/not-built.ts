// Placeholder run for a step type whose options validate but whose runner is not built yet; the
// step fails loudly (never a silent success). Removed once every type in config.md has its runner.
import { stepError } from "../errors.js";
import type { StepOutcome } from "../engine/step-kind.js";

export function notBuilt(type: string): () => Promise<StepOutcome> {
  return () =>
    Promise.resolve({
      status: "failed",
      error: stepError("internal", `step type "${type}" is not available in this build of holdfast`, null),
    });
}
