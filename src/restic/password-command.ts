// A repository's password_command, with a time limit of its own (issue 12 item 12).
//
// restic runs RESTIC_PASSWORD_COMMAND itself and waits for it without any limit: a `pass` whose
// gpg-agent wants a PIN, a vault CLI waiting for its server, hung every command (`snapshots`, `unlock`,
// each step) until the step's timeout, and then holdfast blamed the backend. The password must still
// go from the command to restic directly — never through holdfast's argv, environment, logs or memory —
// so holdfast does not run the command itself: it hands restic the command wrapped in coreutils
// `timeout` (`timeout -k 5s 30s pass show backup`). When the limit passes, `timeout` ends the command's
// process group and exits 124 (137 after the SIGKILL), restic 0.14 – 0.19 stops with
// "Resolving password failed: exit status 124", and passwordCommandFailure turns that into an error
// naming the repository, the command and the limit. Every caller goes through here: steps, the CLI
// commands, doctor, the guard's snapshot listing and the dashboard all run restic through runRestic.
import { stepError, type StepError } from "../errors.js";
import type { Config, RepositoryConfig } from "../config/types.js";
import { quoteArgv } from "../util/shell-quote.js";
import { formatDuration } from "../util/units.js";
import {
  DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS,
  passwordCommandValue,
  passwordCommandWatched,
} from "./repository.js";

const RESOLVING_FAILED = /Resolving password failed: ([^"\\\n]*)/;

/**
 * restic stopped because a password_command failed: the error names the repository, the command and,
 * for a hang, the limit. `extraEnv` is the call's extra environment (RESTIC_FROM_* of `copy`), to
 * find the source repository's command too. null when restic failed for another reason.
 */
export function passwordCommandFailure(
  config: Config,
  repo: RepositoryConfig,
  extraEnv: Record<string, string> | undefined,
  stderrLines: readonly string[],
): StepError | null {
  let cause: string | null = null;
  let commandStderr: string | null = null;
  for (let i = 0; i < stderrLines.length; i++) {
    const m = RESOLVING_FAILED.exec(stderrLines[i] ?? "");
    if (!m) continue;
    cause = (m[1] ?? "").trim();
    // What the command itself said last (restic passes its stderr through); never its stdout.
    for (let j = i - 1; j >= 0; j--) {
      const line = (stderrLines[j] ?? "").trim();
      if (line !== "" && !line.startsWith("{")) {
        commandStderr = line;
        break;
      }
    }
    break;
  }
  if (cause === null) return null;

  const candidates: RepositoryConfig[] = [];
  if (repo.password_command !== undefined) candidates.push(repo);
  const fromValue = extraEnv?.RESTIC_FROM_PASSWORD_COMMAND;
  if (fromValue !== undefined) {
    const from = Object.values(config.repositories).find(
      (r) => r.password_command !== undefined && safeValue(r) === fromValue,
    );
    if (from) candidates.push(from);
  }
  if (candidates.length === 0) return null;
  const which = candidates
    .map((r) => `password_command of repository "${r.name}" (${quoteArgv(r.password_command ?? [])})`)
    .join(" or ");
  const repoPath = candidates.map((r) => `repositories.${r.name}.password_command_timeout`).join(" / ");
  const status = /exit status (\d+)/.exec(cause);
  const code = status ? Number(status[1]) : null;
  const watched = passwordCommandWatched();
  if (watched && (code === 124 || code === 137)) {
    const limit = formatDuration(
      candidates[0]?.password_command_timeout ?? DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS,
    );
    return stepError(
      "password_command",
      `${which} did not answer within ${limit}; restic got no password and stopped`,
      `Run the command by hand as the user holdfast runs as: it must print the password without waiting for a terminal or a person (a scheduled run has neither). Raise ${repoPath} if it is only slow.`,
    );
  }
  const said = commandStderr ? ` (it said: ${commandStderr})` : "";
  const notFound = code === 127 || /executable file not found|no such file/i.test(cause);
  return stepError(
    "password_command",
    `${which} failed: ${notFound ? "the program was not found" : cause}${said}`,
    notFound
      ? "Check the program's path (restic looks it up on the step's PATH) or give its absolute path."
      : "Run the command by hand as the user holdfast runs as: it must exit 0 and print the password on stdout.",
  );
}

function safeValue(repo: RepositoryConfig): string | null {
  try {
    return passwordCommandValue(repo);
  } catch {
    return null;
  }
}
