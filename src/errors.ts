// Errors that carry their context as fields. Step failures are data (StepError), not exceptions;
// the classes below are for config/usage mistakes and for bugs, and cli/main.ts maps them to exit codes.

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

/** One problem found in a config file, with its position (1-based line and column). */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  hint: string | null;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
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
export class UsageError extends Error {
  readonly hint: string | null;
  constructor(message: string, hint: string | null = null) {
    super(message);
    this.name = "UsageError";
    this.hint = hint;
  }
}

/** Another process holds the job's lock: exit 4. */
export class JobBusyError extends Error {
  readonly job: string;
  readonly holderPid: number | null;
  readonly holderSince: string | null;
  constructor(job: string, holderPid: number | null, holderSince: string | null) {
    const who = holderPid ? ` (pid ${holderPid}${holderSince ? ` since ${holderSince}` : ""})` : "";
    super(`job "${job}" is already running${who}`);
    this.name = "JobBusyError";
    this.job = job;
    this.holderPid = holderPid;
    this.holderSince = holderSince;
  }
}

/** The history store cannot be opened or read (status --check maps this to UNKNOWN). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}
