// Restoring a database from a dump step's snapshot: `restic dump SNAPSHOT FILE` streamed into the
// engine's client (pg_restore, psql, mariadb/mysql) or, for SQLite, written to a new file that is
// checked (PRAGMA integrity_check) before it takes the database's name. Shared by
// `holdfast restore --database` and the restore drill (verify with `database:`). Every child process
// goes through the caller's ResticHost.exec (the one door); passwords only via credentials.ts.
//
// A target database that exists and is not empty is refused unless `force`: pg_restore then runs with
// --clean --if-exists, a MariaDB dump drops each table before creating it, a SQLite file is replaced.
import fs from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { RepositoryConfig } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import { runRestic, type ResticOutcome } from "../restic/exec.js";
import type { ResticExecOptions, ResticHost } from "../restic/host.js";
import { removeStaleRestoreTemps, restoreTempName } from "../util/private-temp.js";
import { describeExit, type ProcessResult } from "../util/process.js";
import {
  createCommand,
  dropCommand,
  inspectCommand,
  loadCommand,
  MYSQL_SANDBOX,
  pgRelationsCommand,
  queryCommand,
  type ClientCommand,
} from "./clients.js";
import type { ClientCredentials, DumpFormat, DumpTarget } from "./drivers.js";

export interface DatabaseRestoreRequest {
  host: ResticHost;
  /** The environment of the client programs (the dump step's: PATH, env_file…). */
  clientEnv: Record<string, string>;
  repo: RepositoryConfig;
  snapshotId: string;
  /** The dump's file in the snapshot (the snapshot's path). */
  file: string;
  target: DumpTarget;
  creds: ClientCredentials;
  format: DumpFormat;
  /** The database to restore into (a name; for sqlite a file path; "all" for a whole-server dump). */
  toDatabase: string;
  force: boolean;
  redact: (text: string) => string;
  /** A line of a client's output (stderr), already redacted. */
  onClientLine?: (line: string) => void;
}

export interface TargetState {
  exists: boolean;
  /** Tables (or, for `all`, user databases; for sqlite, bytes) the target already holds. */
  holds: number;
}

export type DatabaseRestoreResult =
  | {
      ok: true;
      created: boolean;
      bytes: number;
      /** Errors a psql load went on past (pg_dumpall's "role … already exists"). */
      warnings: string[];
      before: TargetState;
    }
  | {
      ok: false;
      error: StepError;
      /** Nothing was changed: the target was refused or could not be inspected. */
      refused: boolean;
      /** The load started and failed: the target may hold part of the dump. */
      partial: boolean;
      exitCode: number | null;
    };

interface QueryResult {
  ok: boolean;
  stdout: string;
  error: StepError | null;
}

/** Runs a client command that reads SQL from stdin; its output is collected (small answers only). */
export async function runClientQuery(
  host: ResticHost,
  env: Record<string, string>,
  command: ClientCommand,
  redact: (text: string) => string,
): Promise<QueryResult> {
  const [program, ...args] = command.argv;
  const result = await host.exec(program, args, {
    env: { ...env, ...command.env },
    input: command.input ?? "",
    collectStdout: true,
    stderrTailLines: 20,
    onLine: () => undefined,
  });
  if (result.exitCode === 0 && !result.spawnError && !result.cancelled && !result.timedOut)
    return { ok: true, stdout: result.stdout ?? "", error: null };
  return { ok: false, stdout: result.stdout ?? "", error: clientError(program, result, redact) };
}

function clientError(program: string, result: ProcessResult, redact: (t: string) => string): StepError {
  if (result.spawnError)
    return stepError(
      "not_found",
      `${program} could not be started: ${result.spawnError.message}`,
      `install the database's client programs (${program}) or put them on the step's PATH`,
    );
  const tail = result.stderrTail
    .filter((l) => l.trim() !== "")
    .slice(-3)
    .join(" / ");
  const why = result.cancelled ? "stopped" : result.timedOut ? "timed out" : describeExit(result);
  return stepError(
    result.cancelled ? "cancelled" : result.timedOut ? "timeout" : "exit_code",
    `${program} failed (${why})${tail ? `: ${redact(tail)}` : ""}`,
    null,
  );
}

