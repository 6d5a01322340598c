// The Prometheus exposition of holdfast's state, built from the config and the history store. Used by
// `holdfast metrics`, the textfile written after every run and `watch`, and the dashboard's /metrics.
// Family names are a contract (docs/metrics.md). Labels are config names only (job, step, repo,
// source) and fixed status sets — never run ids — so cardinality is bounded by the config.
import type { Config, JobConfig, StepConfig } from "../config/types.js";
import { computeJobStatuses, type JobState } from "../engine/job-status.js";
import {
  RUN_STATUSES,
  STEP_STATUSES,
  type JobSummary,
  type RunStore,
  type StepRecord,
  type TargetRecord,
} from "../store/types.js";
import { createExposition } from "./exposition.js";
import { dataFlowOf } from "../registry.js";
import { newestDumps } from "../dump/sources.js";
import { drillStateKey } from "../store/state-keys.js";

const JOB_STATES: readonly JobState[] = ["ok", "warning", "failed", "stale", "running", "never"];
const SUCCESS_TARGET = new Set(["succeeded", "warning"]);

const seconds = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
};

interface BackupTargetFigures {
  target: TargetRecord;
  snapshotAt: number | null;
}

export async function renderMetrics(config: Config, store: RunStore, now: Date): Promise<string> {
  const jobs = Object.values(config.jobs);
  const summaries = await store.jobSummaries(jobs.map((j) => j.name));
  const statuses = await computeJobStatuses(config, store, now, summaries);
  const summaryOf = new Map<string, JobSummary>(summaries.map((s) => [s.job, s]));
  const x = createExposition();

  const jobState = x.family(
    "holdfast_job_state",
    "The job's state as `holdfast status` shows it: 1 for the current state, 0 for the others.",
  );
  const lastStatus = x.family(
    "holdfast_job_last_run_status",
    "Status of the job's last run: 1 for its status, 0 for the others (all 0 when the job never ran).",
  );
  const lastStart = x.family(
    "holdfast_job_last_run_start_timestamp_seconds",
    "When the job's last run started (Unix time).",
  );
  const lastEnd = x.family(
    "holdfast_job_last_run_end_timestamp_seconds",
    "When the job's last run ended (Unix time).",
  );
  const lastDuration = x.family(
    "holdfast_job_last_run_duration_seconds",
    "How long the job's last finished run took.",
  );
  const lastExit = x.family(
    "holdfast_job_last_run_exit_code",
    "Exit code of the job's last finished run (0 ok, 1 failed, 3 warnings, 130/143 cancelled).",
  );
  const lastSuccess = x.family(
    "holdfast_job_last_success_timestamp_seconds",
    "When the job's last successful run (succeeded or warning: a snapshot exists) ended (Unix time).",
  );
  const lastFailure = x.family(
    "holdfast_job_last_failure_timestamp_seconds",
    "When the job's last failed run ended (Unix time).",
  );
  const maxAge = x.family("holdfast_job_max_age_seconds", "The job's freshness limit (max_age).");
  const stale = x.family(
    "holdfast_job_stale",
    "1 when the job has had no successful run within max_age (including a job that never ran once it was due), else 0.",
  );
  const staleFor = x.family(
    "holdfast_job_stale_seconds",
    "How long the job has been without a success, when it is stale; 0 when it is fresh.",
  );
  const running = x.family("holdfast_job_running", "1 while a run of the job is in progress, else 0.");
  const nextRun = x.family(
    "holdfast_job_next_run_timestamp_seconds",
    "When the job's schedule next fires (Unix time).",
  );

  const stepInfo = x.family("holdfast_step_info", "One series per configured step, with its type; always 1.");
  const stepStatus = x.family(
    "holdfast_step_last_status",
    "Status of the step's latest record: 1 for its status, 0 for the others (all 0 when it never ran).",
  );
  const stepDuration = x.family(
    "holdfast_step_last_duration_seconds",
    "How long the step's latest finished record took.",
  );
  const stepEnd = x.family(
    "holdfast_step_last_end_timestamp_seconds",
    "When the step's latest record ended (Unix time).",
  );

  const tAdded = x.family(
    "holdfast_backup_data_added_bytes",
    "Bytes the last successful backup to the repository added (restic data_added).",
  );
  const tNew = x.family(
    "holdfast_backup_files_new",
    "New files in the last successful backup to the repository.",
  );
  const tChanged = x.family(
    "holdfast_backup_files_changed",
    "Changed files in the last successful backup to the repository.",
  );
  const tUnmodified = x.family(
    "holdfast_backup_files_unmodified",
    "Unmodified files in the last successful backup to the repository.",
  );
  const tFiles = x.family(
    "holdfast_backup_processed_files",
    "Files processed by the last successful backup to the repository.",
  );
  const tBytes = x.family(
    "holdfast_backup_processed_bytes",
    "Bytes processed (source size) by the last successful backup to the repository.",
  );
  const tDuration = x.family(
    "holdfast_backup_duration_seconds",
    "How long the last successful backup to the repository took.",
  );
  const tSnapshot = x.family(
    "holdfast_backup_last_snapshot_timestamp_seconds",
    "When the last successful backup of this step to the repository made its snapshot (Unix time).",
  );

  const dumpAt = x.family(
    "holdfast_dump_last_success_timestamp_seconds",
    "When the newest good dump of the database (a dump step) was saved in the repository (Unix time).",
  );
  const dumpSize = x.family(
    "holdfast_dump_size_bytes",
    "Size of the newest good dump of the database in the repository.",
  );
  const dumpDrill = x.family(
    "holdfast_dump_last_drill_timestamp_seconds",
    "When a restore drill of the database (verify with database:) from the repository last passed (Unix time).",
  );

  const repoSnapshot = x.family(
    "holdfast_repository_latest_snapshot_timestamp_seconds",
    "Newest snapshot holdfast made of the source in the repository, over all jobs (Unix time).",
  );
  const repoDrill = x.family(
    "holdfast_repository_last_drill_timestamp_seconds",
    "When a restore drill (verify step) of the source from the repository last passed (Unix time).",
  );
  const repoOffsite = x.family(
    "holdfast_repository_offsite",
    "1 when the repository is marked offsite, else 0.",
  );
  const generated = x.family(
    "holdfast_metrics_generated_timestamp_seconds",
    "When these metrics were rendered (Unix time).",
  );

  const repoSource = new Map<string, { repo: string; source: string; latest: number | null }>();
  const pair = (repo: string, source: string) => {
    const key = `${repo}\u0000${source}`;
    let entry = repoSource.get(key);
    if (!entry) repoSource.set(key, (entry = { repo, source, latest: null }));
    return entry;
  };

  for (const status of statuses) {
    const job = config.jobs[status.name] as JobConfig;
    const summary = summaryOf.get(job.name) ?? null;
    const l = { job: job.name };
    for (const state of JOB_STATES) jobState.set({ ...l, state }, status.state === state ? 1 : 0);
    const last = status.last_run;
    for (const s of RUN_STATUSES) lastStatus.set({ ...l, status: s }, last?.status === s ? 1 : 0);
    setIf(lastStart, l, seconds(last?.started_at));
    setIf(lastEnd, l, seconds(last?.finished_at));
    setIf(lastDuration, l, last?.duration_ms != null ? last.duration_ms / 1000 : null);
    setIf(lastExit, l, last?.exit_code ?? null);
    setIf(lastSuccess, l, seconds(status.last_success_at));
    setIf(lastFailure, l, seconds(status.last_failure_at));
    setIf(maxAge, l, status.max_age_ms !== null ? status.max_age_ms / 1000 : null);
    stale.set(l, status.stale ? 1 : 0);
    staleFor.set(l, status.stale_for_ms !== null ? status.stale_for_ms / 1000 : 0);
    running.set(l, last?.status === "running" ? 1 : 0);
    setIf(nextRun, l, seconds(status.next_run_at));

    const latestByName = new Map(status.steps.map((s) => [s.name, s]));
    for (const step of job.steps) {
      const sl = { job: job.name, step: step.name };
      stepInfo.set({ ...sl, type: step.type }, 1);
      const latest = latestByName.get(step.name);
      for (const s of STEP_STATUSES) stepStatus.set({ ...sl, status: s }, latest?.status === s ? 1 : 0);
      if (latest?.finished_at) {
        setIf(stepDuration, sl, latest.duration_ms !== null ? latest.duration_ms / 1000 : null);
        setIf(stepEnd, sl, seconds(latest.finished_at));
      }
      const flow = dataFlowOf(step);
      if (flow?.how !== "backup" && flow?.how !== "dump") continue;
      const lastRunStep = summary?.last_run?.steps.find((s) => s.name === step.name) ?? null;
      const figures = await backupTargetFigures(store, job.name, step, lastRunStep);
      const source = flow.source ?? null;
      for (const [repo, { target, snapshotAt }] of figures) {
        const tl = { ...sl, repo };
        setIf(tAdded, tl, numberField(target, "data_added"));
        setIf(tNew, tl, numberField(target, "files_new"));
        setIf(tChanged, tl, numberField(target, "files_changed"));
        setIf(tUnmodified, tl, numberField(target, "files_unmodified"));
        setIf(tFiles, tl, numberField(target, "total_files_processed"));
        setIf(tBytes, tl, numberField(target, "total_bytes_processed"));
        setIf(tDuration, tl, target.duration_ms !== null ? target.duration_ms / 1000 : null);
        setIf(tSnapshot, tl, snapshotAt);
        if (source !== null && snapshotAt !== null) {
          const entry = pair(repo, source);
          entry.latest = Math.max(entry.latest ?? 0, snapshotAt);
        }
      }
      // A step that dumps several databases makes a snapshot of each per repository: one series each
      // (its newest good dump, its size, its last drill), as a source has.
      if (flow.databases?.length) {
        const records = await store.stepHistory(job.name, step.name, 10);
        if (lastRunStep) records.unshift(lastRunStep);
        const newest = newestDumps(records, step.name);
        for (const db of flow.databases)
          for (const repo of flow.repos) {
            const dl = { ...sl, repo, database: db.name };
            const d = newest.find((n) => n.repo === repo && n.database === db.name);
            if (d) {
              setIf(dumpAt, dl, seconds(d.at));
              setIf(dumpSize, dl, d.size);
            }
            if (flow.source !== undefined)
              setIf(dumpDrill, dl, seconds(await store.getState(drillStateKey(repo, flow.source, db.name))));
          }
      }
    }
  }

  // Every repository × source the config backs up or drills, so a drill that never passed is visible
  // as a missing drill series next to a present snapshot series.
  for (const job of jobs) {
    for (const step of job.steps) {
      const flow = dataFlowOf(step);
      if (flow?.how !== "backup" && flow?.how !== "dump" && flow?.how !== "verify") continue;
      if (flow.source !== undefined) for (const repo of flow.repos) pair(repo, flow.source);
    }
  }
  for (const entry of repoSource.values()) {
    const l = { repo: entry.repo, source: entry.source };
    setIf(repoSnapshot, l, entry.latest);
    setIf(repoDrill, l, seconds(await store.getState(drillStateKey(entry.repo, entry.source))));
  }
  for (const repo of Object.values(config.repositories))
    repoOffsite.set({ repo: repo.name }, repo.offsite ? 1 : 0);
  generated.set({}, now.getTime() / 1000);
  // Issue 18: how far the fleet's hub is behind this host (absent without a fleet: section).
  // Loaded only with a fleet: section — fleet/ brings the PostgreSQL client, which every run's
  // metrics textfile would otherwise load (bench P2′).
  const lag = config.fleet === undefined ? null : (await import("../fleet/lag.js")).fleetLag(config, now);
  if (lag !== null) {
    x.family("holdfast_fleet_replication_pending", "History changes queued for the fleet database.").set(
      {},
      lag.pending,
    );
    x.family(
      "holdfast_fleet_replication_lag_seconds",
      "Age of the oldest change not yet in the fleet database (0 when nothing is queued).",
    ).set({}, lag.lag_seconds);
    if (lag.last_success_at !== null)
      x.family(
        "holdfast_fleet_last_sync_success_timestamp_seconds",
        "When the last sync to the fleet database succeeded (Unix time).",
      ).set({}, Date.parse(lag.last_success_at) / 1000);
    x.family("holdfast_fleet_host_id_conflict", "1 when the hub saw another host under this host's id.").set(
      {},
      lag.conflict ? 1 : 0,
    );
  }
  return x.render();
}

