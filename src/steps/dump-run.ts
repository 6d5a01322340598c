// The runner of the `dump` step (definition: dump.ts). For each database of the step, one dump is
// streamed into `restic backup` of each repository; no temporary file (SQLite excepted, see
// dump/sqlite-copy.ts) and flat memory — the dump's bytes go from process to process through FIFOs
// (64 KiB each), never through holdfast, so a slow repository slows the dump instead of filling memory.
//
// Two ways to reach restic, chosen per dump (fan_out):
//   - tee: the dump runs once; coreutils' tee copies it into one FIFO per repository, each read by
//     `restic backup --stdin` (viaFifoTee). restic's input ends only after the dump and tee exited 0;
//     a dump that fails (non-zero exit, killed, cut short) stops every restic before it sees the end of
//     its input, so no snapshot is made. Should restic have saved one anyway (it read EOF first), it is
//     forgotten by id.
//   - per_repo: one dump per repository. On restic 0.17+ restic runs the dump itself
//     (`--stdin-from-command`) and saves no snapshot when it exits non-zero; before 0.17 the dump
//     writes into a FIFO that restic reads (viaPipe, mode `pipe` for one repository).
// The record (targets, one per database × repository) says what happened to a failed dump's snapshot:
// partial_snapshot "never_created", "forgotten" (with its id) or "forget_failed".
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StepContext, StepOutcome } from "../engine/step-kind.js";
import { stepError, type StepError } from "../errors.js";
import type { RepositoryConfig } from "../config/schema.js";
import type { StepRecord, TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/host.js";
import type * as ResticCommands from "../restic/commands.js";
import type { BackupResult } from "../restic/commands.js";
import { describeExit, type ProcessResult } from "../util/process.js";
import { makePrivateTempDir } from "../util/private-temp.js";
import { formatBytes } from "../util/units.js";
import { prepareCredentials } from "../dump/credentials.js";
import { dumpUnits, hostLabel, stdinFilename, type DumpUnit } from "../dump/drivers.js";
import { skippedTarget, targetFor } from "./backup.js";
import { combineTargets } from "./targets.js";
import { dumpSourceName, dumpTags, dumpTarget } from "../dump/naming.js";
import type { DumpOptions } from "./dump.js";

/** After stopping restic, how long before its stdin is closed (restic 0.18 waits for it to exit). */
const STOP_THEN_CLOSE_MS = 1_000;
const STDIN_FROM_COMMAND_SINCE = "0.17.0";

type Commands = typeof ResticCommands;

interface DumpSummary {
  database: string;
  filename: string;
  format: DumpUnit["format"];
  mode: "pipe" | "tee" | "per_repo" | "stdin_from_command";
  /** Bytes of the dump (as restic counted them, or as streamed). */
  size: number | null;
  status: "succeeded" | "failed";
  duration_ms: number;
  error?: string;
}

export async function runDump(ctx: StepContext<DumpOptions>): Promise<StepOutcome> {
  const { resticHostFromStep } = await import("./restic-host.js");
  const commands = await import("../restic/commands.js");
  const { versionAtLeast } = await import("../restic/version.js");
  const { resticHostForCli } = await import("../restic/host.js");
  const opts = ctx.options;
  const restic = await commands.detectRestic(ctx.config, ctx.env);
  if (restic.error)
    return {
      status: "failed",
      error: restic.error,
      targets: opts.repos.map((repo) => skippedTarget(repo, restic.error)),
    };
  const fromCommand = versionAtLeast(restic.version, STDIN_FROM_COMMAND_SINCE);
  // restic 0.18.0 refuses a --stdin-filename with a directory (restic #5324, fixed in 0.18.1).
  const flatName = restic.version?.text.startsWith("0.18.0") ?? false;
  const target = dumpTarget(opts);
  const prepared = prepareCredentials(opts.engine, opts.password_file);
  if ("kind" in prepared)
    return { status: "failed", error: prepared, targets: opts.repos.map((r) => skippedTarget(r, prepared)) };

  const host = resticHostFromStep(ctx);
  // Forgetting a failed dump's snapshot must happen even when the step was cancelled (its signal has
  // fired): a host of its own, with a short deadline of its own.
  const cleanupHost = () =>
    resticHostForCli(ctx.config, { env: ctx.env, log: ctx.log, deadline: Date.now() + 120_000 });
  const snapshotHost = opts.snapshot_host ?? ctx.host;
  const label = hostLabel(target, ctx.host);
  const history = await previousSizes(ctx);
  ctx.log.info(
    `restic ${restic.version?.text ?? "(unknown version)"}; ${opts.engine} dump into ${opts.repos.join(", ")} as source ${dumpSourceName(opts)}`,
  );

  const targets: TargetRecord[] = [];
  const summaries: DumpSummary[] = [];
  try {
    for (const unit of dumpUnits(target, prepared.creds)) {
      const filename = stdinFilename(opts.engine, label, unit.database, flatName);
      if (ctx.signal.aborted) {
        for (const repo of opts.repos)
          targets.push({
            ...skippedTarget(repo, stepError("cancelled", "not started: the step was stopped")),
            database: unit.database,
          });
        continue;
      }
      // One repository (or one dump per repository): restic reads the dump itself (0.17+) or straight
      // from a FIFO the dump writes into (no copy through holdfast); several: one dump, teed.
      const single = opts.repos.length === 1 || opts.fan_out === "per_repo";
      const mode: DumpSummary["mode"] =
        unit.argv === null
          ? opts.fan_out === "per_repo" && opts.repos.length > 1
            ? "per_repo"
            : "tee"
          : single && opts.fan_out !== "tee" && fromCommand
            ? "stdin_from_command"
            : single && (opts.fan_out !== "tee" || opts.repos.length === 1)
              ? opts.repos.length > 1
                ? "per_repo"
                : "pipe"
              : "tee";
      const started = Date.now();
      const tags = dumpTags(opts, ctx.job.name, unit.database);
      const base = { host: snapshotHost, tags, filename };
      let results: UnitResult;
      if (mode === "stdin_from_command") {
        const all = await Promise.all(
          opts.repos.map((name) => viaStdinFromCommand(ctx, host, commands, name, unit, base)),
        );
        results = { dump: okDump(null), repos: all.flatMap((r) => r.repos) };
      } else if (mode === "per_repo" || mode === "pipe") {
        const all: UnitResult[] = [];
        for (const name of opts.repos) {
          const one =
            unit.argv !== null
              ? await viaPipe(ctx, host, commands, name, unit, base)
              : await viaSqliteCopy(ctx, host, commands, [name], unit, base);
          for (const r of one.repos) r.dumpError = one.dump.error;
          all.push(one);
        }
        results = { dump: okDump(null), repos: all.flatMap((r) => r.repos) };
      } else {
        results =
          unit.argv !== null
            ? await viaFifoTee(ctx, host, commands, opts.repos, unit, base)
            : await viaSqliteCopy(ctx, host, commands, opts.repos, unit, base);
      }

      const failures: StepError[] = [];
      let size: number | null = null;
      for (const r of results.repos) {
        // The size of this dump: as streamed (tee), else what restic stored.
        const repoSize = results.dump.bytes ?? r.result?.summary?.totalBytesProcessed ?? null;
        const dumpError = r.dumpError !== undefined ? r.dumpError : results.dump.error;
        const guardError = dumpError === null ? guardDump(opts, unit.database, repoSize, history) : null;
        const failure = dumpError ?? guardError;
        if (failure) failures.push(failure);
        if (failure === null && r.result?.outcome.ok) size ??= repoSize;
        const t = await recordTarget(ctx, cleanupHost, commands, r, failure, guardError !== null);
        targets.push({
          ...t,
          database: unit.database,
          filename,
          mode,
          ...(repoSize !== null ? { dump_size: repoSize } : {}),
        });
        if (t.snapshot_id && (t.status === "succeeded" || t.status === "warning"))
          ctx.runState.snapshots.push({
            repo: r.repo,
            source: dumpSourceName(opts),
            snapshotId: t.snapshot_id,
            step: ctx.step.name,
          });
      }
      const failure = results.dump.error ?? failures[0] ?? null;
      summaries.push({
        database: unit.database,
        filename,
        format: unit.format,
        mode,
        size,
        status: failure === null && results.repos.every((r) => r.result?.outcome.ok) ? "succeeded" : "failed",
        duration_ms: Date.now() - started,
        ...(failure ? { error: failure.message } : {}),
      });
      if (failure === null && size !== null)
        ctx.log.info(
          `${unit.database}: ${formatBytes(size)} dumped in ${((Date.now() - started) / 1000).toFixed(1)} s (${mode})`,
        );
    }
  } finally {
    prepared.cleanup();
  }
  return {
    ...combineTargets(targets),
    summary: {
      engine: opts.engine,
      source: dumpSourceName(opts),
      host: snapshotHost,
      databases: summaries,
      snapshots: targets.filter((t) => typeof t.snapshot_id === "string" && t.status !== "failed").length,
    },
  };
}

interface DumpRun {
  /** null when the dump succeeded. */
  error: StepError | null;
  /** Bytes streamed (tee); null when restic read the dump itself. */
  bytes: number | null;
  exitCode: number | null;
}
const okDump = (bytes: number | null): DumpRun => ({ error: null, bytes, exitCode: 0 });

interface RepoRun {
  repo: string;
  repoConfig: RepositoryConfig | null;
  result: BackupResult | null;
  durationMs: number;
  /** holdfast stopped this restic before the end of its input (the dump failed). */
  stoppedBeforeEnd: boolean;
  /** This repository's own dump failed (per_repo, --stdin-from-command); undefined: the shared dump's. */
  dumpError?: StepError | null;
}
interface UnitResult {
  dump: DumpRun;
  repos: RepoRun[];
}

interface UnitBase {
  host: string;
  tags: string[];
  filename: string;
}

/** A host whose restic can also be stopped by holdfast (the dump failed). */
function stoppableHost(host: ResticHost, stop: AbortSignal): ResticHost {
  return {
    ...host,
    exec: (command, args, options) =>
      host.exec(command, args, {
        ...options,
        stopSignal: options.stopSignal ? AbortSignal.any([options.stopSignal, stop]) : stop,
      }),
  };
}

/** A host whose restic reads its stdin from this file descriptor. */
function stdinFromFd(host: ResticHost, fd: number): ResticHost {
  return { ...host, exec: (command, args, options) => host.exec(command, args, { ...options, stdinFd: fd }) };
}

/**
 * A FIFO of which holdfast holds both ends: its reader (handed to restic as stdin) and a writer, so
 * that restic sees the end of its input only when holdfast closes that writer — after the dump exited 0.
 */
interface HeldFifo {
  path: string;
  readFd: number;
  writeFd: number;
}

/** Opens both ends of a FIFO without blocking: a reader first (no writer yet), then the writer, which a
 * reader lets open, then restic's reader, a blocking one like a shell's pipe (the first is closed). */
function openFifo(file: string): HeldFifo {
  const opening = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const writeFd = fs.openSync(file, fs.constants.O_WRONLY);
    try {
      return { path: file, readFd: fs.openSync(file, fs.constants.O_RDONLY), writeFd };
    } catch (err) {
      fs.closeSync(writeFd);
      throw err;
    }
  } finally {
    fs.closeSync(opening);
  }
}

