// The runner of `verify` (definition: verify.ts); a drill with `database:` is verify-database.ts.
// A drill of files: per repository (repositories in parallel, one restic command at a time per
// repository): the latest snapshot holdfast made of the source on this host; its listing
// (`restic ls --json`, streamed: only regular files are looked at, a reservoir keeps the sample and
// nothing else); the sampled files whose source still has the snapshot's size and mtime are read back
// from the repository and their sha256 compared with the source's; files changed since are
// `skipped_changed`. The snapshot's regular-file count is compared with the source's current count
// within `count_tolerance`. A mismatch fails the repository with kind `anomaly`; a restic read error
// (a corrupted pack, a dead backend) fails it with restic's own classified kind, reported per file.
//
// Reading back: ONE `restic restore --include P1 --include P2 …` into a private temp dir (0700,
// removed afterwards), not one `restic dump` per file. Every restic command pays the repository's
// scrypt KDF (~0.6 s): measured here with restic 0.14 on a local repository, 25 sampled files of
// 100 KB took 17.6 s as 25 `dump | sha256sum` and 0.8 s as one restore with 25 includes. On a
// 100,000-file snapshot a single `dump` took ~1.9 s (it loads the index and walks to the file), a
// restore with 25 / 100 / 400 includes 3.4 / 10.7 / 19 s (restic matches every node against every
// include, so it grows with the sample, but stays far below one dump per file); the whole drill
// there: 25 files in 11 s, 1% (1,000 files) in 70 s, at 90–100 MB RSS (the listing is streamed). restore
// also keeps binary content intact without a byte-stream door to child processes, and reports a
// damaged file as `ignoring error for PATH: …` (e.g. "ciphertext verification failed"), which is
import fs from "node:fs";
import path from "node:path";
import { defineStepRunner, type StepContext, type StepOutcome } from "../engine/step-kind.js";
import type { RepositoryConfig, SourceConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import type { StepStatus, TargetRecord } from "../store/types.js";
import { runRestic } from "../restic/exec.js";
import type { ResticHost } from "../restic/host.js";
import { resticHostFromStep } from "./restic-host.js";
import { detectRestic, HOLDFAST_TAG, ls, snapshots, sourceTag } from "../restic/commands.js";
import { sourceScopes } from "./scope.js";
import { combineTargets } from "./targets.js";
import { selectionOrError } from "./guard.js";
import { resticCacheDir } from "../restic/repository.js";
import { countSelection } from "../sources/selection.js";
import {
  describeTolerance,
  includePattern,
  parseRestoreError,
  randomSeed,
  Reservoir,
  resolveReplacedPath,
  reservoirCapacity,
  sampleSize,
  sha256File,
  sourceUnchanged,
  withinTolerance,
  type SampledFile,
} from "./verify-sample.js";
import { seededRandom } from "../util/seeded-random.js";
import { makePrivateTempDir } from "../util/private-temp.js";
import { describeSample, verifyStep, type VerifyOptions } from "./verify.js";
import { runDatabaseDrill } from "./verify-database.js";

const RESTORE_BATCH_BYTES = 1 << 30;
const RESTORE_BATCH_FILES = 500;
const LISTED = 10;

export const verifyRunner = defineStepRunner(verifyStep, (ctx) =>
  ctx.options.database !== undefined ? runDatabaseDrill(ctx, ctx.options.database) : runVerify(ctx),
);

async function runVerify(ctx: StepContext<VerifyOptions>): Promise<StepOutcome> {
  const opts = ctx.options;
  const source = ctx.config.sources[opts.source];
  if (!source) {
    return {
      status: "failed",
      error: stepError("config", `unknown source "${opts.source}"`, "define it under sources:"),
    };
  }
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error) {
    return {
      status: "failed",
      error: restic.error,
      targets: opts.repos.map((repo) => skipped(repo, restic.error)),
    };
  }
  const host = resticHostFromStep(ctx);
  const hosts = sourceScopes(ctx, [source.name])[0]?.hosts ?? [ctx.host];
  const seed = opts.seed ?? randomSeed();
  ctx.log.info(
    `restore drill of ${source.name} (hosts ${hosts.join(", ")}); sample ${describeSample(opts.sample)}, seed ${seed}`,
  );

  // The source's count is the same for every repository: walk it once, alongside the restic work.
  // What the source backs up (its excludes, as restic applies them): a missing exclude_file fails
  // the drill here, naming the file.
  const selected = selectionOrError(source, { env: ctx.env, resticCacheDir: resticCacheDir(ctx.config) });
  if ("error" in selected) {
    const error = selected.error;
    return { status: "failed", error, targets: opts.repos.map((repo) => skipped(repo, error)) };
  }
  const sourceCount = countSelection(source.paths, selected.selection, { signal: ctx.signal }).then(
    (count) => count.regularFiles,
  );

  const targets = await Promise.all(
    opts.repos.map(async (name, i): Promise<TargetRecord> => {
      const repo = ctx.config.repositories[name];
      if (!repo)
        return skipped(
          name,
          stepError("config", `unknown repository "${name}"`, "define it under repositories:"),
        );
      const started = Date.now();
      try {
        // Each repository its own stream of random numbers, all replayable from the one seed.
        const target = await drill(ctx, host, repo, source, hosts, seededRandom(seed + i), sourceCount);
        return { ...target, duration_ms: Date.now() - started };
      } catch (err) {
        return {
          repo: name,
          status: "failed",
          duration_ms: Date.now() - started,
          error: stepError("internal", `restore drill failed: ${(err as Error).message}`, null),
        };
      }
    }),
  );

  const at = new Date().toISOString();
  for (const t of targets) {
    if (t.status === "succeeded") ctx.runState.drillsPassed.push({ repo: t.repo, source: source.name, at });
  }
  const sum = (key: string) => targets.reduce((n, t) => n + (typeof t[key] === "number" ? t[key] : 0), 0);
  return {
    ...combineTargets(targets),
    summary: {
      source: source.name,
      seed,
      sampled: sum("sampled"),
      matched: sum("matched"),
      mismatched: sum("mismatched"),
      read_errors: sum("read_errors"),
      skipped_changed: sum("skipped_changed"),
      passed: targets.filter((t) => t.status === "succeeded").map((t) => t.repo),
    },
  };
}

