// `exec`'s runner: the program through the step's process helper; exit 0 succeeds, a listed
// warning code is a warning, anything else fails with the last stderr line.
import { stepError } from "../errors.js";
import { defineStepRunner } from "../engine/step-kind.js";
import { describeExit } from "../util/process.js";
import { execStep } from "./exec.js";

export const execRunner = defineStepRunner(execStep, async (ctx) => {
  const { command, shell, cwd, warning_codes } = ctx.options;
  // S3: a shell only when the config says `shell:`; argv is never joined into a string.
  const [program, ...args] = shell !== undefined ? ["/bin/sh", "-c", shell] : (command ?? []);
  if (program === undefined) return { status: "failed", error: stepError("config", "no command to run") };
  const result = await ctx.exec(program, args, cwd !== undefined ? { cwd } : {});
  if (result.spawnError) {
    const hint =
      result.spawnError.code === "ENOENT"
        ? `check that "${program}" is installed and on the step's PATH (${ctx.env.PATH ?? ""})`
        : result.spawnError.code === "EACCES"
          ? `make "${program}" executable`
          : null;
    return { status: "failed", exitCode: null, error: stepError("not_found", describeExit(result), hint) };
  }
  const code = result.exitCode;
  if (code === 0) return { status: "succeeded", exitCode: 0 };
  if (code !== null && warning_codes.includes(code)) {
    return {
      status: "warning",
      exitCode: code,
      error: stepError("exit_code", `exited with ${code}, listed in warning_codes`, null),
    };
  }
  const tail = result.stderrTail.at(-1);
  return {
    status: "failed",
    exitCode: code,
    error: stepError(
      "exit_code",
      `${describeExit(result)}${tail ? `: ${ctx.redact(tail)}` : ""}`,
      "see the step log: holdfast logs RUN --step " + ctx.step.name,
    ),
  };
});