/** FIFOs (0600) in a private directory (0700), both ends open; null when this system cannot make them. */
async function makeFifos(
  ctx: StepContext<DumpOptions>,
  names: readonly string[],
): Promise<{ dir: string; fifos: HeldFifo[] } | null> {
  let dir: string | null = null;
  const fifos: HeldFifo[] = [];
  try {
    // holdfast-dump-PID.XXXXXX: a SIGKILLed run's is removed by the next private temp dir made.
    dir = makePrivateTempDir("holdfast-dump-");
    const at = dir;
    const paths = names.map((n) => path.join(at, n));
    const made = await ctx.exec("mkfifo", ["-m", "600", ...paths], { onLine: () => undefined });
    if (made.exitCode !== 0) throw new Error(describeExit(made));
    for (const p of paths) fifos.push(openFifo(p));
    return { dir, fifos };
  } catch (err) {
    for (const f of fifos) {
      fs.closeSync(f.readFd);
      fs.closeSync(f.writeFd);
    }
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
    ctx.log.warn(`cannot make a FIFO in ${os.tmpdir()}: ${(err as Error).message}`);
    return null;
  }
}

/** The step's result when no FIFO can be made (the dump is never streamed through holdfast). */
function noFifo(repos: readonly string[], ctx: StepContext<DumpOptions>): UnitResult {
  const error = stepError(
    "permission",
    `cannot make a FIFO in ${os.tmpdir()} for the dump (see the step log)`,
    "run holdfast with TMPDIR set to a local directory it may write, on a filesystem with FIFOs (e.g. /tmp)",
  );
  return notStarted(ctx, repos, error);
}