interface FileProblem {
  path: string;
  reason: string;
}

async function drill(
  ctx: StepContext<VerifyOptions>,
  host: ResticHost,
  repo: RepositoryConfig,
  source: SourceConfig,
  hosts: string[],
  random: () => number,
  sourceCount: Promise<number>,
): Promise<TargetRecord> {
  const opts = ctx.options;
  const name = repo.name;
  const listed = await snapshots(host, repo, { tags: [[HOLDFAST_TAG, sourceTag(source.name)]], hosts });
  if (!listed.outcome.ok) return failed(name, listed.outcome.error, listed.outcome.exitCode);
  const latest = listed.snapshots.at(-1);
  if (!latest) {
    return failed(
      name,
      stepError(
        "not_found",
        `no snapshot of ${source.name} made by holdfast on ${hosts.join(", ")} in ${name}`,
        "a drill needs a snapshot: run the backup step of this source first",
      ),
      null,
    );
  }

  // The listing is streamed: one node at a time, only regular files offered to the reservoir.
  const reservoir = new Reservoir<SampledFile>(reservoirCapacity(opts.sample), random);
  const listing = await ls(host, repo, latest.id, (node) => {
    if (node.type === "file") reservoir.offer({ path: node.path, size: node.size, mtime: node.mtime });
  });
  if (!listing.outcome.ok) return failed(name, listing.outcome.error, listing.outcome.exitCode, latest.id);
  const snapshotFiles = reservoir.seen;
  const sample = reservoir.take(sampleSize(opts.sample, snapshotFiles));

  const unchanged: SampledFile[] = [];
  const skippedChanged: FileProblem[] = [];
  for (const file of sample) {
    // A name that is not UTF-8 came with U+FFFD in restic's JSON: find its real bytes in the source.
    if (file.path.includes("\uFFFD")) {
      const resolved = await resolveReplacedPath(file.path);
      if ("problem" in resolved) {
        skippedChanged.push({
          path: file.path,
          reason:
            resolved.problem === "removed"
              ? "removed"
              : "its name is not UTF-8 and reads the same as another name in its directory",
        });
        continue;
      }
      file.raw = resolved.raw;
    }
    const check = await sourceUnchanged(file);
    if (check.changed) skippedChanged.push({ path: file.path, reason: check.reason });
    else unchanged.push(file);
  }

  const mismatched: FileProblem[] = [];
  const readErrors: FileProblem[] = [];
  let matched = 0;
  let resticError: StepError | null = null;
  let exitCode: number | null = 0;
  for (const batch of batches(unchanged)) {
    if (ctx.signal.aborted) break;
    const result = await readBack(host, repo, latest.id, batch, async (file, restored, error) => {
      if (error !== null) {
        readErrors.push({ path: file.path, reason: error });
        return;
      }
      const [original, copy] = await Promise.all([
        sha256File(file.raw ?? file.path).catch(() => null),
        sha256File(restored).catch((err: NodeJS.ErrnoException) => err),
      ]);
      if (typeof copy !== "string") {
        readErrors.push({
          path: file.path,
          reason: `restored copy unreadable: ${copy.code ?? copy.message}`,
        });
        return;
      }
      // A file written to (or removed) while we read it is a change, not damage.
      const after = await sourceUnchanged(file);
      if (after.changed || original === null)
        skippedChanged.push({
          path: file.path,
          reason: after.changed ? after.reason : "unreadable during the drill",
        });
      else if (original === copy) matched++;
      else
        mismatched.push({
          path: file.path,
          reason: `sha256 ${copy.slice(0, 12)}… in the snapshot ≠ ${original.slice(0, 12)}… in the source`,
        });
    });
    if (result.error && !resticError) {
      resticError = result.error;
      exitCode = result.exitCode;
    }
  }
  for (const p of [...readErrors, ...mismatched]) ctx.log.warn(`${name}: ${p.path}: ${p.reason}`);

  const current = await sourceCount;
  const countOk = withinTolerance(opts.count_tolerance, snapshotFiles, current);
  const figures = {
    snapshot_id: latest.id,
    short_id: latest.shortId,
    snapshot_time: latest.time,
    sampled: sample.length,
    matched,
    mismatched: mismatched.length,
    read_errors: readErrors.length,
    skipped_changed: skippedChanged.length,
    snapshot_files: snapshotFiles,
    source_files: current,
    ...(mismatched.length > 0 ? { mismatched_paths: mismatched.slice(0, LISTED).map((p) => p.path) } : {}),
    ...(readErrors.length > 0 ? { read_error_files: readErrors.slice(0, LISTED) } : {}),
    ...(skippedChanged.length > 0
      ? { skipped_paths: skippedChanged.slice(0, LISTED).map((p) => p.path) }
      : {}),
  };
  ctx.log.info(
    `${name}: snapshot ${latest.shortId}: ${sample.length} sampled, ${matched} matched, ${mismatched.length} mismatched, ${readErrors.length} unreadable, ${skippedChanged.length} changed since; ${snapshotFiles} files in the snapshot, ${current} in the source`,
  );

  let error: StepError | null = null;
  if (mismatched.length > 0) {
    error = stepError(
      "anomaly",
      `${mismatched.length} of ${sample.length} sampled files read back from snapshot ${latest.shortId} differ from the source: ${listPaths(mismatched)}`,
      "the repository returned content that does not match the unchanged source file: run `restic check --read-data` on this repository (a check step with read_data_subset: 100%) and keep the source until it is explained",
    );
  } else if (readErrors.length > 0 || resticError) {
    const kind = resticError?.kind ?? "exit_code";
    const perFile =
      readErrors.length > 0
        ? `: ${readErrors
            .slice(0, LISTED)
            .map((p) => `${p.path} (${p.reason})`)
            .join("; ")}`
        : "";
    error = stepError(
      kind,
      `restic could not read ${readErrors.length > 0 ? `${readErrors.length} of ${sample.length} sampled files` : "the sample"} back from snapshot ${latest.shortId}${perFile}${resticError && readErrors.length === 0 ? `: ${resticError.message}` : ""}`,
      (readErrors.length > 0 ? null : resticError?.hint) ??
        "the repository returned damaged or no data for these files: run `restic check --read-data` on it (holdfast check with read_data_subset: 100%); restic 0.16+ can `repair packs`/`repair snapshots`; until then these files are only as safe as your other repositories",
    );
  } else if (ctx.signal.aborted) {
    error = stepError("cancelled", "the drill was stopped", null);
  } else if (sample.length > 0 && matched === 0) {
    // Nothing was compared: the drill proved nothing about this repository, so it did not pass.
    error = stepError(
      "anomaly",
      `the drill compared none of the ${sample.length} sampled files of snapshot ${latest.shortId}: all changed since the snapshot or could not be found in the source (${listReasons(skippedChanged)})`,
      "run the drill right after the backup of this source, sample more files (sample: 5%), or drill a source that changes less between backups",
    );
  } else if (!countOk) {
    error = stepError(
      "anomaly",
      `snapshot ${latest.shortId} holds ${snapshotFiles} files, the source now ${current}: more apart than count_tolerance ${describeTolerance(opts.count_tolerance)}`,
      "files were added or removed since the snapshot, or the backup missed part of the source: look at the manifest diff and run the backup again",
    );
  }
  const status: StepStatus = error ? (error.kind === "cancelled" ? "cancelled" : "failed") : "succeeded";
  return { repo: name, status, duration_ms: null, error, exit_code: error ? (exitCode ?? 1) : 0, ...figures };
}

