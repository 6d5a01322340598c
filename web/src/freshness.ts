// "Is everything safe?" per job: ok / late / overdue / failed / running / hung. The server's own
// verdict wins when it sends one (`freshness`); otherwise it is derived from the job status: overdue
// is the server's `stale` (no success within max_age), late is past the next due time plus grace
// (the grace from the job's schedule: a tenth of its max_age, at least 5 minutes) without a new run,
// and hung is a run going for longer than its job's max_age (or 24 h without one). A job whose last
// run was cancelled is "cancelled", not "failed": the server's verdict (and `status`, metrics) count it
// as failed, as notifications do, so it is still an alarm — but the dashboard says what happened.
import type { JobStatus } from "./types.js";

export type Freshness = "ok" | "late" | "overdue" | "failed" | "cancelled" | "running" | "hung" | "never";

export const FRESHNESS_LABEL: Record<Freshness, string> = {
  ok: "ok",
  late: "late",
  overdue: "overdue",
  failed: "failed",
  cancelled: "cancelled",
  running: "running",
  hung: "hung",
  never: "never ran",
};

const DAY = 86_400_000;

export function freshnessOf(job: JobStatus, now = Date.now()): Freshness {
  const f = verdictOf(job, now);
  return f === "failed" && job.last_run?.status === "cancelled" ? "cancelled" : f;
}

function verdictOf(job: JobStatus, now: number): Freshness {
  const server = job.freshness;
  if (server !== undefined && server in FRESHNESS_LABEL) return server;
  const last = job.last_run;
  if (last?.status === "running") {
    const limit = job.max_age_ms ?? DAY;
    return now - Date.parse(last.started_at) > limit ? "hung" : "running";
  }
  if (job.stale) return "overdue";
  if (job.state === "failed") return "failed";
  if (!last) return "never";
  if (job.max_age_ms !== null && job.last_success_at) {
    const grace = Math.max(5 * 60_000, job.max_age_ms / 10);
    const age = now - Date.parse(job.last_success_at);
    if (age > job.max_age_ms - grace) return "late";
  }
  return "ok";
}

/** Failed, cancelled, overdue or hung: the page title and favicon turn red. */
export function isAlarm(f: Freshness): boolean {
  return f === "failed" || f === "cancelled" || f === "overdue" || f === "hung";
}

/** The step that failed in the job's latest records, with its error. */
export function failingStep(job: JobStatus): JobStatus["steps"][number] | null {
  return (
    job.steps.find((s) => s.status === "failed" || s.status === "timed_out" || s.status === "cancelled") ??
    job.steps.find((s) => s.error !== null && s.status !== "succeeded") ??
    null
  );
}