/** The dump failed before any restic started: every repository's target says why. */
function notStarted(ctx: StepContext<DumpOptions>, repos: readonly string[], error: StepError): UnitResult {
  return {
    dump: { error, bytes: null, exitCode: null },
    repos: repos.map((repo) => ({
      repo,
      repoConfig: ctx.config.repositories[repo] ?? null,
      result: null,
      durationMs: 0,
      stoppedBeforeEnd: false,
    })),
  };
}

/** Closes file descriptors once each. */
function fdCloser(): { add(fd: number): number; close(fd: number): void; closeAll(): void } {
  const open = new Set<number>();
  return {
    add: (fd) => {
      open.add(fd);
      return fd;
    },
    close: (fd) => {
      if (open.delete(fd)) fs.closeSync(fd);
    },
    closeAll: () => {
      for (const fd of open) fs.closeSync(fd);
      open.clear();
    },
  };
}

/**
 * One dump into one repository through a FIFO (restic before 0.17): the dump writes into it, restic
 * reads from it, and the bytes never pass through holdfast (a copy through Node's streams costs about
 * 35 MB of buffers in flight, measured in bench/p8-dump.mjs). holdfast keeps a write end of the FIFO
 * open itself, so restic sees the end of its input only when holdfast closes it — after the dump
 * exited 0; a failed dump stops restic first. A restic started again after a stale lock was removed
 * reads the FIFO from the start: restic locks the repository before it reads stdin.
 */
