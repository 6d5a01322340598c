// `backup`'s runner: detect restic, run the source guard (max_shrink against each repository's last
// snapshot), then restic backup into each repository, in parallel unless `parallel: false`, with one
// progress bar over all of them. The definition is backup.ts.
import { defineStepRunner, type StepContext, type StepProgress } from "../engine/step-kind.js";
import type { SourceConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/host.js";
import { sourceFilter } from "../sources/adopt.js";
import { backup, detectRestic, snapshots, stats } from "../restic/commands.js";
import { summarizeBackupErrors, type BackupStatus } from "../restic/outputs.js";
import { resticCacheDir } from "../restic/repository.js";
import { versionAtLeast } from "../restic/version.js";
import {
  ancestorCount,
  checkSourcePresence,
  countEntries,
  parseMaxShrink,
  selectionOrError,
  shrinkFailure,
} from "./guard.js";
import { resticHostFromStep } from "./restic-host.js";
import { combineTargets } from "./targets.js";
import {
  backupOptionsFor,
  backupStep,
  SKIP_IF_UNCHANGED_SINCE,
  skipIfUnchangedPaths,
  type BackupOptions,
} from "./backup.js";
import { skippedTarget, targetFor } from "./backup-targets.js";

// The terminal redraws at 10/s; more progress updates than that are wasted work.
const PROGRESS_INTERVAL_MS = 200;

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

export const backupRunner = defineStepRunner(backupStep, async (ctx) => {
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

  const guard = await startGuard(ctx, host, source, hostName);
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
});

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
): Promise<Guard> {
  // What restic will back up (the excludes applied), read before anything is counted: a missing
  // exclude_file fails here, naming the file, instead of in every repository's restic.
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
      // The last snapshot of the source, holdfast's or one it adopts from the tool used before (issue 17).
      sourceFilter(source, [hostName]),
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
    let currentFile: string | undefined;
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
      if (!finished.has(name)) currentFile ??= s.currentFiles[0];
    }
    const progress: StepProgress = {
      percent: names.length > 0 ? percent / names.length : 0,
      bytesDone,
      bytesTotal,
      filesDone,
      filesTotal,
    };
    if (eta > 0) progress.secondsRemaining = eta;
    if (currentFile !== undefined) progress.currentFile = currentFile;
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
