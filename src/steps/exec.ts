import { z } from "zod";
import { stepError } from "../errors.js";
import { defineStepKind } from "../engine/step-kind.js";
import { argvSchema, pathSchema } from "../config/values.js";
import { describeExit } from "../util/process.js";
import { quoteArgv } from "../util/shell-quote.js";

export const execStep = defineStepKind({
  type: "exec",
  summary: "runs a program (argv, no shell) or, only when written as `shell:`, a /bin/sh -c string",
  options: {
    command: argvSchema.optional().describe("the program and its arguments, run without a shell; or shell"),
    shell: z
      .string()
      .min(1)
      .optional()
      .describe("a command line run by /bin/sh -c, when you need a shell; or command"),
    cwd: pathSchema.optional().describe("the working directory of the program"),
    warning_codes: z
      .array(z.number().int().min(1).max(255))
      .default([])
      .describe("exit codes that make the step a warning instead of a failure"),
  },
  check: (o) =>
    (o.command === undefined) === (o.shell === undefined)
      ? [
          {
            path: [],
            message: "an exec step needs exactly one of `command` or `shell`",
            hint: 'command: [prog, arg] runs without a shell; shell: "…" runs /bin/sh -c',
          },
        ]
      : [],
  plan: (ctx) => [
    ctx.options.shell !== undefined
      ? `/bin/sh -c ${quoteArgv([ctx.options.shell])}`
      : quoteArgv(ctx.options.command ?? []),
  ],
  async run(ctx) {
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
  },
});