async function viaPipe(
  ctx: StepContext<DumpOptions>,
  host: ResticHost,
  commands: Commands,
  name: string,
  unit: DumpUnit,
  base: UnitBase,
): Promise<UnitResult> {
  const repoConfig = ctx.config.repositories[name] ?? null;
  if (!repoConfig) return unknownRepository(name);
  const made = await makeFifos(ctx, ["stream"]);
  if (!made) return noFifo([name], ctx);
  // Both ends are open: the name is not needed any more.
  fs.rmSync(made.dir, { recursive: true, force: true });
  const fifo = made.fifos[0] as HeldFifo;
  const fds = fdCloser();
  fds.add(fifo.readFd);
  fds.add(fifo.writeFd);
  const stop = new AbortController();
  const stopDump = new AbortController();
  const started = Date.now();
  let dumpEnded = false;
  try {
    const backup = commands
      .backup(stdinFromFd(stoppableHost(host, stop.signal), fifo.readFd), repoConfig, {
        paths: [],
        tags: base.tags,
        host: base.host,
        extraArgs: ["--stdin", "--stdin-filename", base.filename],
      })
      .then((result) => {
        // restic ended before the dump: nobody reads the FIFO any more (holdfast holds a reader).
        if (!dumpEnded) stopDump.abort();
        return result;
      });
    const { program, ran } = await runDumpInto(ctx, unit, fifo.writeFd, stopDump.signal);
    dumpEnded = true;
    let dump: DumpRun = { ...judgeDump(ctx, program, ran, null, stopDump.signal.aborted), bytes: null };
    await endInputs(dump.error === null, [stop], () => fds.close(fifo.writeFd));
    const result = await backup;
    // restic ended first and failed: its error is this target's (the dump was only stopped for it).
    if (stopDump.signal.aborted && !result.outcome.ok && dump.error !== null) dump = { ...dump, error: null };
    return {
      dump,
      repos: [
        {
          repo: name,
          repoConfig,
          result,
          durationMs: Date.now() - started,
          stoppedBeforeEnd: stop.signal.aborted,
          dumpError: dump.error,
        },
      ],
    };
  } finally {
    fds.closeAll();
  }
}

