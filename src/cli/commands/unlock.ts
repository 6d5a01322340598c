// holdfast unlock [REPO]: removes the stale restic locks of a repository (all repositories when no
// name is given). Only what restic itself considers stale goes — a lock left by a killed restic on
// this host, or one older than 30 minutes — so a restic that is still working is never disturbed.
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { color, printJson } from "../output.js";
import { locks, unlock, type LockInfo } from "../../restic/commands.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";

const lockJson = (l: LockInfo) => ({
  id: l.id,
  pid: l.pid,
  hostname: l.hostname,
  username: l.username,
  exclusive: l.exclusive,
  created_at: l.time,
  stale: l.stale,
});

export default async function unlockCommand(
  global: GlobalOptions,
  repoName: string | undefined,
  flags: { json?: boolean },
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const repos = pickRepositories(config, repoName);
  const cli = createCliRestic(config);
  try {
    // Each repository on its own: a backend that does not answer (restic.open_timeout) never delays the others.
    const results = await Promise.all(
      repos.map(async (repo) => {
        const before = await locks(cli.host, repo);
        if (!before.outcome.ok) {
          return {
            repo,
            error: before.outcome.error,
            removed: [] as LockInfo[],
            remaining: [] as LockInfo[],
          };
        }
        let removed: LockInfo[] = [];
        let remaining = before.locks;
        if (before.locks.length > 0) {
          const outcome = await unlock(cli.host, repo);
          if (!outcome.ok) return { repo, error: outcome.error, removed, remaining };
          const after = await locks(cli.host, repo);
          const left = new Set(after.locks.map((l) => l.id));
          removed = before.locks.filter((l) => !left.has(l.id));
          remaining = after.locks;
        }
        return { repo, error: null, removed, remaining };
      }),
    );
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    const failedAny = results.some((r) => r.error);
    if (flags.json) {
      printJson({
        repositories: results.map((r) => ({
          name: r.repo.name,
          removed: r.removed.map(lockJson),
          remaining: r.remaining.map(lockJson),
          error: jsonError(r.error, cli.redactor),
        })),
      });
      return failedAny ? 1 : 0;
    }
    for (const r of results) {
      if (r.error) {
        process.stdout.write(
          `${color.bold(r.repo.name)}: ${color.red("error")}: ${describeError(r.error, cli.redactor)}\n`,
        );
        continue;
      }
      const parts = [
        r.removed.length > 0
          ? `removed ${r.removed.length} stale lock${r.removed.length === 1 ? "" : "s"} (${r.removed.map((l) => `PID ${l.pid} on ${l.hostname}`).join(", ")})`
          : "no stale locks",
      ];
      process.stdout.write(`${color.bold(r.repo.name)}: ${parts.join("")}\n`);
      for (const l of r.remaining) {
        process.stdout.write(
          `  ${color.yellow("kept")} ${l.exclusive ? "exclusive " : ""}lock of PID ${l.pid} on ${l.hostname} (user ${l.username}) since ${l.time}: ${l.stale ? "restic did not remove it" : "that restic is still running — holdfast never removes a live lock"}\n`,
        );
      }
    }
    return failedAny ? 1 : 0;
  } finally {
    cli.dispose();
  }
}