function listReasons(problems: FileProblem[]): string {
  return problems
    .slice(0, 3)
    .map((p) => `${p.path}: ${p.reason}`)
    .concat(problems.length > 3 ? [`… ${problems.length - 3} more`] : [])
    .join("; ");
}

function listPaths(problems: FileProblem[]): string {
  const shown = problems.slice(0, LISTED).map((p) => p.path);
  return `${shown.join(", ")}${problems.length > LISTED ? `, … (${problems.length - LISTED} more)` : ""}`;
}

function* batches(files: SampledFile[]): Generator<SampledFile[]> {
  let batch: SampledFile[] = [];
  let bytes = 0;
  for (const file of files) {
    if (
      batch.length > 0 &&
      (bytes + file.size > RESTORE_BATCH_BYTES || batch.length >= RESTORE_BATCH_FILES)
    ) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(file);
    bytes += file.size;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Restores `files` of the snapshot into a private temp dir with one restic command, then calls
 * `each` for every file with its restored copy, or restic's error for it. The dir is removed after.
 */
async function readBack(
  host: ResticHost,
  repo: RepositoryConfig,
  snapshotId: string,
  files: SampledFile[],
  each: (file: SampledFile, restored: string | Buffer, error: string | null) => Promise<void>,
): Promise<{ error: StepError | null; exitCode: number | null }> {
  // 0700: restored copies of private files stay private; named with our pid, so a killed run's copies
  // are removed by the next holdfast that makes such a directory.
  const dir = makePrivateTempDir("holdfast-drill-");
  try {
    const fileErrors = new Map<string, string>();
    const args = ["restore", snapshotId, "--target", dir];
    for (const f of files) args.push("--include", includePattern(f.path));
    const outcome = await runRestic(host, {
      repo,
      args,
      stopBeforeDeadline: true,
      onStdout: (line) => host.log.logOnly(`[${repo.name}] ${line}`),
      onStderr: (line) => {
        const e = parseRestoreError(line);
        if (!e) return false;
        // restic may report a damaged file twice ("ciphertext verification failed", then its utimes): keep the first.
        if (!fileErrors.has(e.path)) fileErrors.set(e.path, e.message);
        host.log.output(`[${repo.name}] ${line}`, "stderr");
        return true;
      },
    });
    for (const file of files) {
      const restored = file.raw ? Buffer.concat([Buffer.from(dir), file.raw]) : path.join(dir, file.path);
      const reported = fileErrors.get(file.path);
      if (reported !== undefined) await each(file, restored, `restic: ${reported}`);
      else if (!fs.existsSync(restored))
        await each(
          file,
          restored,
          outcome.ok
            ? "not restored by restic"
            : `not restored (${outcome.error?.message ?? "restic failed"})`,
        );
      else await each(file, restored, null);
    }
    return { error: outcome.ok ? null : outcome.error, exitCode: outcome.exitCode };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

function skipped(repo: string, error: StepError | null): TargetRecord {
  return { repo, status: "skipped", duration_ms: null, error };
}

function failed(
  repo: string,
  error: StepError | null,
  exitCode: number | null,
  snapshotId: string | null = null,
): TargetRecord {
  const e = error ?? stepError("exit_code", "restic failed", null);
  return {
    repo,
    status: e.kind === "cancelled" ? "cancelled" : e.kind === "timeout" ? "timed_out" : "failed",
    duration_ms: null,
    error: e,
    exit_code: exitCode,
    snapshot_id: snapshotId,
    short_id: snapshotId === null ? null : snapshotId.slice(0, 8),
  };
}