/**
 * After the dump: a good one ends every restic's input (EOF: the snapshot is saved); a failed one
 * stops every restic first, so none sees the end of an incomplete input, then closes the inputs
 * (restic 0.18 waits for its stdin to close before it exits).
 */
/** Runs the dump program with its stdout on `writeFd` (a FIFO's write end), its stderr in the step log. */
async function runDumpInto(
  ctx: StepContext<DumpOptions>,
  unit: DumpUnit,
  writeFd: number,
  stop: AbortSignal,
): Promise<{ program: string; ran: ProcessResult }> {
  const [program, ...args] = unit.argv as [string, ...string[]];
  const ran = await ctx.exec(program, args, {
    env: { ...ctx.env, ...unit.env },
    stopSignal: stop,
    stdoutFd: writeFd,
    onLine: (line) => ctx.log.output(`[${program}] ${line}`, "stderr"),
  });
  return { program, ran };
}

async function endInputs(ok: boolean, stops: readonly AbortController[], close: () => void): Promise<void> {
  if (!ok) {
    for (const stop of stops) stop.abort();
    await new Promise((r) => setTimeout(r, STOP_THEN_CLOSE_MS));
  }
  close();
}

/**
 * One dump into several repositories, written once (fan_out: tee). The dump writes into a FIFO that
 * coreutils' `tee` reads; tee writes into one FIFO per repository, each read by that repository's
 * `restic backup --stdin`. The bytes pass from process to process through the kernel, never through
 * holdfast, so its memory is the same as with one repository (bench P8); the slowest repository sets
 * the pace (a FIFO holds 64 KiB). holdfast holds a write end of every repository's FIFO, so no restic
 * sees the end of its input before holdfast has judged the dump and tee (both exited 0); a failure of
 * either stops every restic first. A restic that ends early (its repository is gone) gets a `cat` that
 * reads its FIFO to /dev/null in its place, so tee and the other repositories go on; when no restic
 * is left, the dump is stopped.
 */
