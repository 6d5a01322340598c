// What the restic commands of the CLI (snapshots, restore, unlock, doctor, init) share: restic's
// environment outside a job (the config's env layer, as for every step), a cancel signal wired to
// SIGINT/SIGTERM (restic gets SIGINT, never SIGTERM: 0.14 leaves its lock on SIGTERM), and picking
// repositories by name with a helpful error.
import { unknownNameError } from "../unknown-name.js";
import type { Config, RepositoryConfig } from "../../config/types.js";
import { baseEnv } from "../../engine/env.js";
import { UsageError, type StepError } from "../../errors.js";
import { resticHostForCli, type ResticHost } from "../../restic/host.js";
import { readEnvFile } from "../../util/env-file.js";
import { createRedactor, type Redactor } from "../../util/redact.js";
import { redactorForConfig } from "../../engine/secrets.js";
import { own } from "../../util/own.js";

/** The environment restic gets from a CLI command: PATH, HOME, … plus the config-level env_file and env. */
export function cliResticEnv(config: Config): Record<string, string> {
  const env = baseEnv(process.env);
  if (config.env_file) {
    try {
      Object.assign(env, readEnvFile(config.env_file));
    } catch (err) {
      throw new UsageError(
        (err as Error).message,
        "fix or create the env file, or remove env_file from the config",
      );
    }
  }
  Object.assign(env, config.env);
  return env;
}

export interface CliRestic {
  host: ResticHost;
  redactor: Redactor;
  /** Removes the signal handlers. */
  dispose(): void;
}

/** A restic host for a CLI command; `verbose` echoes restic's text output to stderr (redacted). */
export function createCliRestic(config: Config, options: { verbose?: boolean } = {}): CliRestic {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      process.stderr.write(`holdfast: ${sig} received, stopping restic\n`);
      controller.abort(sig);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let redactor: Redactor;
  try {
    redactor = redactorForConfig(config);
  } catch {
    redactor = createRedactor();
  }
  const write = (line: string) => process.stderr.write(`${redactor.redact(line)}\n`);
  const host = resticHostForCli(config, {
    env: cliResticEnv(config),
    signal: controller.signal,
    log: {
      info: options.verbose ? (m) => write(`holdfast: ${m}`) : () => undefined,
      warn: (m) => write(`holdfast: warning: ${m}`),
      output: options.verbose ? (line) => write(line) : () => undefined,
    },
  });
  return {
    host,
    redactor,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** The named repository, or all of them when no name is given. */
export function pickRepositories(config: Config, name: string | undefined): RepositoryConfig[] {
  const all = Object.values(config.repositories);
  if (name === undefined) {
    if (all.length === 0)
      throw new UsageError(
        "the config defines no repositories",
        "add one under repositories: (or run `holdfast init`)",
      );
    return all;
  }
  const repo = own(config.repositories, name);
  if (!repo) {
    const names = Object.keys(config.repositories);
    throw unknownNameError("repository", name, names, {
      listed: "repositories in the config",
      none: "add one under repositories: (or run `holdfast init`)",
    });
  }
  return [repo];
}

/** "kind: message (hint)" on one or two lines, for human output. */
export function describeError(error: StepError, redactor: Redactor): string {
  return `${redactor.redact(error.message)}${error.hint ? `\n    hint: ${redactor.redact(error.hint)}` : ""}`;
}

export function jsonError(error: StepError | null, redactor: Redactor): StepError | null {
  if (!error) return null;
  return {
    kind: error.kind,
    message: redactor.redact(error.message),
    hint: error.hint ? redactor.redact(error.hint) : null,
  };
}

/** Exit code of a CLI restic command that was cancelled by SIGINT/SIGTERM. */
export function signalExitCode(host: ResticHost): number | null {
  const reason = host.signal?.aborted ? String(host.signal.reason) : null;
  if (reason === "SIGTERM") return 143;
  if (reason === "SIGINT" || reason === "SIGHUP") return 130;
  return null;
}
