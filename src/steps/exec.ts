// `exec`: runs a program (argv) or a shell line; its exit code decides the outcome. The definition;
// the runner is exec-run.ts.
import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { argvSchema, pathSchema } from "../config/values.js";
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
});
