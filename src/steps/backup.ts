import { z } from "zod";
import {
  defineStepKind,
  type StepContext,
  type StepOutcome,
  type StepProgress,
} from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import type { SourceConfig } from "../config/schema.js";
import { stepError, type StepError } from "../errors.js";
import type { StepStatus, TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/exec.js";
import type { BackupResult, stats as statsCommand } from "../restic/commands.js";
import type { BackupStatus, summarizeBackupErrors as summarizeErrors } from "../restic/outputs.js";
import { backupArgs, HOLDFAST_TAG, jobTag, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { ancestorCount, checkSourcePresence, countEntries, parseMaxShrink, shrinkFailure } from "./guard.js";
import { combineTargets } from "./targets.js";

const options = {
  source: nameSchema,
  repos: z.array(nameSchema).min(1, "name at least one repository"),
  tags: z.array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces")).default([]),
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .optional(),
  parallel: z.boolean().default(true),
  extra_args: z.array(z.string()).default([]),
};
type BackupOptions = z.output<z.ZodObject<typeof options>>;

// The terminal redraws at 10/s; more progress updates than that are wasted work.
const PROGRESS_INTERVAL_MS = 200;

export const backupStep = defineStepKind({
  type: "backup",
  summary: "restic backup of a source into each repository (guard first; one sub-result per repository)",
  options,
  references: (o) => [
    { path: ["source"], kind: "source", name: o.source },
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  ],
  plan: (ctx) => {
    const source = ctx.config.sources[ctx.options.source];
    if (!source) return [`(unknown source ${ctx.options.source})`];
    const lines = [`guard ${ctx.options.source}: ${describeGuard(source)}`];
    for (const name of ctx.options.repos) {
      const repo = ctx.config.repositories[name];
      if (!repo) continue;
      const args = backupArgs(
        backupOptionsFor(ctx.options, source, ctx.options.host ?? ctx.host, ctx.job.name),
      );
      lines.push(planResticCommand(ctx.config, repo, args));
    }
    return lines;
  },
  run: runBackup,
});

function describeGuard(source: SourceConfig): string {
  const parts = [`paths exist (${source.paths.join(", ")})`];
  if (source.guard.exists.length > 0) parts.push(`sentinels ${source.guard.exists.join(", ")}`);
  if (source.guard.min_files !== undefined) parts.push(`min_files ${source.guard.min_files}`);
  if (source.guard.max_shrink !== undefined)
    parts.push(`max_shrink ${source.guard.max_shrink} (restic stats of the last snapshot per repository)`);
  return parts.join("; ");
}

function backupOptionsFor(opts: BackupOptions, source: SourceConfig, host: string, job: string) {
  return {
    paths: source.paths,
    tags: [HOLDFAST_TAG, sourceTag(source.name), jobTag(job), ...opts.tags],
    host,
    exclude: source.exclude,
    excludeIfPresent: source.exclude_if_present,
    excludeFile: source.exclude_file,
    oneFileSystem: source.one_file_system,
    extraArgs: opts.extra_args,
  };
}

// The blocks this step added in the run, so that a retry that succeeds lifts its own earlier blocks
// (and never one another step added).
const addedBlocks = new WeakMap<
  StepContext<BackupOptions>["runState"],
  Map<string, Array<[string, string]>>
>();

function block(ctx: StepContext<BackupOptions>, source: string, repo: string): void {
  const set = ctx.runState.blockedSources.get(source) ?? new Set<string>();
  if (set.has(repo)) return;
  set.add(repo);
  ctx.runState.blockedSources.set(source, set);
  const byStep = addedBlocks.get(ctx.runState) ?? new Map<string, Array<[string, string]>>();
  addedBlocks.set(ctx.runState, byStep);
  byStep.set(ctx.step.name, [...(byStep.get(ctx.step.name) ?? []), [source, repo]]);
}

/** A new attempt of this step starts from a clean slate: lift the blocks its earlier attempt added. */
function liftOwnBlocks(ctx: StepContext<BackupOptions>): void {
  const byStep = addedBlocks.get(ctx.runState);
  for (const [source, repo] of byStep?.get(ctx.step.name) ?? [])
    ctx.runState.blockedSources.get(source)?.delete(repo);
  byStep?.delete(ctx.step.name);
}

async function runBackup(ctx: StepContext<BackupOptions>): Promise<StepOutcome> {
  // The restic runtime (exec, parsers) loads when a backup runs, not with the config.
  const { resticHostFromStep } = await import("../restic/exec.js");
  const { backup, detectRestic, stats } = await import("../restic/commands.js");
  const { summarizeBackupErrors } = await import("../restic/outputs.js");
  liftOwnBlocks(ctx);
  const opts = ctx.options;
  const source = ctx.config.sources[opts.source];
  if (!source) {
    block(ctx, opts.source, "*");
    return {
      status: "failed",
      error: stepError("config", `unknown source "${opts.source}"`, "define it under sources:"),
    };
  }
  const hostName = opts.host ?? ctx.host;
  const host = resticHostFromStep(ctx);
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error) {
    block(ctx, source.name, "*");
    return {
      status: "failed",
      error: restic.error,
      targets: opts.repos.map((repo) => skippedTarget(repo, restic.error)),
    };
  }
  ctx.log.info(
    `restic ${restic.version?.text ?? "(unknown version)"} (${restic.binary}); source ${source.name}; host ${hostName}`,
  );

  const guardError = await runGuard(ctx, host, source, hostName, stats);
  if (guardError) {
    // No snapshot anywhere, and forget leaves this source alone in this run (behavior.md).
    block(ctx, source.name, "*");
    ctx.log.warn(`guard: ${guardError.message}`);
    return {
      status: "failed",
      error: guardError,
      targets: opts.repos.map((repo) => skippedTarget(repo, guardError)),
    };
  }

  const progress = createProgressAggregator(opts.repos, (p) => ctx.progress(p));
  const runOne = async (repoName: string): Promise<TargetRecord> => {
    const repo = ctx.config.repositories[repoName];
    if (!repo) {
      block(ctx, source.name, repoName);
      return skippedTarget(
        repoName,
        stepError("config", `unknown repository "${repoName}"`, "define it under repositories:"),
      );
    }
    const started = Date.now();
    const result = await backup(host, repo, {
      ...backupOptionsFor(opts, source, hostName, ctx.job.name),
      onStatus: (status) => progress.update(repoName, status),
    });
    progress.done(repoName);
    const target = targetFor(repoName, result, Date.now() - started, summarizeBackupErrors);
    if (target.snapshot_id && (target.status === "succeeded" || target.status === "warning")) {
      ctx.runState.snapshots.push({
        repo: repoName,
        source: source.name,
        snapshotId: target.snapshot_id,
        step: ctx.step.name,
      });
      ctx.log.info(
        `${repoName}: snapshot ${target.snapshot_id} saved (${String(target.files_new)} new, ${String(target.files_changed)} changed files, ${String(target.data_added)} bytes added)`,
      );
    } else {
      block(ctx, source.name, repoName);
    }
    return target;
  };

  let targets: TargetRecord[];
  if (opts.parallel) targets = await Promise.all(opts.repos.map(runOne));
  else {
    targets = [];
    for (const repo of opts.repos) {
      if (ctx.signal.aborted)
        targets.push(skippedTarget(repo, stepError("cancelled", "not started: the step was stopped")));
      else targets.push(await runOne(repo));
    }
  }
  const unreadable = targets.flatMap((t) =>
    Array.isArray(t.unreadable_paths) ? (t.unreadable_paths as string[]) : [],
  );
  return {
    ...combineTargets(targets),
    summary: {
      source: source.name,
      host: hostName,
      snapshots: targets.filter((t) => typeof t.snapshot_id === "string").length,
      ...(unreadable.length > 0 ? { unreadable_paths: [...new Set(unreadable)].slice(0, 50) } : {}),
    },
  };
}

/** Paths, sentinels, min_files; then max_shrink against each repository's last snapshot of the source. */
async function runGuard(
  ctx: StepContext<BackupOptions>,
  host: ResticHost,
  source: SourceConfig,
  hostName: string,
  stats: typeof statsCommand,
): Promise<StepError | null> {
  const presence = await checkSourcePresence(source, ctx.signal);
  if (presence) return presence;
  const maxShrink = parseMaxShrink(source);
  if (maxShrink === null) return null;
  if (typeof maxShrink === "object") return maxShrink;
  const current = await countEntries(source.paths, {
    oneFileSystem: source.one_file_system,
    signal: ctx.signal,
  });
  for (const repoName of ctx.options.repos) {
    const repo = ctx.config.repositories[repoName];
    if (!repo) continue;
    // `stats --mode restore-size latest` with the source's tags counts the same entries as countEntries.
    const result = await stats(host, repo, ["latest"], "restore-size", {
      tags: [[HOLDFAST_TAG, sourceTag(source.name)]],
      hosts: [hostName],
    });
    if (!result.stats) {
      // The backup itself will fail and say why (missing repository, wrong password, …).
      ctx.log.warn(
        `guard: cannot read the last snapshot of ${source.name} in ${repoName} (${result.outcome.error?.message ?? "no answer"}); max_shrink not checked there`,
      );
      continue;
    }
    if (result.stats.snapshotsCount === 0) {
      ctx.log.info(
        `guard: no earlier snapshot of ${source.name} in ${repoName}; max_shrink has nothing to compare with`,
      );
      continue;
    }
    const previous = Math.max(0, result.stats.totalFileCount - ancestorCount(source.paths));
    const failure = shrinkFailure(source, repoName, maxShrink, previous, current);
    if (failure) return failure;
    ctx.log.info(
      `guard: ${source.name} has ${current} entries; the last snapshot in ${repoName} had ${previous}`,
    );
  }
  return null;
}

function skippedTarget(repo: string, error: StepError | null): TargetRecord {
  return { repo, status: "skipped", duration_ms: null, error, snapshot_id: null };
}

function targetFor(
  repo: string,
  result: BackupResult,
  durationMs: number,
  summarizeBackupErrors: typeof summarizeErrors,
): TargetRecord {
  const { outcome, summary } = result;
  const figures = summary
    ? {
        snapshot_id: summary.snapshotId,
        files_new: summary.filesNew,
        files_changed: summary.filesChanged,
        files_unmodified: summary.filesUnmodified,
        dirs_new: summary.dirsNew,
        dirs_changed: summary.dirsChanged,
        dirs_unmodified: summary.dirsUnmodified,
        data_added: summary.dataAdded,
        ...(summary.dataAddedPacked !== null ? { data_added_packed: summary.dataAddedPacked } : {}),
        total_files_processed: summary.totalFilesProcessed,
        total_bytes_processed: summary.totalBytesProcessed,
        restic_duration_ms: Math.round(summary.totalDuration * 1000),
      }
    : { snapshot_id: null };
  const base = { repo, duration_ms: durationMs, exit_code: outcome.exitCode, ...figures };
  if (outcome.ok) return { ...base, status: "succeeded", error: null };
  // Exit 3: some files could not be read; the snapshot exists (restic-notes.md §2).
  // A damaged repository also answers 3 (its parent tree unreadable), but that is no unreadable file.
  if (outcome.exitCode === 3 && summary?.snapshotId && outcome.error?.kind !== "repository_damaged") {
    const listed = summarizeBackupErrors(result.errors);
    const error = outcome.error ?? stepError("partial", `snapshot saved, but restic ${listed.message}`, null);
    return {
      ...base,
      status: "warning",
      error,
      unreadable_count: listed.paths.length,
      unreadable_paths: listed.paths.slice(0, 20),
    };
  }
  const error =
    outcome.error ??
    stepError("exit_code", `restic backup exited with ${outcome.exitCode ?? outcome.signal ?? "?"}`, null);
  const status: StepStatus =
    error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed";
  return { ...base, status, error };
}

/**
 * One progress bar for all repositories of the step: the figures of each repository's latest status
 * line, added up (percent is the mean, ETA the longest).
 */
function createProgressAggregator(repos: readonly string[], emit: (p: StepProgress) => void) {
  const latest = new Map<string, BackupStatus>();
  const finished = new Set<string>();
  let last = 0;
  const send = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    const names = [...new Set(repos)];
    let percent = 0;
    let bytesDone = 0;
    let bytesTotal = 0;
    let filesDone = 0;
    let filesTotal = 0;
    let eta = 0;
    for (const name of names) {
      const s = latest.get(name);
      if (finished.has(name)) percent += 1;
      else if (s) percent += Math.max(0, Math.min(1, s.percentDone));
      if (!s) continue;
      bytesDone += s.bytesDone;
      bytesTotal += s.totalBytes;
      filesDone += s.filesDone;
      filesTotal += s.totalFiles;
      if (!finished.has(name)) eta = Math.max(eta, s.secondsRemaining);
    }
    const progress: StepProgress = {
      percent: names.length > 0 ? percent / names.length : 0,
      bytesDone,
      bytesTotal,
      filesDone,
      filesTotal,
    };
    if (eta > 0) progress.secondsRemaining = eta;
    if (names.length > 1) progress.label = `${names.length - finished.size} of ${names.length} repositories`;
    emit(progress);
  };
  return {
    update(repo: string, status: BackupStatus) {
      latest.set(repo, status);
      send(false);
    },
    done(repo: string) {
      finished.add(repo);
      if (finished.size < new Set(repos).size) send(true);
    },
  };
}