function setIf(
  family: { set(labels: Record<string, string>, value: number): void },
  labels: Record<string, string>,
  value: number | null,
): void {
  if (value !== null && Number.isFinite(value)) family.set(labels, value);
}

function numberField(target: TargetRecord, field: string): number | null {
  const value = target[field];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Per repository, the newest successful target of a backup step: from its last successful record, or
 * from the last run when that run's step failed as a whole but some repositories still got a snapshot.
 */
async function backupTargetFigures(
  store: RunStore,
  job: string,
  step: StepConfig,
  lastRunStep: StepRecord | null,
): Promise<Map<string, BackupTargetFigures>> {
  const out = new Map<string, BackupTargetFigures>();
  const [lastGood] = await store.stepHistory(job, step.name, 1);
  const consider = (record: StepRecord | null | undefined) => {
    if (!record) return;
    const recordStart = seconds(record.started_at);
    const recordEnd = seconds(record.finished_at);
    for (const target of record.targets) {
      if (!SUCCESS_TARGET.has(target.status) || target.snapshot_id === null) continue;
      // Repositories of a step run in parallel from its start; the snapshot is saved as its target ends.
      const targetEnd =
        recordStart !== null && target.duration_ms !== null ? recordStart + target.duration_ms / 1000 : null;
      const snapshotAt = snapshotTime(target) ?? targetEnd ?? recordEnd;
      const existing = out.get(target.repo);
      if (!existing || (snapshotAt ?? 0) > (existing.snapshotAt ?? 0))
        out.set(target.repo, { target, snapshotAt });
    }
  };
  consider(lastGood);
  if (lastRunStep && lastRunStep.finished_at) consider(lastRunStep);
  return out;
}

/** restic ≥ 0.17 reports backup_end in its summary; a step may record it or snapshot_time. */
function snapshotTime(target: TargetRecord): number | null {
  for (const field of ["snapshot_time", "backup_end"]) {
    const value = target[field];
    if (typeof value === "string") {
      const s = seconds(value);
      if (s !== null) return s;
    }
  }
  return null;
}
