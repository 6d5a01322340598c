// The dead-man's switch: jobs with no successful run within max_age (including a scheduled job that
// never ran once its first due time plus max_age has passed) get one `stale` per episode. The episode
// ends with the job's next success (the run hook sends `recovered` then) or when the job is fresh
// again for another reason (a longer max_age). The check also announces a run that died unannounced.
import type { Config, JobConfig } from "../config/types.js";
import { computeJobStatuses, type JobState } from "../engine/job-status.js";
import type { NotificationRecord, RunStore } from "../store/types.js";
import { dispatchEvent, notifiersFor, type DispatchDeps } from "./dispatch.js";
import {
  closeStaleEpisode,
  openStaleEpisode,
  readOutcome,
  readStaleEpisode,
  writeOutcome,
} from "./episodes.js";

export type StaleNotice =
  /** This check sent `stale` (at least one notifier took it). */
  | "sent"
  /** Sent by an earlier check of the same episode. */
  | "already_sent"
  /** Every notifier failed; the next check tries again. */
  | "failed"
  /** No notifier of the job listens for `stale`; the episode is recorded all the same. */
  | "no_notifiers";

export interface FreshnessResult {
  job: string;
  state: JobState;
  stale: boolean;
  stale_for_ms: number | null;
  max_age_ms: number | null;
  last_success_at: string | null;
  /** When the open stale episode was first notified. */
  stale_since: string | null;
  notice: StaleNotice | null;
  notifications: NotificationRecord[];
  /** Set when the history could not be read: the job counts as stale because nothing is known. */
  history_error?: string;
  /** Set when the last success (or run) is recorded in the future: see JobStatus.clock_warning. */
  clock_warning?: string;
}

export async function checkFreshness(
  deps: DispatchDeps & { config: Config; store: RunStore },
  now: Date,
): Promise<FreshnessResult[]> {
  const { config, store } = deps;
  const statuses = await computeJobStatuses(config, store, now);
  const results: FreshnessResult[] = [];
  for (const status of statuses) {
    const job = config.jobs[status.name] as JobConfig;
    if (status.last_run?.status === "interrupted")
      await announceInterruptedRun(deps, job, status.last_run.id);
    const stale = status.stale;
    const episode = await readStaleEpisode(store, job.name);
    const result: FreshnessResult = {
      job: job.name,
      state: status.state,
      stale,
      stale_for_ms: status.stale_for_ms,
      max_age_ms: status.max_age_ms,
      last_success_at: status.last_success_at,
      stale_since: stale ? episode : null,
      notice: null,
      notifications: [],
      ...(status.clock_warning !== null ? { clock_warning: status.clock_warning } : {}),
    };
    if (!stale) {
      if (episode !== null) await closeStaleEpisode(store, job.name);
    } else if (episode !== null) {
      result.notice = "already_sent";
    } else {
      const details = {
        stale_for_ms: status.stale_for_ms,
        max_age_ms: status.max_age_ms,
        last_success_at: status.last_success_at,
        last_run_status: status.last_run?.status ?? null,
        last_run_started_at: status.last_run?.started_at ?? null,
        next_run_at: status.next_run_at,
        // Stale with no measurable age but a last success: that success is dated in the future.
        ...(status.clock_warning !== null && status.stale_for_ms === null && status.last_success_at !== null
          ? { clock: status.clock_warning }
          : {}),
      };
      const listening = notifiersFor(config, job, "stale").length > 0;
      const records = await dispatchEvent(deps, { event: "stale", job, run: null, details });
      const delivered = records.some((r) => r.ok);
      result.notifications = records;
      result.notice = !listening ? "no_notifiers" : delivered ? "sent" : "failed";
      if (!listening || delivered) {
        await openStaleEpisode(store, job.name, now);
        result.stale_since = now.toISOString();
      }
      await writeOutcome(store, job.name, "stale");
    }
    results.push(result);
  }
  return results;
}

/**
 * A run whose holdfast was killed (SIGKILL, power loss) never sent its outcome; the next check sends
 * `failure` for it, once: the attempt is recorded on the run, which is how later checks know.
 */
async function announceInterruptedRun(deps: DispatchDeps, job: JobConfig, runId: string): Promise<void> {
  const run = await deps.store.getRun(runId);
  if (!run || run.notifications.some((n) => n.event === "failure")) return;
  if (notifiersFor(deps.config, job, "failure").length === 0) return;
  await dispatchEvent(deps, { event: "failure", job, run });
  if ((await readOutcome(deps.store, job.name)) !== "stale")
    await writeOutcome(deps.store, job.name, "failure");
}
