// A private PostgreSQL 15 server for one test file: its own cluster in a temp dir, on a unix socket in
// that dir and on a free 127.0.0.1 port, stopped (and its dir removed) by stop(). The machine's own
// clusters are never touched. PostgreSQL refuses to run as root, so initdb and postgres run as the
// `postgres` system user (spawned with its uid/gid) in a directory it owns.
//
//   const pg = await startPostgres();            // beforeAll
//   await pg.sql("CREATE DATABASE app");
//   await pg.stop();                             // afterAll
//
// The superuser `postgres` connects without a password over the socket (trust) and with
// `pg.password` over TCP (scram-sha-256), so tests can exercise both connection kinds.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./restic-backends.js";
import { killOnExit, runTool as run } from "./db-server.js";

export const PG_BIN = process.env.HOLDFAST_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PostgresServer {
  /** The directory holding the socket (`host` for libpq when it is a path). */
  socketDir: string;
  port: number;
  /** The superuser's password over TCP. */
  password: string;
  user: "postgres";
  dir: string;
  pid: number;
  /** Runs SQL through psql over the socket as the superuser; returns stdout (unaligned, tuples only). */
  sql(query: string, database?: string): Promise<string>;
  /** The environment for a PostgreSQL client over the socket (PGHOST, PGPORT, PGUSER). */
  clientEnv(): Record<string, string>;
  /** Kills the server like a crash (SIGKILL), for the "server dies mid-dump" tests. */
  kill(): void;
  /** Stops the server (fast shutdown) and keeps its cluster: restart() starts it again. */
  halt(): Promise<void>;
  /** Starts it again on the same cluster and port (after halt() or kill()), ready when it resolves. */
  restart(): Promise<void>;
  /** Stops the server (fast shutdown) and removes its directory. */
  stop(): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0)
    throw new Error("the `postgres` system user is missing: install postgresql (scripts/setup.sh)");
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* gone */
  }
}
export async function startPostgres(
  options: { timeoutMs?: number; maxConnections?: number } = {},
): Promise<PostgresServer> {
  const { uid, gid } = postgresIds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-pg-"));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, "data");
  const socketDir = path.join(dir, "sock");
  fs.mkdirSync(socketDir);
  fs.chownSync(dir, uid, gid);
  fs.chownSync(socketDir, uid, gid);
  const password = `pg-${Math.random().toString(36).slice(2)}-secret`;
  const pwfile = path.join(dir, "pwfile");
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  fs.chownSync(pwfile, uid, gid);

  const init = await run(
    path.join(PG_BIN, "initdb"),
    [
      "-D",
      data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ],
    { uid, gid },
  );
  fs.rmSync(pwfile, { force: true });
  if (init.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.code}): ${init.stderr || init.stdout}`);
  }

  const port = await freePort();
  const logFile = path.join(dir, "postgres.log");
  const clientEnv = () => ({ PGHOST: socketDir, PGPORT: String(port), PGUSER: "postgres" });
  const psql = async (query: string, database = "postgres") => {
    const result = await run(
      path.join(PG_BIN, "psql"),
      ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-f", "-"],
      { env: clientEnv(), input: query },
    );
    if (result.code !== 0) throw new Error(`psql failed (${result.code}): ${result.stderr}`);
    return result.stdout.trim();
  };

  let child: ChildProcess;
  let exited: Promise<number | null>;
  // Starts the postmaster on the cluster (again, after halt()) and waits until it answers.
  const launch = async (): Promise<void> => {
    const log = fs.openSync(logFile, "a");
    fs.fchownSync(log, uid, gid);
    const started = spawn(
      path.join(PG_BIN, "postgres"),
      [
        "-D",
        data,
        "-k",
        socketDir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "shared_buffers=32MB",
        "-c",
        `max_connections=${options.maxConnections ?? 30}`,
      ],
      {
        uid,
        gid,
        env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
        stdio: ["ignore", log, log],
        cwd: dir,
        // Its own process group: kill() ends the postmaster and its backends together, like a crash.
        detached: true,
      },
    );
    fs.closeSync(log);
    killOnExit(started, true);
    child = started;
    exited = new Promise<number | null>((resolve) => started.once("exit", (code) => resolve(code)));

    // Ready when pg_isready answers over the socket (the server also needs to finish recovery).
    const until = Date.now() + (options.timeoutMs ?? 30_000);
    let ready = false;
    let gone = false;
    void exited.then(() => (gone = true));
    while (!ready) {
      if (gone || Date.now() > until) {
        killGroup(started, "SIGKILL");
        const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`postgres did not become ready${gone ? " (it exited)" : ""}: ${text.slice(-2000)}`);
      }
      const probe = await run(path.join(PG_BIN, "pg_isready"), ["-q"], { env: clientEnv() });
      if (probe.code === 0) ready = true;
      else await new Promise((r) => setTimeout(r, 100));
    }
  };
  await launch();

  // Fast shutdown of the running postmaster (SIGINT), waited for; the cluster stays.
  const shutdown = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 10_000);
      child.kill("SIGINT");
      await exited;
      clearTimeout(timer);
    }
    // Backends still closing after a kill() must not hold the directory.
    killGroup(child, "SIGKILL");
  };

  let stopped = false;
  return {
    socketDir,
    port,
    password,
    user: "postgres",
    dir,
    get pid() {
      return child.pid ?? 0;
    },
    sql: psql,
    clientEnv,
    kill: () => killGroup(child, "SIGKILL"),
    halt: shutdown,
    restart: async () => {
      await shutdown();
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
