// Errors that carry their context as fields. Step failures are data (StepError), not exceptions;
// exceptions are for config/usage mistakes and for bugs. Every error holdfast throws on purpose is a
// HoldfastError carrying its kind, a hint and the CLI's exit code, so cli/program.ts reportError maps
// all of them in one place; anything else reaching the CLI is a bug and printed as one.

/** The `error.kind` values of cli.md's JSON contract. */
export const ERROR_KINDS = [
  "config",
  "guard",
  "repo_not_found",
  "wrong_password",
  "repo_locked",
  "network",
  "timeout",
  "cancelled",
  "exit_code",
  "partial",
  "anomaly",
  "internal",
  "not_found",
  "permission",
  "disk_full",
  "repository_damaged",
  "leftover_process",
  "password_command",
  /** The run's record could not be written to the history database (the steps ran as recorded). */
  "history",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A step or target failure as recorded in history and printed by `--json`. */
export interface StepError {
  kind: ErrorKind;
  message: string;
  hint: string | null;
}

/** Error kinds that can pass on their own, so a retry makes sense (behavior.md: never config, password or guard). */
export const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set([
  "network",
  "repo_locked",
  "timeout",
  "exit_code",
  "internal",
]);

export function stepError(kind: ErrorKind, message: string, hint: string | null = null): StepError {
  return { kind, message, hint };
}

/** The CLI's exit codes (docs/cli contract): 1 failed, 2 usage or config, 3 warning, 4 busy. */
export const EXIT = { ok: 0, failed: 1, usage: 2, warning: 3, busy: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface HoldfastErrorFields {
  /** What went wrong, in a word: an ErrorKind where one fits ("config", "network", ...). */
  kind: string;
  /** How to fix it, printed as `hint:` by the CLI. */
  hint?: string | null;
  /** The CLI's exit code when this error ends a command (default 1). */
  exitCode?: ExitCode;
  cause?: unknown;
}

/**
 * The base of every error holdfast throws on purpose. The CLI prints `error: message` and `hint:`
 * and exits with `exitCode`; kind "internal" marks a bug, printed as a crash with the trace in a file.
 */
export class HoldfastError extends Error {
  readonly kind: string;
  readonly hint: string | null;
  readonly exitCode: ExitCode;
  constructor(message: string, fields: HoldfastErrorFields) {
    super(message, fields.cause !== undefined ? { cause: fields.cause } : undefined);
    this.name = "HoldfastError";
    this.kind = fields.kind;
    this.hint = fields.hint ?? null;
    this.exitCode = fields.exitCode ?? EXIT.failed;
  }
}

/** One problem found in a config file, with its position (1-based line and column). */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  hint: string | null;
}

export class ConfigError extends HoldfastError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"), { kind: "config", exitCode: EXIT.usage });
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  const hint = issue.hint ? ` (${issue.hint})` : "";
  return `${where}  ${issue.path || "(root)"}  ${issue.message}${hint}`;
}

/** A mistake on the command line: exit 2, nothing was run. */
export class UsageError extends HoldfastError {
  constructor(message: string, hint: string | null = null) {
    super(message, { kind: "usage", hint, exitCode: EXIT.usage });
    this.name = "UsageError";
  }
}

/** Another process holds the job's lock: exit 4. */
export class JobBusyError extends HoldfastError {
  readonly job: string;
  readonly holderPid: number | null;
  readonly holderSince: string | null;
  constructor(job: string, holderPid: number | null, holderSince: string | null) {
    const who = holderPid ? ` (pid ${holderPid}${holderSince ? ` since ${holderSince}` : ""})` : "";
    super(`job "${job}" is already running${who}`, {
      kind: "busy",
      hint: "wait for it, or use --wait [DURATION]",
      exitCode: EXIT.busy,
    });
    this.name = "JobBusyError";
    this.job = job;
    this.holderPid = holderPid;
    this.holderSince = holderSince;
  }
}

/** The history store cannot be opened or read (status --check maps this to UNKNOWN). */
export class StoreError extends HoldfastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { kind: "history", cause: options?.cause });
    this.name = "StoreError";
  }
}