async function viaFifoTee(
  ctx: StepContext<DumpOptions>,
  host: ResticHost,
  commands: Commands,
  repos: readonly string[],
  unit: DumpUnit,
  base: UnitBase,
): Promise<UnitResult> {
  const known = repos.filter((name) => ctx.config.repositories[name] !== undefined);
  const unknown = repos.filter((name) => ctx.config.repositories[name] === undefined);
  const made = await makeFifos(ctx, ["dump", ...known.map((_, i) => `repo-${i}`)]);
  if (!made) return noFifo(repos, ctx);
  const fds = fdCloser();
  for (const f of made.fifos) {
    fds.add(f.readFd);
    fds.add(f.writeFd);
  }
  const [dumpFifo, ...repoFifos] = made.fifos as [HeldFifo, ...HeldFifo[]];
  const devNull = fds.add(fs.openSync("/dev/null", "w"));
  const stops = known.map(() => new AbortController());
  const ended = known.map(() => false);
  const stopDump = new AbortController();
  const drains: Array<Promise<ProcessResult>> = [];
  let dumpEnded = false;
  let teeEndedFirst = false;
  let noResticLeft = false;
  const started = Date.now();
  try {
    const backups = known.map(async (name, i): Promise<RepoRun> => {
      const fifo = repoFifos[i] as HeldFifo;
      const repoConfig = ctx.config.repositories[name] as RepositoryConfig;
      const result = await commands.backup(
        stdinFromFd(stoppableHost(host, (stops[i] as AbortController).signal), fifo.readFd),
        repoConfig,
        {
          paths: [],
          tags: base.tags,
          host: base.host,
          extraArgs: ["--stdin", "--stdin-filename", base.filename],
        },
      );
      ended[i] = true;
      if (!dumpEnded) {
        if (ended.every(Boolean)) {
          noResticLeft = true;
          stopDump.abort();
        } else
          drains.push(
            ctx.exec("cat", [], { stdinFd: fifo.readFd, stdoutFd: devNull, stopSignal: stopDump.signal }),
          );
      }
      return {
        repo: name,
        repoConfig,
        result,
        durationMs: Date.now() - started,
        stoppedBeforeEnd: (stops[i] as AbortController).signal.aborted,
      };
    });
    const teeRun = ctx
      .exec(
        "tee",
        repoFifos.map((f) => f.path),
        {
          stdinFd: dumpFifo.readFd,
          stdoutFd: devNull,
          stopSignal: stopDump.signal,
          onLine: (line) => ctx.log.output(`[tee] ${line}`, "stderr"),
        },
      )
      .then((r) => {
        // tee gone before the dump ended: nobody reads the dump's FIFO any more.
        if (!dumpEnded) {
          teeEndedFirst = true;
          stopDump.abort();
        }
        return r;
      });
    const { program, ran } = await runDumpInto(ctx, unit, dumpFifo.writeFd, stopDump.signal);
    dumpEnded = true;
    // The dump's end of its FIFO is closed: tee reads to the end and exits.
    fds.close(dumpFifo.writeFd);
    const tee = await teeRun;
    let dump: DumpRun = { ...judgeDump(ctx, program, ran, null, noResticLeft), bytes: null };
    // tee failed on its own (not stopped by holdfast, not cancelled with the step): its error wins when
    // the dump looked fine or was stopped only because tee was gone.
    const teeFailed = !tee.cancelled && !tee.stopped && (tee.spawnError !== null || tee.exitCode !== 0);
    if (teeFailed && (dump.error === null || teeEndedFirst))
      dump = {
        error: stepError(
          tee.spawnError ? "not_found" : "exit_code",
          `tee failed (${describeExit(tee)})${tee.stderrTail.at(-1) ? `: ${tee.stderrTail.at(-1) ?? ""}` : ""}`,
          tee.spawnError
            ? "install coreutils (tee), or dump into each repository on its own: fan_out: per_repo"
            : "the dump did not reach every repository, so no snapshot of it was kept; see the step log",
        ),
        bytes: null,
        exitCode: null,
      };
    await endInputs(dump.error === null, stops, () => {
      for (const f of repoFifos) fds.close(f.writeFd);
    });
    const runs = await Promise.all(backups);
    await Promise.all(drains);
    // Every restic ended first and failed: their errors are the targets' (the dump was only stopped
    // because nobody was left to read it).
    if (noResticLeft && runs.every((r) => r.result?.outcome.ok !== true)) dump = { ...dump, error: null };
    return { dump, repos: [...runs, ...unknown.flatMap((name) => unknownRepository(name).repos)] };
  } finally {
    fds.closeAll();
    fs.rmSync(made.dir, { recursive: true, force: true });
  }
}

/**
 * SQLite: a consistent copy (VACUUM INTO, checked) made once, then read by each repository's restic
 * from a descriptor of its own (in parallel), so the copy never passes through holdfast either.
 */
async function viaSqliteCopy(
  ctx: StepContext<DumpOptions>,
  host: ResticHost,
  commands: Commands,
  repos: readonly string[],
  unit: DumpUnit,
  base: UnitBase,
): Promise<UnitResult> {
  const failed = (error: StepError) => notStarted(ctx, repos, error);
  const { copySqlite } = await import("../dump/sqlite-copy.js");
  const file = unit.file ?? "";
  if (!fs.existsSync(file))
    return failed(
      stepError("not_found", `the SQLite database ${file} does not exist`, "check path: in the step"),
    );
  let copy;
  try {
    copy = await copySqlite(file, ctx.signal);
  } catch (err) {
    return failed(
      stepError("exit_code", `cannot copy the SQLite database ${file}: ${(err as Error).message}`),
    );
  }
  try {
    if (copy.check !== "ok")
      return failed(
        stepError(
          "exit_code",
          `the copy of ${file} fails PRAGMA quick_check: ${copy.check}`,
          "check the database with sqlite3 FILE 'PRAGMA integrity_check'",
        ),
      );
    ctx.log.info(
      `${unit.database}: consistent copy of ${file} made with VACUUM INTO (${formatBytes(copy.size)}, quick_check ok)`,
    );
    const copied = copy;
    const runs = await Promise.all(
      repos.map(async (name): Promise<RepoRun> => {
        const repoConfig = ctx.config.repositories[name] ?? null;
        if (!repoConfig) return unknownRepository(name).repos[0] as RepoRun;
        const started = Date.now();
        const fd = fs.openSync(copied.file, "r");
        try {
          const result = await commands.backup(stdinFromFd(host, fd), repoConfig, {
            paths: [],
            tags: base.tags,
            host: base.host,
            extraArgs: ["--stdin", "--stdin-filename", base.filename],
          });
          return {
            repo: name,
            repoConfig,
            result,
            durationMs: Date.now() - started,
            stoppedBeforeEnd: false,
          };
        } finally {
          fs.closeSync(fd);
        }
      }),
    );
    return { dump: okDump(copy.size), repos: runs };
  } finally {
    copy.cleanup();
  }
}

