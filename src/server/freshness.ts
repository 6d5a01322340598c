// "Is everything safe?", judged on the server (one clock, the one the schedule runs by) per job:
//   running  a run goes on;            hung     it has gone on longer than the job's max_age (24 h without);
//   overdue  no success within max_age (status' `stale`);
//   failed   the last run failed;      never    it never ran;
//   late     a scheduled run is missing: the schedule's first time after the last run started has
//            passed by more than the grace, and no run has started since. The grace comes from the
//            job's own schedule: a tenth of its period (daily → 2.4 h, hourly → 6 min), at least 5 min;
//            an unscheduled job with max_age is late in the last tenth of it;
//   ok       otherwise.
import type { JobConfig } from "../config/types.js";
import type { JobStatus } from "../engine/job-status.js";
import { nextRunAt } from "../scheduler/next-run.js";

import type { Freshness } from "./api-types.js";

export type { Freshness };

export interface FreshnessVerdict {
  freshness: Freshness;
  /** When the next run was due (the schedule's first time after the last run started), or null. */
  due_at: string | null;
  /** The grace after due_at before the job is late. */
  grace_ms: number | null;
}

const MIN_GRACE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export function freshnessOf(
  job: Pick<JobConfig, "schedule" | "max_age">,
  status: JobStatus,
  now: Date,
): FreshnessVerdict {
  const last = status.last_run;
  const t = now.getTime();
  let due: Date | null = null;
  let grace: number | null = null;
  if (job.schedule) {
    const from = last ? new Date(last.started_at) : null;
    due = from ? nextRunAt(job, from) : null;
    const after = due ? nextRunAt(job, due) : null;
    if (due && after) grace = Math.max(MIN_GRACE_MS, (after.getTime() - due.getTime()) / 10);
  } else if (status.max_age_ms !== null) {
    grace = Math.max(MIN_GRACE_MS, status.max_age_ms / 10);
  }
  const verdict = (freshness: Freshness): FreshnessVerdict => ({
    freshness,
    due_at: due?.toISOString() ?? null,
    grace_ms: grace,
  });

  if (last?.status === "running") {
    return verdict(t - Date.parse(last.started_at) > (status.max_age_ms ?? DAY_MS) ? "hung" : "running");
  }
  if (status.stale) return verdict("overdue");
  if (status.state === "failed") return verdict("failed");
  if (!last) return verdict("never");
  if (due && grace !== null && t > due.getTime() + grace) return verdict("late");
  if (!job.schedule && status.max_age_ms !== null && grace !== null && status.last_success_at) {
    if (t - Date.parse(status.last_success_at) > status.max_age_ms - grace) return verdict("late");
  }
  return verdict("ok");
}