/** Whether the target database exists and what it holds. */
export async function inspectTarget(
  req: Pick<DatabaseRestoreRequest, "host" | "clientEnv" | "target" | "creds" | "format" | "redact">,
  toDatabase: string,
): Promise<TargetState | StepError> {
  if (req.format === "sqlite-file") {
    try {
      const st = fs.statSync(toDatabase);
      return { exists: true, holds: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { exists: false, holds: 0 };
      return stepError("permission", `cannot read ${toDatabase}: ${(err as Error).message}`);
    }
  }
  const whole = toDatabase === "all";
  const asked = await runClientQuery(
    req.host,
    req.clientEnv,
    inspectCommand(req.target, req.creds, whole ? "all" : toDatabase),
    req.redact,
  );
  if (!asked.ok || asked.error) return asked.error ?? stepError("exit_code", "the client failed");
  const [exists = "0", holds = "0"] = (asked.stdout.trim().split("\n")[0] ?? "").split("\t");
  const state = { exists: Number(exists) > 0, holds: Number(holds) || 0 };
  if (!whole && state.exists && req.target.engine === "postgresql") {
    const relations = await runClientQuery(
      req.host,
      req.clientEnv,
      pgRelationsCommand(req.target, req.creds, toDatabase),
      req.redact,
    );
    if (!relations.ok || relations.error) return relations.error ?? stepError("exit_code", "psql failed");
    state.holds = Number(relations.stdout.trim()) || 0;
  }
  return state;
}

/** How a restore would describe the target it refuses. */
export function describeHeld(format: DumpFormat, toDatabase: string, state: TargetState): string {
  if (format === "sqlite-file") return `${toDatabase} exists (${state.holds} bytes)`;
  if (toDatabase === "all") return `the server already has ${state.holds} database(s) of its own`;
  return `database ${toDatabase} already exists and holds ${state.holds} ${format === "mysql-sql" ? "table(s)" : "relation(s) (tables, views, sequences)"}`;
}

export async function restoreDatabase(req: DatabaseRestoreRequest): Promise<DatabaseRestoreResult> {
  if (req.format === "raw")
    return refusal(
      stepError(
        "config",
        "a command dump is restored by a program only you know",
        `write it out and load it yourself: holdfast restic ${req.repo.name} -- dump ${req.snapshotId.slice(0, 8)} ${req.file} > dump-file`,
      ),
    );
  // Roles and tablespaces (pg_dumpall --globals-only) are added to a server, never "over" anything.
  const before =
    req.format === "pg-sql" && req.toDatabase === "globals"
      ? { exists: true, holds: 0 }
      : await inspectTarget(req, req.toDatabase);
  if ("kind" in before) return refusal(before);
  if (before.holds > 0 && !req.force)
    return refusal(
      stepError(
        "config",
        `refusing to restore into ${describeHeld(req.format, req.toDatabase, before)}`,
        req.format === "sqlite-file"
          ? "restore into a new file (--to-database /path/new.db), or replace it with --force (stop the application first)"
          : "restore into a new database (--to-database NAME), or pass --force to load the dump over it",
      ),
    );
  if (req.format === "sqlite-file") return restoreSqliteFile(req, before);
  if (req.format === "mysql-sql") {
    const refused = await requireSandbox(req);
    if (refused) return refusal(refused);
  }

  let created = false;
  if (!before.exists && req.toDatabase !== "all" && req.format !== "pg-sql") {
    const made = await runClientQuery(
      req.host,
      req.clientEnv,
      createCommand(req.target, req.creds, req.toDatabase),
      req.redact,
    );
    if (!made.ok)
      return refusal(
        made.error ?? stepError("exit_code", `cannot create database ${req.toDatabase}`),
        "create it yourself (the user needs CREATEDB / CREATE privileges), then restore again",
      );
    created = true;
  }
  const load = loadCommand(req.target, req.creds, req.format, req.toDatabase, { force: req.force });
  const warnings: string[] = [];
  const streamed = await streamInto(req, load, (line) => {
    // psql goes on past errors in a pg_dumpall script (roles that exist already): count them.
    if (req.format === "pg-sql" && /\bERROR:/.test(line)) warnings.push(req.redact(line));
  });
  const program = load.argv[0];
  if (!streamed.restic.ok) {
    const e = streamed.restic.error ?? stepError("exit_code", "restic dump failed");
    return {
      ok: false,
      error: {
        ...e,
        message: `restic dump of ${req.file} failed: ${req.redact(e.message)}`,
        hint: partialHint(req, created),
      },
      refused: false,
      partial: true,
      exitCode: streamed.restic.exitCode,
    };
  }
  const c = streamed.client;
  if (c.exitCode !== 0 || c.spawnError || c.cancelled || c.timedOut) {
    const e = clientError(program, c, req.redact);
    return {
      ok: false,
      error: { ...e, hint: c.spawnError ? e.hint : partialHint(req, created) },
      refused: false,
      partial: c.spawnError === null,
      exitCode: c.exitCode,
    };
  }
  return { ok: true, created, bytes: streamed.bytes, warnings, before };
}

/** Whether a client program (by its PATH) lists --sandbox in its --help: asked once per process. */
const sandboxKnown = new Map<string, boolean>();

/**
 * A MariaDB/MySQL SQL dump is loaded only by a client with --sandbox: the client would otherwise run
 * the client commands a tampered dump holds (`\! shell command`) as the restoring user.
 */
async function requireSandbox(req: DatabaseRestoreRequest): Promise<StepError | null> {
  const program = loadCommand(req.target, req.creds, req.format, req.toDatabase, { force: false }).argv[0];
  const key = `${program}\0${req.clientEnv.PATH ?? ""}`;
  let has = sandboxKnown.get(key);
  if (has === undefined) {
    const help = await req.host.exec(program, ["--help"], {
      env: req.clientEnv,
      input: "",
      collectStdout: true,
      stderrTailLines: 5,
      onLine: () => undefined,
    });
    if (help.spawnError) return clientError(program, help, req.redact);
    has = new RegExp(`^\\s*${MYSQL_SANDBOX}\\b`, "m").test(help.stdout ?? "");
    sandboxKnown.set(key, has);
  }
  if (has) return null;
  return stepError(
    "config",
    `${program} has no ${MYSQL_SANDBOX} option, so it would run the client commands a dump may hold (\\! runs a shell command as you): refusing to load the SQL dump with it`,
    `use a MariaDB client 10.11.8 or newer (it has ${MYSQL_SANDBOX}), or load the dump yourself after reading it: holdfast restic ${req.repo.name} -- dump ${req.snapshotId.slice(0, 8)} ${req.file} > dump.sql`,
  );
}

function partialHint(req: DatabaseRestoreRequest, created: boolean): string {
  if (req.format === "pg-custom")
    return `pg_restore ran in one transaction, so nothing of it was kept${created ? `; database ${req.toDatabase} was created and is empty` : ""}`;
  return `the database may hold part of the dump: look at it, drop it, or restore again with --force`;
}

function refusal(error: StepError, hint?: string): DatabaseRestoreResult {
  return {
    ok: false,
    error: hint !== undefined ? { ...error, hint } : error,
    refused: true,
    partial: false,
    exitCode: null,
  };
}

/** A host whose processes also get these exec options (a stop of our own, where stdout goes). */
function withExec(host: ResticHost, extra: (options: ResticExecOptions) => Partial<ResticExecOptions>) {
  return {
    ...host,
    exec: (command: string, args: readonly string[], options: ResticExecOptions) =>
      host.exec(command, args, { ...options, ...extra(options) }),
  };
}

function stopWith(own: AbortSignal, theirs: AbortSignal | undefined): AbortSignal {
  return theirs ? AbortSignal.any([theirs, own]) : own;
}

interface Streamed {
  restic: ResticOutcome;
  client: ProcessResult;
  bytes: number;
}

/**
 * `restic dump` into the client's stdin, with backpressure (the client's pace). The client's stdin is
 * ended only when restic succeeded; a restic that fails stops the client, and a client that exits
 * early stops restic.
 */
async function streamInto(
  req: DatabaseRestoreRequest,
  client: ClientCommand,
  onStderr: (line: string) => void,
): Promise<Streamed> {
  const [program, ...args] = client.argv;
  const stopClient = new AbortController();
  const stopRestic = new AbortController();
  let sinkReady: (w: Writable) => void = () => undefined;
  const sink = new Promise<Writable>((resolve) => (sinkReady = resolve));
  let clientExited = false;
  let source: Readable | null = null;
  const clientDone = req.host
    .exec(program, args, {
      env: { ...req.clientEnv, ...client.env },
      stdinStream: (w) => sinkReady(w),
      stopSignal: stopClient.signal,
      stderrTailLines: 20,
      onLine: (line) => {
        const text = req.redact(line);
        onStderr(text);
        req.onClientLine?.(`[${program}] ${text}`);
      },
    })
    .then((result) => {
      clientExited = true;
      // A client may end before the last bytes (pg_restore stops reading after the archive's last
      // entry): restic's rest is read and dropped, so restic ends as it would. A client that failed
      // stops restic.
      source?.unpipe();
      source?.resume();
      if (result.exitCode !== 0 && !stopRestic.signal.aborted) stopRestic.abort();
      return result;
    });
  const stdin = await Promise.race([sink, clientDone.then(() => null)]);
  if (stdin === null) {
    const result = await clientDone;
    return { restic: notRun(result), client: result, bytes: 0 };
  }
  let bytes = 0;
  const resticHost = withExec(req.host, (options) => ({
    stopSignal: stopWith(stopRestic.signal, options.stopSignal),
    stdoutStream: (out: Readable) => {
      source = out;
      out.on("data", (chunk: Buffer) => (bytes += chunk.length));
      if (clientExited) out.resume();
      else out.pipe(stdin, { end: false });
    },
  }));
  const restic = await runRestic(resticHost, {
    repo: req.repo,
    args: ["dump", req.snapshotId, req.file],
    command: "dump",
    noLock: true,
    onStdout: () => undefined,
  });
  if (restic.ok && !clientExited) stdin.end();
  else {
    stopClient.abort();
    stdin.destroy();
  }
  const result = await clientDone;
  // A client that failed first stopped restic: that is the client's failure, not restic's.
  if (!restic.ok && stopRestic.signal.aborted && result.exitCode !== 0)
    return { restic: { ...restic, ok: true }, client: result, bytes };
  return { restic, client: result, bytes };
}

function notRun(result: ProcessResult): ResticOutcome {
  return {
    ok: true,
    exitCode: null,
    signal: null,
    durationMs: 0,
    cancelled: result.cancelled,
    stoppedEarly: false,
    notOpened: false,
    stdout: null,
    stderrLines: [],
    error: null,
    version: null,
    attempts: 0,
  };
}

/**
 * SQLite: the dump is the database file. It is written next to the target (a new 0600 file), checked
 * with PRAGMA integrity_check, and then takes the target's name — by link (no replacing a file that
 * appeared meanwhile) or, with force, by rename after the old file's -wal/-shm/-journal are removed
 * (a stale WAL beside a new database file would be replayed into it).
 */
async function restoreSqliteFile(
  req: DatabaseRestoreRequest,
  before: TargetState,
): Promise<DatabaseRestoreResult> {
  const target = path.resolve(req.toDatabase);
  const dir = path.dirname(target);
  const temp = path.join(dir, restoreTempName(target));
  let fd: number;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeStaleRestoreTemps(target);
    fd = fs.openSync(
      temp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
  } catch (err) {
    return refusal(stepError("permission", `cannot write beside ${target}: ${(err as Error).message}`));
  }
  const removeTemp = () => fs.rmSync(temp, { force: true });
  let restic: ResticOutcome;
  try {
    restic = await runRestic(
      withExec(req.host, () => ({ stdoutFd: fd })),
      {
        repo: req.repo,
        args: ["dump", req.snapshotId, req.file],
        command: "dump",
        noLock: true,
        onStdout: () => undefined,
      },
    );
  } finally {
    fs.closeSync(fd);
  }
  if (!restic.ok) {
    removeTemp();
    const e = restic.error ?? stepError("exit_code", "restic dump failed");
    return {
      ok: false,
      error: { ...e, message: `restic dump of ${req.file} failed: ${req.redact(e.message)}` },
      refused: false,
      partial: false,
      exitCode: restic.exitCode,
    };
  }
  const bytes = fs.statSync(temp).size;
  const check = await checkSqliteFile(temp);
  if (check !== "ok") {
    removeTemp();
    return {
      ok: false,
      error: stepError(
        "anomaly",
        `the restored copy of ${req.file} fails PRAGMA integrity_check: ${check}`,
        "try an older snapshot (--snapshot ID); run a check step on the repository",
      ),
      refused: false,
      partial: false,
      exitCode: null,
    };
  }
  try {
    if (req.force) {
      for (const suffix of ["-wal", "-shm", "-journal"]) fs.rmSync(`${target}${suffix}`, { force: true });
      fs.renameSync(temp, target);
    } else {
      fs.linkSync(temp, target);
      removeTemp();
    }
  } catch (err) {
    removeTemp();
    return refusal(
      stepError(
        (err as NodeJS.ErrnoException).code === "EEXIST" ? "config" : "permission",
        `cannot put the restored database at ${target}: ${(err as Error).message}`,
        "restore into a new file (--to-database /path/new.db), or pass --force",
      ),
    );
  }
  return { ok: true, created: !before.exists, bytes, warnings: [], before };
}

/** PRAGMA integrity_check of a SQLite file: "ok", or SQLite's complaints joined. */
export async function checkSqliteFile(file: string): Promise<string> {
  const { default: Database } = await import("better-sqlite3");
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.pragma("integrity_check") as Array<{ integrity_check: string }>;
      return rows.map((r) => r.integrity_check).join("; ");
    } finally {
      db.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** Drops a database (the drill's scratch database). */
export async function dropDatabase(
  req: Pick<DatabaseRestoreRequest, "host" | "clientEnv" | "target" | "creds" | "redact">,
  database: string,
): Promise<StepError | null> {
  const dropped = await runClientQuery(
    req.host,
    req.clientEnv,
    dropCommand(req.target, req.creds, database),
    req.redact,
  );
  return dropped.ok ? null : dropped.error;
}

/** Runs SQL against a database of the target's server; its output (tab-separated rows). */
export async function queryDatabase(
  req: Pick<DatabaseRestoreRequest, "host" | "clientEnv" | "target" | "creds" | "redact">,
  database: string,
  sql: string,
): Promise<QueryResult> {
  return runClientQuery(
    req.host,
    req.clientEnv,
    queryCommand(req.target, req.creds, database, sql),
    req.redact,
  );
}
