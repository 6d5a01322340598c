// holdfast restic REPO -- ARGS…: restic itself against a configured repository, with the environment
// a step would give it (the repository, its password, env files, cacert, -o options, cache dir) and
// nothing printed of it — for what holdfast has no command of its own: mount, find, diff, stats,
// key, ls, cat, check --read-data-subset … (autorestic `exec`, resticprofile `profile.cmd`). restic
// shares the terminal: prompts work, Ctrl-C reaches it, its exit code is ours.
import os from "node:os";
import { UsageError } from "../../errors.js";
import { repositoryAccess, RepositoryConfigError } from "../../restic/repository.js";
import { runProcess } from "../../util/process.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { cliResticEnv, pickRepositories } from "./restic-shared.js";

/** Flags that would point restic at another repository or password than the configured one. */
const SELECTOR_FLAGS = ["-r", "--repo", "--repository-file", "-p", "--password-file", "--password-command"];

export default async function resticCommand(
  global: GlobalOptions,
  repoName: string,
  args: string[],
): Promise<number> {
  if (args.length === 0) {
    throw new UsageError(
      "no restic command given",
      `put restic's arguments after --, e.g. holdfast restic ${repoName} -- snapshots --compact`,
    );
  }
  // --flag, --flag=VALUE, and for the short ones also -rVALUE (restic's flag parser reads it as -r VALUE).
  const selector = args.find((a) =>
    SELECTOR_FLAGS.some((f) => a === f || a.startsWith(`${f}=`) || (!f.startsWith("--") && a.startsWith(f))),
  );
  if (selector !== undefined) {
    const flag =
      SELECTOR_FLAGS.find((f) => selector === f || selector.startsWith(`${f}=`)) ?? selector.slice(0, 2);
    throw new UsageError(
      `${flag} would point restic away from repository "${repoName}"`,
      "holdfast sets the repository and its password from the config; name another configured repository instead",
    );
  }
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const [repo] = pickRepositories(config, repoName);
  let access;
  try {
    access = repositoryAccess(config, repo!, cliResticEnv(config));
  } catch (err) {
    if (err instanceof RepositoryConfigError) throw new UsageError(err.message, err.hint);
    throw err;
  }
  // restic gets the terminal's Ctrl-C itself (same process group) and cleans up (a mount unmounts);
  // holdfast must outlive it to pass its exit code on. SIGTERM from outside is forwarded as SIGINT,
  // the signal on which restic removes its lock.
  const controller = new AbortController();
  const ignore = () => undefined;
  const onTerm = () => controller.abort("SIGTERM");
  process.on("SIGINT", ignore);
  process.on("SIGTERM", onTerm);
  try {
    const result = await runProcess(config.restic.binary, [...access.globalArgs, ...args], {
      env: access.env,
      terminal: true,
      signal: controller.signal,
    });
    if (result.spawnError) {
      throw new UsageError(
        `cannot run ${config.restic.binary}: ${result.spawnError.message}`,
        "install restic, or set restic.binary in the config to its path",
      );
    }
    if (result.signal) return 128 + (os.constants.signals[result.signal] ?? 0);
    return result.exitCode ?? 1;
  } finally {
    process.off("SIGINT", ignore);
    process.off("SIGTERM", onTerm);
  }
}
