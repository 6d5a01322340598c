// The next due time of a job's schedule, for status, metrics and the freshness check.
import type { JobConfig } from "../config/types.js";
import { parseSchedule } from "./calendar.js";

export function nextRunAt(job: Pick<JobConfig, "schedule">, after: Date): Date | null {
  if (!job.schedule) return null;
  try {
    return parseSchedule(job.schedule).next(after);
  } catch {
    return null;
  }
}
