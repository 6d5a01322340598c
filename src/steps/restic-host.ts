// A step's StepContext as the ResticHost that runRestic needs: restic goes through the step's door
// (its log, cancel and timeout). Here rather than in restic/, which does not import the engine.
import type { StepContext } from "../engine/step-kind.js";
import type { ResticHost } from "../restic/host.js";

export function resticHostFromStep(ctx: StepContext<unknown>): ResticHost {
  return {
    config: ctx.config,
    env: ctx.env,
    exec: (command, args, options) => ctx.exec(command, args, options),
    signal: ctx.signal,
    deadline: ctx.deadline,
    killGraceMs: ctx.killGraceMs,
    log: ctx.log,
  };
}
