// The state of each job, as `status`, `status --check`, metrics and the dashboard show it.
import type { Config, JobConfig } from "../config/schema.js";
import type { JobSummary, RunRecord, RunStore, StepLatest } from "../store/types.js";
import { nextRunAt } from "../scheduler/next-run.js";

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
  /** How long since the last success (or since the job was first due), when max_age is exceeded. */
  stale_for_ms: number | null;
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
  let staleFor: number | null = null;
  if (maxAge !== null) {
    if (summary?.last_success_at) {
      const since = now.getTime() - Date.parse(summary.last_success_at);
      if (since > maxAge) staleFor = since;
    } else {
      // Never succeeded: stale once the first due time (or first sight) plus max_age has passed.
      const firstDue = job.schedule ? (nextRunAt(job, firstSeen) ?? firstSeen) : firstSeen;
      const reference = last ? Math.min(Date.parse(last.started_at), firstDue.getTime()) : firstDue.getTime();
      const since = now.getTime() - reference;
      if (since > maxAge) staleFor = since;
    }
  }
  let state: JobState;
  if (last?.status === "running") state = "running";
  else if (staleFor !== null) state = "stale";
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
    stale_for_ms: staleFor,
    steps: (summary?.steps ?? []).map((s) => ({
      name: s.name,
      type: s.type,
      status: s.status,
      started_at: s.started_at,
      finished_at: s.finished_at,
      duration_ms: s.duration_ms,
      error: s.error,
      run_id: s.run_id,
    })),
  };
}
