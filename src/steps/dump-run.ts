// The runner of the `dump` step (definition: dump.ts). For each database of the step, one dump is
// streamed into `restic backup` of each repository; no temporary file (SQLite excepted, see
// dump/sqlite-copy.ts) and flat memory — the dump's stdout goes through bounded stream buffers, so a
// slow repository slows the dump instead of filling holdfast's memory.
//
// Two ways to reach restic, chosen per dump (fan_out):
//   - tee: holdfast runs the dump once and streams its stdout into `restic backup --stdin` of every
//     repository. restic's stdin is ended only after the dump exited 0; a dump that fails (non-zero
//     exit, killed, cut short) stops every restic before it sees the end of its input, so no snapshot
//     is made. Should restic have saved one anyway (it read EOF first), it is forgotten by id.
//   - per_repo: one dump per repository. On restic 0.17+ restic runs the dump itself
//     (`--stdin-from-command`) and saves no snapshot when it exits non-zero; before 0.17 it is a tee
//     into one repository.
// The record (targets, one per database × repository) says what happened to a failed dump's snapshot:
// partial_snapshot "never_created", "forgotten" (with its id) or "forget_failed".
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import type { StepContext, StepOutcome } from "../engine/step-kind.js";
import { stepError, type StepError } from "../errors.js";
import type { RepositoryConfig } from "../config/schema.js";
import type { StepRecord, TargetRecord } from "../store/types.js";
import type { ResticHost } from "../restic/host.js";
import type * as ResticCommands from "../restic/commands.js";
import type { BackupResult } from "../restic/commands.js";
import { describeExit, type ProcessResult } from "../util/process.js";
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
              : await viaTee(ctx, host, commands, [name], unit, base);
          for (const r of one.repos) r.dumpError = one.dump.error;
          all.push(one);
        }
        results = { dump: okDump(null), repos: all.flatMap((r) => r.repos) };
      } else {
        results = await viaTee(ctx, host, commands, opts.repos, unit, base);
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

/**
 * One dump, streamed into `restic backup --stdin` of each repository. Each restic reads from its own
 * PassThrough (bounded buffer); the dump's stdout is piped into all of them, so the slowest repository
 * sets the pace. A restic that ends early (its repository is gone) is unpiped and the others go on; when
 * none is left the dump is stopped.
 */
async function viaTee(
  ctx: StepContext<DumpOptions>,
  host: ResticHost,
  commands: Commands,
  repos: readonly string[],
  unit: DumpUnit,
  base: UnitBase,
): Promise<UnitResult> {
  const passes = repos.map(() => new PassThrough());
  const stops = repos.map(() => new AbortController());
  const ended = repos.map(() => false);
  const stopDump = new AbortController();
  let source: Readable | null = null;
  let bytes = 0;

  const detach = (i: number) => {
    ended[i] = true;
    source?.unpipe(passes[i]);
    passes[i]?.resume();
    if (ended.every(Boolean)) {
      stopDump.abort();
      source?.resume();
    }
  };

  const backups = repos.map(async (name, i): Promise<RepoRun> => {
    const repoConfig = ctx.config.repositories[name] ?? null;
    const started = Date.now();
    if (!repoConfig) {
      detach(i);
      return { repo: name, repoConfig, result: null, durationMs: 0, stoppedBeforeEnd: false };
    }
    let attached = false;
    const pass = passes[i] as PassThrough;
    const result = await commands.backup(
      stoppableHost(host, (stops[i] as AbortController).signal),
      repoConfig,
      {
        paths: [],
        tags: base.tags,
        host: base.host,
        extraArgs: ["--stdin", "--stdin-filename", base.filename],
        stdinStream: (stdin: Writable) => {
          // A second start (restic retried after removing a stale lock) would read a dump already begun.
          if (attached) {
            stdin.destroy();
            return;
          }
          attached = true;
          stdin.on("error", () => detach(i));
          pass.pipe(stdin);
        },
      },
    );
    detach(i);
    return {
      repo: name,
      repoConfig,
      result,
      durationMs: Date.now() - started,
      stoppedBeforeEnd: (stops[i] as AbortController).signal.aborted,
    };
  });

  const attach = (stream: Readable) => {
    source = stream;
    stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
    let any = false;
    passes.forEach((pass, i) => {
      if (ended[i]) return;
      any = true;
      stream.pipe(pass, { end: false });
    });
    if (!any) stream.resume();
  };

  let dump: DumpRun;
  if (unit.argv === null) dump = await streamSqliteCopy(ctx, unit, attach);
  else {
    const [program, ...args] = unit.argv as [string, ...string[]];
    const result = await ctx.exec(program, args, {
      env: { ...ctx.env, ...unit.env },
      stopSignal: stopDump.signal,
      stdoutStream: attach,
      onLine: (line) => ctx.log.output(`[${program}] ${line}`, "stderr"),
    });
    dump = judgeDump(ctx, program, result, bytes, stopDump.signal.aborted);
  }

  if (dump.error === null) for (const pass of passes) pass.end();
  else {
    // Stop every restic before it sees the end of its input, then close its input (0.18 waits for it).
    for (const stop of stops) stop.abort();
    await new Promise((r) => setTimeout(r, STOP_THEN_CLOSE_MS));
    for (const pass of passes) pass.end();
  }
  return { dump, repos: await Promise.all(backups) };
}

/** A host whose restic reads its stdin from this file descriptor. */
function stdinFromFd(host: ResticHost, fd: number): ResticHost {
  return { ...host, exec: (command, args, options) => host.exec(command, args, { ...options, stdinFd: fd }) };
}

/**
 * One dump into one repository through a FIFO (restic before 0.17): the dump writes into it, restic
 * reads from it, and the bytes never pass through holdfast (a copy through Node's streams costs about
 * 35 MB of buffers in flight, measured in bench/p8-dump.mjs). holdfast keeps a write end of the FIFO
 * open itself, so restic sees the end of its input only when holdfast closes it — after the dump
 * exited 0; a failed dump stops restic first, as with the tee. A restic started again after a stale
 * lock was removed reads the FIFO from the start: restic locks the repository before it reads stdin.
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-dump-"));
  const fifo = path.join(dir, "stream");
  let readFd: number | null = null;
  let writeFd: number | null = null;
  try {
    const made = await ctx.exec("mkfifo", ["-m", "600", fifo], { onLine: () => undefined });
    if (made.exitCode === 0) {
      // A reader first, without blocking (no writer yet); then the writer, which a reader lets open;
      // then restic's reader, a blocking one like a shell's pipe (the first is closed).
      const opening = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try {
        writeFd = fs.openSync(fifo, fs.constants.O_WRONLY);
        readFd = fs.openSync(fifo, fs.constants.O_RDONLY);
      } finally {
        fs.closeSync(opening);
      }
    }
  } catch {
    /* no FIFO here: the tee below */
  } finally {
    // Both ends are open (or never will be): the name is not needed any more.
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (readFd === null || writeFd === null) {
    if (readFd !== null) fs.closeSync(readFd);
    if (writeFd !== null) fs.closeSync(writeFd);
    return viaTee(ctx, host, commands, [name], unit, base);
  }
  const reader = readFd;
  let writer: number | null = writeFd;
  const closeWriter = () => {
    if (writer !== null) fs.closeSync(writer);
    writer = null;
  };
  const stop = new AbortController();
  const stopDump = new AbortController();
  const started = Date.now();
  let dumpEnded = false;
  const backup = commands
    .backup(stdinFromFd(stoppableHost(host, stop.signal), reader), repoConfig, {
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
  let dump: DumpRun;
  try {
    const [program, ...args] = unit.argv as [string, ...string[]];
    const result = await ctx.exec(program, args, {
      env: { ...ctx.env, ...unit.env },
      stopSignal: stopDump.signal,
      stdoutFd: writer,
      onLine: (line) => ctx.log.output(`[${program}] ${line}`, "stderr"),
    });
    dumpEnded = true;
    dump = { ...judgeDump(ctx, program, result, null, stopDump.signal.aborted), bytes: null };
    if (dump.error !== null) {
      stop.abort();
      await new Promise((r) => setTimeout(r, STOP_THEN_CLOSE_MS));
    }
  } finally {
    closeWriter();
  }
  const result = await backup;
  fs.closeSync(reader);
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
}

/** The copy of a SQLite database (VACUUM INTO, checked), streamed like a dump's stdout. */
async function streamSqliteCopy(
  ctx: StepContext<DumpOptions>,
  unit: DumpUnit,
  attach: (stream: Readable) => void,
): Promise<DumpRun> {
  const { copySqlite } = await import("../dump/sqlite-copy.js");
  const file = unit.file ?? "";
  if (!fs.existsSync(file))
    return {
      error: stepError("not_found", `the SQLite database ${file} does not exist`, "check path: in the step"),
      bytes: null,
      exitCode: null,
    };
  let copy;
  try {
    copy = await copySqlite(file, ctx.signal);
  } catch (err) {
    return {
      error: stepError(
        "exit_code",
        `cannot copy the SQLite database ${file}: ${(err as Error).message}`,
        null,
      ),
      bytes: null,
      exitCode: null,
    };
  }
  try {
    if (copy.check !== "ok")
      return {
        error: stepError(
          "exit_code",
          `the copy of ${file} fails PRAGMA quick_check: ${copy.check}`,
          "check the database with sqlite3 FILE 'PRAGMA integrity_check'",
        ),
        bytes: null,
        exitCode: null,
      };
    ctx.log.info(
      `${unit.database}: consistent copy of ${file} made with VACUUM INTO (${formatBytes(copy.size)}, quick_check ok)`,
    );
    const stream = fs.createReadStream(copy.file);
    const done = new Promise<Error | null>((resolve) => {
      stream.once("end", () => resolve(null));
      stream.once("error", (err) => resolve(err));
    });
    attach(stream);
    const err = await done;
    if (err)
      return {
        error: stepError("exit_code", `reading the copy failed: ${err.message}`),
        bytes: null,
        exitCode: null,
      };
    return okDump(copy.size);
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
