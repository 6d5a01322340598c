// Removing restic's stale locks with `restic unlock`, which touches only locks restic itself calls
// stale (a dead PID on this host, or older than 30 minutes: restic/errors.ts isLockStale), so a
// lock of another live restic is never removed.
import type { RepositoryConfig } from "../config/types.js";
import { runProcess } from "../util/process.js";
import type { DetectedRestic } from "./detect.js";
import type { ResticHost } from "./host.js";
import type { RepositoryAccess } from "./repository.js";

const CLEANUP_TIMEOUT_MS = 10_000;

export async function unlockStale(
  host: ResticHost,
  repo: RepositoryConfig,
  access: RepositoryAccess,
  detected: DetectedRestic,
  detached: boolean,
): Promise<void> {
  const args = [...access.globalArgs, "unlock"];
  // After a cancel the caller's signal has fired, so this must not go through its door.
  // Within the step's time: past its deadline the engine stops waiting for the step.
  const left = host.deadline === null ? CLEANUP_TIMEOUT_MS : host.deadline - Date.now() - 2_000;
  const timeoutMs = Math.min(CLEANUP_TIMEOUT_MS, left);
  if (timeoutMs < 1_000) {
    host.log.warn(
      `no time left to remove stale restic locks of ${repo.name}; if the next run reports a lock, run \`holdfast unlock ${repo.name}\``,
    );
    return;
  }
  const result = detached
    ? await runProcess(detected.binary, args, { env: access.env, timeoutMs, graceMs: 1_000 })
    : await host.exec(detected.binary, args, { env: access.env, timeoutMs });
  if (result.exitCode === 0) host.log.info(`removed stale restic locks of ${repo.name} (restic unlock)`);
  else
    host.log.warn(
      `restic unlock of ${repo.name} did not succeed (${result.stderrTail.at(-1) ?? `exit ${result.exitCode}`}); run \`holdfast unlock ${repo.name}\` later`,
    );
}