/** Did the dump program succeed? Non-zero exit, a signal, a stop or a cut-short run are failures. */
function judgeDump(
  ctx: StepContext<DumpOptions>,
  program: string,
  result: ProcessResult,
  bytes: number | null,
  stoppedForNoRepo: boolean,
): DumpRun {
  if (result.spawnError)
    return {
      error: stepError(
        "not_found",
        describeExit(result),
        `check that ${program} is installed and on the step's PATH (${ctx.env.PATH ?? ""})`,
      ),
      bytes,
      exitCode: null,
    };
  if (result.exitCode === 0 && !result.cancelled && !result.timedOut && !result.stopped) return okDump(bytes);
  const tail = result.stderrTail.filter((l) => l.trim() !== "").at(-1);
  const why = stoppedForNoRepo
    ? "stopped: no repository was left to write it to"
    : result.cancelled
      ? "stopped: the step was cancelled or timed out"
      : describeExit(result);
  return {
    error: stepError(
      result.cancelled ? (ctx.signal.reason === "timeout" ? "timeout" : "cancelled") : "exit_code",
      `${program} failed (${why})${bytes !== null ? ` after ${formatBytes(bytes)}` : ""}${tail ? `: ${ctx.redact(tail)}` : ""}`,
      "the dump is incomplete, so no snapshot of it was kept; see the step log: holdfast logs RUN --step " +
        ctx.step.name,
    ),
    bytes,
    exitCode: result.exitCode,
  };
}

/** A repository the config does not name (the loader refuses it; this keeps the types honest). */
function unknownRepository(name: string): UnitResult {
  return {
    dump: okDump(null),
    repos: [{ repo: name, repoConfig: null, result: null, durationMs: 0, stoppedBeforeEnd: false }],
  };
}

