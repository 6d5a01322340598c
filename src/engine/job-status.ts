// The state of each job, as `status`, `status --check`, metrics and the dashboard show it.
import type { Config, JobConfig } from "../config/types.js";
import type { JobSummary, RunRecord, RunStore, StepLatest } from "../store/types.js";
import { nextRunAt } from "../scheduler/next-run.js";
import { isFutureDated } from "../store/record-rules.js";
import { formatDuration } from "../util/units.js";

export type JobState = "ok" | "warning" | "failed" | "stale" | "running" | "never";

export interface JobStatus {
  name: string;
  state: JobState;
  last_run: Pick<
    RunRecord,
    "id" | "status" | "started_at" | "finished_at" | "duration_ms" | "exit_code" | "trigger"
  > | null;
  last_success_at: string | null;
  last_failure_at: string | null;
  next_run_at: string | null;
  schedule: string | null;
  max_age_ms: number | null;
  /**
   * No success within max_age: also while a run is going, and when the last success is dated in the
   * future (a clock was wrong, so nothing shows that a backup succeeded recently).
   */
  stale: boolean;
  /** How long since the last success (or since the job was first due), when stale and known. */
  stale_for_ms: number | null;
  /** Set when the last success or the last run is dated ahead of this host's clock (issue 12 item 9). */
  clock_warning: string | null;
  steps: Array<
    Pick<
      StepLatest,
      "name" | "type" | "status" | "started_at" | "finished_at" | "duration_ms" | "error" | "run_id"
    >
  >;
}

/** `summaries` lets a caller that also needs the full last runs (metrics) read them only once. */
export async function computeJobStatuses(
  config: Config,
  store: RunStore,
  now: Date,
  summaries?: readonly JobSummary[],
): Promise<JobStatus[]> {
  const jobs = Object.values(config.jobs);
  summaries ??= await store.jobSummaries(jobs.map((j) => j.name));
  const byName = new Map(summaries.map((s) => [s.job, s]));
  const firstSeen = await Promise.all(jobs.map((job) => firstSeenAt(store, job, now)));
  return jobs.map((job, i) => jobStatus(job, byName.get(job.name) ?? null, now, firstSeen[i] ?? now));
}

/** When holdfast first saw this job (its first due time counts from here for a job that never ran). */
async function firstSeenAt(store: RunStore, job: JobConfig, now: Date): Promise<Date> {
  const key = `first_seen:${job.name}`;
  const stored = await store.getState(key);
  if (stored) return new Date(stored);
  await store.setState(key, now.toISOString());
  return now;
}

export function jobStatus(job: JobConfig, summary: JobSummary | null, now: Date, firstSeen: Date): JobStatus {
  const last = summary?.last_run ?? null;
  const maxAge = job.max_age ?? null;
  const lastSuccessAt = summary?.last_success_at ?? null;
  // The newest success is the newest recorded (the store orders by recording, not by date). A date
  // ahead of this host's clock proves nothing about when it happened, so it never counts as fresh.
  const successInFuture = isFutureDated(lastSuccessAt, now);
  let staleFor: number | null = null;
  let stale = false;
  if (maxAge !== null) {
    if (lastSuccessAt !== null && successInFuture) {
      stale = true;
    } else if (lastSuccessAt !== null) {
      const since = now.getTime() - Date.parse(lastSuccessAt);
      if (since > maxAge) staleFor = since;
    } else {
      // Never succeeded: stale once the first due time (or first sight) plus max_age has passed.
      const firstDue = job.schedule ? (nextRunAt(job, firstSeen) ?? firstSeen) : firstSeen;
      const reference = last ? Math.min(Date.parse(last.started_at), firstDue.getTime()) : firstDue.getTime();
      const since = now.getTime() - reference;
      if (since > maxAge) staleFor = since;
    }
  }
  if (staleFor !== null) stale = true;
  let state: JobState;
  if (last?.status === "running") state = "running";
  else if (stale) state = "stale";
  else if (!last) state = "never";
  else if (last.status === "succeeded") state = "ok";
  else if (last.status === "warning") state = "warning";
  else state = "failed";

  return {
    name: job.name,
    state,
    last_run: last
      ? {
          id: last.id,
          status: last.status,
          started_at: last.started_at,
          finished_at: last.finished_at,
          duration_ms: last.duration_ms,
          exit_code: last.exit_code,
          trigger: last.trigger,
        }
      : null,
    last_success_at: summary?.last_success_at ?? null,
    last_failure_at: summary?.last_failure_at ?? null,
    next_run_at: job.schedule ? (nextRunAt(job, now)?.toISOString() ?? null) : null,
    schedule: job.schedule ?? null,
    max_age_ms: maxAge,
    stale,
    stale_for_ms: staleFor,
    clock_warning: clockWarning(last, lastSuccessAt, successInFuture, now),
    steps: stepsOfSummary(summary),
  };
}

function clockWarning(
  last: RunRecord | null,
  lastSuccessAt: string | null,
  successInFuture: boolean,
  now: Date,
): string | null {
  const ahead = (iso: string) => formatDuration(Date.parse(iso) - now.getTime());
  if (lastSuccessAt !== null && successInFuture) {
    return (
      `the last success is recorded in the future (${lastSuccessAt}, ${ahead(lastSuccessAt)} ahead of this ` +
      `host's clock, now ${now.toISOString()}): it does not count as fresh until a run succeeds with a correct clock`
    );
  }
  if (last !== null && isFutureDated(last.started_at, now)) {
    return `the last run is recorded in the future (${last.started_at}, ${ahead(last.started_at)} ahead of this host's clock, now ${now.toISOString()})`;
  }
  return null;
}

/** The steps of a job's last run, as a job's status shows them (also the fleet hub's, routes/fleet.ts). */
export function stepsOfSummary(summary: JobSummary | null | undefined): JobStatus["steps"] {
  return (summary?.steps ?? []).map((s) => ({
    name: s.name,
    type: s.type,
    status: s.status,
    started_at: s.started_at,
    finished_at: s.finished_at,
    duration_ms: s.duration_ms,
    error: s.error,
    run_id: s.run_id,
  }));
}
