import { z } from "zod";
import {
  defineStepKind,
  type StepContext,
  type StepOutcome,
  type StepProgress,
} from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import type { SourceConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import type { StepStatus, TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/host.js";
import type { BackupResult, stats as statsCommand } from "../restic/commands.js";
import type { BackupStatus, summarizeBackupErrors as summarizeErrors } from "../restic/outputs.js";
import { backupArgs, HOLDFAST_TAG, jobTag, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import {
  ancestorCount,
  checkSourcePresence,
  countEntries,
  parseMaxShrink,
  selectionOrError,
  shrinkFailure,
} from "./guard.js";
import { backupOverlap } from "./overlaps.js";
import { combineTargets } from "./targets.js";

const options = {
  source: nameSchema.describe("the source to back up (a name under sources)"),
  repos: z
    .array(nameSchema)
    .min(1, "name at least one repository")
    .describe("the repositories to back up into; each is its own sub-result"),
  tags: z
    .array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces"))
    .default([])
    .describe("restic tags added to holdfast's own (holdfast, source:NAME, job:NAME)"),
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .optional()
    .describe("the host name of the snapshots (default: the config's host)"),
  parallel: z.boolean().default(true).describe("back up into the repositories at the same time"),
  skip_if_unchanged: z
    .boolean()
    .default(false)
    .describe(
      "make no snapshot when nothing changed since the last one (restic 0.17+ --skip-if-unchanged); the step still succeeds, with skipped_unchanged: true",
    ),
  extra_args: z
    .array(z.string())
    .default([])
    .describe("more restic backup arguments, passed as written after holdfast's own"),
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
  resticRequires: (o) =>
    skipIfUnchangedPaths(o).map((path) => ({
      path,
      minVersion: SKIP_IF_UNCHANGED_SINCE,
      what:
        path[0] === "extra_args"
          ? "extra_args --skip-if-unchanged (skip_if_unchanged)"
          : "skip_if_unchanged (restic --skip-if-unchanged)",
      hint: "remove skip_if_unchanged from this step (a snapshot is then made every run; unchanged data adds almost nothing to the repository)",
    })),
  checkWithConfig: (o, config) => backupOverlap(config, o),
  dataFlow: {
    how: "backup",
    of: (o) => ({ source: o.source, repos: o.repos, ...(o.host !== undefined ? { host: o.host } : {}) }),
  },
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

/** restic 0.17.0 added `backup --skip-if-unchanged`. */
const SKIP_IF_UNCHANGED_SINCE = "0.17.0";

// `extra_args: [--skip-if-unchanged]` is the option written as a flag: holdfast treats it as
// skip_if_unchanged (its own flag, its version check, its record), so the two never disagree.
const isSkipFlag = (arg: string) => arg === "--skip-if-unchanged" || arg === "--skip-if-unchanged=true";

/** Where the step asks for --skip-if-unchanged: ["skip_if_unchanged"] and/or ["extra_args", i]. */
function skipIfUnchangedPaths(o: BackupOptions): Array<Array<string | number>> {
  const paths: Array<Array<string | number>> = o.skip_if_unchanged ? [["skip_if_unchanged"]] : [];
  o.extra_args.forEach((arg, i) => {
    if (isSkipFlag(arg)) paths.push(["extra_args", i]);
  });
  return paths;
}

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
    skipIfUnchanged: skipIfUnchangedPaths(opts).length > 0,
    extraArgs: opts.extra_args.filter((arg) => !isSkipFlag(arg) && arg !== "--skip-if-unchanged=false"),
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
  const { resticHostFromStep } = await import("./restic-host.js");
  const { backup, detectRestic, snapshots, stats } = await import("../restic/commands.js");
  const { versionAtLeast } = await import("../restic/version.js");
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
  const skipIfUnchanged = skipIfUnchangedPaths(opts).length > 0;
  // `config validate` and `run` refuse this up front; a daemon or a restic swapped since lands here.
  if (skipIfUnchanged && restic.version && !versionAtLeast(restic.version, SKIP_IF_UNCHANGED_SINCE)) {
    const error = stepError(
      "config",
      `skip_if_unchanged needs restic 0.17 or newer; the configured restic is ${restic.version.text}`,
      "upgrade restic (or set restic.binary to a newer one), or remove skip_if_unchanged from this step",
    );
    block(ctx, source.name, "*");
    return { status: "failed", error, targets: opts.repos.map((repo) => skippedTarget(repo, error)) };
  }

  const guard = await startGuard(ctx, host, source, hostName, stats);
  if ("error" in guard) {
    // No snapshot anywhere, and forget leaves this source alone in this run (behavior.md).
    const guardError = guard.error;
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
    // This repository's own max_shrink verdict (it may still be coming when its backend was slow).
    const verdict = await guard.verdict(repoName);
    if (verdict.shrink) {
      block(ctx, source.name, "*");
      ctx.log.warn(`guard: ${verdict.shrink.message}`);
      return { ...skippedTarget(repoName, verdict.shrink), status: "failed" };
    }
    if (verdict.unreachable) {
      // The guard's restic already spent restic.open_timeout on this backend: a backup would too.
      block(ctx, source.name, repoName);
      return {
        repo: repoName,
        status: "failed",
        duration_ms: verdict.durationMs,
        error: verdict.unreachable,
        snapshot_id: null,
      };
    }
    const started = Date.now();
    const result = await backup(host, repo, {
      ...backupOptionsFor(opts, source, hostName, ctx.job.name),
      onStatus: (status) => progress.update(repoName, status),
    });
    progress.done(repoName);
    const target = targetFor(repoName, result, Date.now() - started, summarizeBackupErrors);
    if (skipIfUnchanged && target.status === "succeeded" && result.summary && !target.snapshot_id) {
      // restic 0.17+ --skip-if-unchanged: nothing changed since the parent snapshot, so none was made
      // (its summary has no snapshot_id). That is a success, retention may run, and the repository's
      // current snapshot is the parent: name it, so records and metrics stay at it.
      const parent = await snapshots(
        host,
        repo,
        { hosts: [hostName], paths: source.paths },
        { noLock: true },
      );
      const latest = parent.snapshots.at(-1);
      target.skipped_unchanged = true;
      target.snapshot_new = false;
      if (latest) {
        target.snapshot_id = latest.id;
        target.short_id = latest.shortId;
        target.snapshot_time = latest.time;
      } else {
        ctx.log.warn(
          `${repoName}: restic made no snapshot (unchanged), and the earlier one could not be listed (${parent.outcome.error?.message ?? "none found"})`,
        );
      }
      ctx.log.info(
        `${repoName}: nothing changed since snapshot ${latest ? latest.shortId : "(unknown)"}${latest ? ` of ${latest.time}` : ""}; no new snapshot (skip_if_unchanged)`,
      );
      return target;
    }
    if (target.snapshot_id && (target.status === "succeeded" || target.status === "warning")) {
      ctx.runState.snapshots.push({
        repo: repoName,
        source: source.name,
        snapshotId: target.snapshot_id,
        step: ctx.step.name,
      });
      ctx.log.info(
        `${repoName}: snapshot ${target.snapshot_id.slice(0, 8)} saved (${String(target.files_new)} new, ${String(target.files_changed)} changed files, ${String(target.data_added)} bytes added)`,
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
  // Bytes restic added, and what they took in the repository after compression (restic 0.17+'s
  // data_added_packed): summed over the repositories that reported them; absent when any of them did
  // not (restic 0.14 – 0.16 print no packed size), never estimated.
  const reported = targets.filter((t) => typeof t.data_added === "number");
  const sum = (key: string) => reported.reduce((n, t) => n + (t[key] as number), 0);
  const added =
    reported.length > 0
      ? {
          data_added: sum("data_added"),
          ...(reported.every((t) => typeof t.data_added_packed === "number")
            ? { data_added_packed: sum("data_added_packed") }
            : {}),
        }
      : {};
  return {
    ...combineTargets(targets),
    summary: {
      source: source.name,
      host: hostName,
      snapshots: targets.filter((t) => typeof t.snapshot_id === "string" && t.skipped_unchanged !== true)
        .length,
      ...(targets.some((t) => t.skipped_unchanged === true)
        ? { unchanged: targets.filter((t) => t.skipped_unchanged === true).length }
        : {}),
      ...added,
      ...(unreadable.length > 0 ? { unreadable_paths: [...new Set(unreadable)].slice(0, 50) } : {}),
    },
  };
}

interface RepoVerdict {
  /** The source shrank by more than max_shrink since this repository's last snapshot of it. */
  shrink: StepError | null;
  /** restic could not open the repository within restic.open_timeout (kind network). */
  unreachable: StepError | null;
  durationMs: number | null;
}

type Guard = { error: StepError } | { verdict(repo: string): Promise<RepoVerdict> };

const PASS: RepoVerdict = { shrink: null, unreachable: null, durationMs: null };

/**
 * Paths, sentinels, min_files; then max_shrink against each repository's last snapshot of the
 * source (behavior.md: "in that repository"). The repositories' `restic stats` run in parallel, and
 * the backups start once every repository has either answered or is still retrying to reach its
 * backend: a shrink any answering repository sees stops the backup everywhere, while a dead
 * backend (restic 0.17+ retries it for up to restic.open_timeout) never delays the healthy ones —
 * its own backup waits for its own verdict.
 */
async function startGuard(
  ctx: StepContext<BackupOptions>,
  host: ResticHost,
  source: SourceConfig,
  hostName: string,
  stats: typeof statsCommand,
): Promise<Guard> {
  // What restic will back up (the excludes applied), read before anything is counted: a missing
  // exclude_file fails here, naming the file, instead of in every repository's restic.
  const { resticCacheDir } = await import("../restic/repository.js");
  const selected = selectionOrError(source, { env: ctx.env, resticCacheDir: resticCacheDir(ctx.config) });
  if ("error" in selected) return { error: selected.error };
  const presence = await checkSourcePresence(source, selected.selection, ctx.signal);
  if (presence) return { error: presence };
  const maxShrink = parseMaxShrink(source);
  if (maxShrink === null) return { verdict: () => Promise.resolve(PASS) };
  if (typeof maxShrink === "object") return { error: maxShrink };
  const current = await countEntries(source.paths, selected.selection, { signal: ctx.signal });

  const checkOne = (repoName: string, onOpenRetry: () => void): Promise<RepoVerdict> => {
    const repo = ctx.config.repositories[repoName];
    if (!repo) return Promise.resolve(PASS);
    const started = Date.now();
    // `stats --mode restore-size latest` with the source's tags counts the same entries as countEntries
    // (test/restic/selection-conformance.test.ts holds the two together).
    return stats(
      host,
      repo,
      ["latest"],
      "restore-size",
      { tags: [[HOLDFAST_TAG, sourceTag(source.name)]], hosts: [hostName] },
      { onOpenRetry },
    ).then((result): RepoVerdict => {
      const durationMs = Date.now() - started;
      if (!result.stats) {
        const error = result.outcome.error;
        if (result.outcome.notOpened && error) {
          ctx.log.warn(`guard: ${repoName}: ${error.message}; no backup there in this run`);
          return { shrink: null, unreachable: error, durationMs };
        }
        // The backup itself will fail and say why (missing repository, wrong password, …).
        ctx.log.warn(
          `guard: cannot read the last snapshot of ${source.name} in ${repoName} (${error?.message ?? "no answer"}); max_shrink not checked there`,
        );
        return PASS;
      }
      if (result.stats.snapshotsCount === 0) {
        ctx.log.info(
          `guard: no earlier snapshot of ${source.name} in ${repoName}; max_shrink has nothing to compare with`,
        );
        return PASS;
      }
      const previous = Math.max(0, result.stats.totalFileCount - ancestorCount(source.paths));
      const failure = shrinkFailure(source, repoName, maxShrink, previous, current);
      if (!failure)
        ctx.log.info(
          `guard: ${source.name} has ${current} entries to back up (excludes left out); the last snapshot in ${repoName} had ${previous}`,
        );
      return { shrink: failure, unreachable: null, durationMs };
    });
  };

  const verdicts = new Map<string, Promise<RepoVerdict>>();
  const answered: RepoVerdict[] = [];
  const answeredOrRetrying: Array<Promise<unknown>> = [];
  for (const repoName of new Set(ctx.options.repos)) {
    let retrying!: () => void;
    const firstRetry = new Promise<void>((resolve) => (retrying = resolve));
    const verdict = checkOne(repoName, () => retrying()).then((v) => {
      answered.push(v);
      return v;
    });
    verdicts.set(repoName, verdict);
    answeredOrRetrying.push(Promise.race([verdict, firstRetry]));
  }
  await Promise.all(answeredOrRetrying);
  // A shrink seen by any repository that answered stops the backup to every repository.
  const shrink = answered.find((v) => v.shrink !== null)?.shrink;
  if (shrink) return { error: shrink };
  return { verdict: (repo) => verdicts.get(repo) ?? Promise.resolve(PASS) };
}

export function skippedTarget(repo: string, error: StepError | null): TargetRecord {
  return { repo, status: "skipped", duration_ms: null, error, snapshot_id: null };
}

export function targetFor(
  repo: string,
  result: BackupResult,
  durationMs: number,
  summarizeBackupErrors: typeof summarizeErrors,
): TargetRecord {
  const { outcome, summary } = result;
  const figures = summary
    ? {
        snapshot_id: summary.snapshotId,
        short_id: summary.snapshotId === null ? null : summary.snapshotId.slice(0, 8),
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
        // restic 0.18.0 reports total_duration -9223372036.85 for a skipped (unchanged) backup: the
        // parser makes an impossible figure null (BackupSummary.impossible), and it is not recorded.
        ...(summary.totalDuration !== null
          ? { restic_duration_ms: Math.round(summary.totalDuration * 1000) }
          : {}),
        // 0.18+; restic's own clock for the backup (a year-1 backup_end is dropped by the parser).
        ...(summary.backupStart !== null ? { backup_start: summary.backupStart } : {}),
        ...(summary.backupEnd !== null ? { backup_end: summary.backupEnd } : {}),
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