/** restic 0.17+: restic runs the dump and saves no snapshot when it fails. */
async function viaStdinFromCommand(
  ctx: StepContext<DumpOptions>,
  host: ResticHost,
  commands: Commands,
  name: string,
  unit: DumpUnit,
  base: UnitBase,
): Promise<UnitResult> {
  const repoConfig = ctx.config.repositories[name] ?? null;
  if (!repoConfig) return unknownRepository(name);
  const started = Date.now();
  const result = await commands.backup(host, repoConfig, {
    paths: unit.argv ?? [],
    tags: base.tags,
    host: base.host,
    extraArgs: ["--stdin-from-command", "--stdin-filename", base.filename],
    extraEnv: unit.env,
  });
  // "Fatal: unable to save snapshot: failed to save /x.dump: Fatal: command failed: exit status 3"
  const said = result.outcome.stderrLines.map((l) => /command failed: ([^"}]*)/.exec(l)?.[1]).find(Boolean);
  const program = unit.argv?.[0] ?? "the dump";
  const dump: DumpRun =
    !result.outcome.ok && said
      ? {
          error: stepError(
            "exit_code",
            `${program} failed (${said.trim()}); restic saved no snapshot of it`,
            "see the step log: holdfast logs RUN --step " + ctx.step.name,
          ),
          bytes: null,
          exitCode: /exit status (\d+)/.exec(said) ? Number(/exit status (\d+)/.exec(said)?.[1]) : null,
        }
      : okDump(null);
  return {
    dump,
    repos: [
      {
        repo: name,
        repoConfig,
        result,
        durationMs: Date.now() - started,
        stoppedBeforeEnd: false,
        dumpError: dump.error,
      },
    ],
  };
}

/**
 * The record of one repository for one dump. A failed or guarded dump leaves no snapshot: one restic
 * saved anyway is forgotten by id, and the record says which happened.
 */
async function recordTarget(
  ctx: StepContext<DumpOptions>,
  cleanupHost: () => ResticHost,
  commands: Commands,
  run: RepoRun,
  failure: StepError | null,
  guarded: boolean,
): Promise<TargetRecord> {
  const { summarizeBackupErrors } = await import("../restic/outputs.js");
  if (run.repoConfig && !run.result && failure !== null)
    return {
      repo: run.repo,
      status: "failed",
      duration_ms: run.durationMs,
      error: failure,
      snapshot_id: null,
      partial_snapshot: "never_created",
    };
  if (!run.repoConfig || !run.result)
    return {
      ...skippedTarget(
        run.repo,
        stepError("config", `unknown repository "${run.repo}"`, "define it under repositories:"),
      ),
      status: "failed",
    };
  const base = targetFor(run.repo, run.result, run.durationMs, summarizeBackupErrors);
  if (failure === null) return base;
  const saved = run.result.summary?.snapshotId ?? null;
  if (!saved)
    return {
      ...base,
      status: "failed",
      error: failure,
      snapshot_id: null,
      partial_snapshot: "never_created",
    };
  const forgot = await commands.forgetSnapshots(cleanupHost(), run.repoConfig, [saved]);
  const what = guarded ? "the dump failed its guard" : "the dump failed";
  if (forgot.ok) {
    ctx.log.warn(`${run.repo}: ${what}; snapshot ${saved.slice(0, 8)} made from it was forgotten`);
    return {
      ...base,
      status: "failed",
      error: failure,
      snapshot_id: null,
      partial_snapshot: "forgotten",
      forgotten_snapshot_id: saved,
    };
  }
  ctx.log.warn(
    `${run.repo}: ${what}, and snapshot ${saved.slice(0, 8)} made from it could not be forgotten: ${forgot.error?.message ?? "?"}`,
  );
  return {
    ...base,
    status: "failed",
    error: {
      ...failure,
      message: `${failure.message}; its snapshot ${saved.slice(0, 8)} in ${run.repo} could not be forgotten (${forgot.error?.message ?? "?"})`,
      hint: `remove it: holdfast restic ${run.repo} -- forget ${saved}`,
    },
    partial_snapshot: "forget_failed",
  };
}

/** The size of the last good dump of each database, from this step's earlier records. */
async function previousSizes(ctx: StepContext<DumpOptions>): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (ctx.options.max_shrink === undefined) return sizes;
  let records: StepRecord[] = [];
  try {
    records = await ctx.previousRecords(30);
  } catch {
    return sizes;
  }
  for (const record of records) {
    const dbs = (record.summary as { databases?: DumpSummary[] } | null)?.databases;
    if (!Array.isArray(dbs)) continue;
    for (const db of dbs)
      if (db.status === "succeeded" && typeof db.size === "number" && !sizes.has(db.database))
        sizes.set(db.database, db.size);
  }
  return sizes;
}

/** min_size and max_shrink for one dump; null when it passes. */
function guardDump(
  opts: DumpOptions,
  database: string,
  size: number | null,
  history: Map<string, number>,
): StepError | null {
  if (size === null) return null;
  if (opts.min_size !== undefined && size < opts.min_size)
    return stepError(
      "guard",
      `the dump of ${database} is ${formatBytes(size)}, below min_size ${formatBytes(opts.min_size)}`,
      "check the database (was it emptied?); lower min_size if this size is right",
    );
  const previous = history.get(database);
  if (opts.max_shrink !== undefined && previous !== undefined && previous > 0) {
    const shrink = (previous - size) / previous;
    if (shrink > opts.max_shrink)
      return stepError(
        "guard",
        `the dump of ${database} is ${formatBytes(size)}, ${Math.round(shrink * 100)}% smaller than the previous one (${formatBytes(previous)}); max_shrink is ${Math.round(opts.max_shrink * 100)}%`,
        "check the database (were rows deleted?); raise max_shrink if the shrink is expected",
      );
  }
  return null;
}
