// A program of the user's: argv through the process helper (never a shell, S3), the event as
// HOLDFAST_* variables and the webhook's JSON on stdin. A non-zero exit is a failed notification.
import { defineNotifierKind, type NotifyMessage } from "./notifier-kind.js";
import { argvSchema, pathSchema } from "../config/values.js";
import { describeExit, runProcess } from "../util/process.js";
import { webhookBody } from "./webhook.js";
import { HoldfastError } from "../errors.js";

export class CommandNotifierError extends HoldfastError {
  /** The notifier command's own exit code (null: ended by a signal); `exitCode` is the CLI's. */
  readonly commandExitCode: number | null;
  readonly stderrTail: string[];
  constructor(message: string, fields: { exitCode: number | null; stderrTail: string[] }) {
    super(message, { kind: "exit_code" });
    this.name = "CommandNotifierError";
    this.commandExitCode = fields.exitCode;
    this.stderrTail = fields.stderrTail;
  }
}

export const commandNotifier = defineNotifierKind({
  type: "command",
  defaultEvents: ["warning", "failure", "stale", "recovered"],
  options: {
    command: argvSchema.describe(
      "the program and its arguments, run for each event without a shell: the event's JSON (the webhook's body) on stdin and HOLDFAST_EVENT, HOLDFAST_JOB, HOLDFAST_HOST, HOLDFAST_AT, HOLDFAST_TITLE, HOLDFAST_RUN_ID, HOLDFAST_STATUS, HOLDFAST_EXIT_CODE, HOLDFAST_STARTED_AT, HOLDFAST_FINISHED_AT, HOLDFAST_DURATION_MS in its environment (PATH, HOME, USER, LANG, TZ kept); a non-zero exit is a failed notification",
    ),
    cwd: pathSchema.optional().describe("the working directory of the command"),
  },
  async send(ctx, message) {
    const [program, ...args] = ctx.options.command;
    if (program === undefined) throw new Error("no command to run");
    const result = await runProcess(program, args, {
      env: commandEnv(message),
      input: webhookBody(message),
      signal: ctx.signal,
      graceMs: 2_000,
      stderrTailLines: 5,
      ...(ctx.options.cwd !== undefined ? { cwd: ctx.options.cwd } : {}),
    });
    if (result.exitCode === 0) return;
    const description = result.cancelled
      ? "did not finish before the notifier's timeout"
      : describeExit(result);
    const tail = result.stderrTail.at(-1);
    throw new CommandNotifierError(`${program} ${description}${tail ? `: ${tail}` : ""}`, {
      exitCode: result.exitCode,
      stderrTail: result.stderrTail,
    });
  },
});

/** A clean environment: the few variables a program needs to run, and the event. */
export function commandEnv(
  message: NotifyMessage,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ"]) {
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  const run = message.run;
  Object.assign(env, {
    HOLDFAST_EVENT: message.event,
    HOLDFAST_JOB: message.job,
    HOLDFAST_HOST: message.host,
    HOLDFAST_AT: message.at,
    HOLDFAST_TITLE: message.title,
    HOLDFAST_RUN_ID: run?.id ?? "",
    HOLDFAST_STATUS: run?.status ?? (message.event === "stale" ? "stale" : ""),
    HOLDFAST_EXIT_CODE: run?.exit_code != null ? String(run.exit_code) : "",
    HOLDFAST_STARTED_AT: run?.started_at ?? "",
    HOLDFAST_FINISHED_AT: run?.finished_at ?? "",
    HOLDFAST_DURATION_MS: run?.duration_ms != null ? String(run.duration_ms) : "",
  });
  return env;
}
