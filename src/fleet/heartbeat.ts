// The heartbeat a host sends at the end of each sync (ingest.ts records it): its clock, its
// holdfast and restic versions, its jobs' next expected runs and its outbox — what the hub needs to
// judge it on the hub's own clock, and to call it `missing` when it stops reporting.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/types.js";
import { nextRunAt } from "../scheduler/next-run.js";
import { parseResticVersion } from "../restic/version.js";
import type { Heartbeat, HeartbeatJob } from "./ingest.js";

let version: string | null | undefined;

/** holdfast's version, from the package.json two levels up (src/fleet/, dist/fleet/, dist/cli/ for the bundle). */
export function holdfastVersion(): string | null {
  if (version !== undefined) return version;
  try {
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../package.json");
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
    version = pkg.name === "holdfast" && typeof pkg.version === "string" ? pkg.version : null;
  } catch {
    version = null;
  }
  return version;
}

/** The restic version this host last detected (restic/detect.ts keeps it in the state dir), no spawn. */
export function lastDetectedResticVersion(stateDir: string): string | null {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, "restic-version.json"), "utf8")) as {
      text?: unknown;
    };
    if (typeof saved.text !== "string") return null;
    return parseResticVersion(saved.text)?.text ?? null;
  } catch {
    return null;
  }
}

export function heartbeatJobs(config: Config, now: Date): HeartbeatJob[] {
  return Object.values(config.jobs).map((job) => ({
    job: job.name,
    schedule: job.schedule ?? null,
    next_run_at: nextRunAt(job, now)?.toISOString() ?? null,
    randomized_delay_ms: job.randomized_delay ?? 0,
    max_age_ms: job.max_age ?? null,
  }));
}

export function buildHeartbeat(
  config: Config,
  outbox: { pending: number; oldest_pending_at: string | null },
  now: Date,
): Heartbeat {
  return {
    sent_at: now.toISOString(),
    holdfast_version: holdfastVersion(),
    restic_version: lastDetectedResticVersion(config.state_dir),
    jobs: heartbeatJobs(config, now),
    pending: outbox.pending,
    oldest_pending_at: outbox.oldest_pending_at,
    report_every_ms: config.fleet?.report_every ?? null,
  };
}
