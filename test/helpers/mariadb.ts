// A private MariaDB 10.11 server for one test file: its own data directory in a temp dir (made by
// mariadb-install-db), a unix socket there and a free 127.0.0.1 port, --no-defaults so /etc/mysql is
// never read, stopped (and its dir removed) by stop(). The machine's own server stays off.
//
//   const db = await startMariadb();             // beforeAll
//   await db.sql("CREATE DATABASE app");
//   await db.stop();                             // afterAll
//
// root connects over the socket by unix_socket auth (the tests run as root); `db.user` /
// `db.password` is a second account with every privilege that must give its password (socket or TCP).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./restic-backends.js";
import { killOnExit, runTool } from "./db-server.js";

/** The MariaDB tools read no option file of the user running the tests (HOME is nowhere). */
const run = (program: string, args: string[], input = "") =>
  runTool(program, args, { env: { HOME: "/nonexistent" }, input });

export interface MariadbServer {
  socket: string;
  port: number;
  /** An account with all privileges that authenticates with `password`. */
  user: string;
  password: string;
  dir: string;
  pid: number;
  /** Runs SQL as root over the socket; returns stdout (tab-separated, no column names). */
  sql(query: string, database?: string): Promise<string>;
  /** Kills the server like a crash (SIGKILL). */
  kill(): void;
  stop(): Promise<void>;
}

export async function startMariadb(options: { timeoutMs?: number } = {}): Promise<MariadbServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-maria-"));
  const data = path.join(dir, "data");
  const socket = path.join(dir, "mysqld.sock");
  const init = await run("/usr/bin/mariadb-install-db", [
    "--no-defaults",
    `--datadir=${data}`,
    "--user=root",
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    "--skip-name-resolve",
    // Its own temp dir: two bootstraps at once (both restic passes) clashed in /tmp's #sql-temptable-*.
    `--tmpdir=${dir}`,
  ]);
  if (init.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${init.code}): ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const logFile = path.join(dir, "mariadbd.log");
  const child = spawn(
    "/usr/sbin/mariadbd",
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--user=root",
      `--pid-file=${path.join(dir, "mariadbd.pid")}`,
      `--log-error=${logFile}`,
      "--skip-name-resolve",
      `--tmpdir=${dir}`,
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--innodb-flush-log-at-trx-commit=0",
      "--skip-log-bin",
    ],
    { env: { PATH: "/usr/bin:/bin:/usr/sbin", LANG: "C.UTF-8" }, stdio: "ignore", cwd: dir },
  );
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const sql = async (query: string, database?: string) => {
    const result = await run(
      "/usr/bin/mariadb",
      ["--no-defaults", `--socket=${socket}`, "-uroot", "-N", "-B", ...(database ? [database] : [])],
      query,
    );
    if (result.code !== 0) throw new Error(`mariadb failed (${result.code}): ${result.stderr}`);
    return result.stdout.trim();
  };

  const until = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (gone || Date.now() > until) {
      child.kill("SIGKILL");
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`mariadbd did not become ready${gone ? " (it exited)" : ""}: ${text.slice(-2000)}`);
    }
    if (fs.existsSync(socket)) {
      const ping = await run("/usr/bin/mariadb-admin", [
        "--no-defaults",
        `--socket=${socket}`,
        "-uroot",
        "ping",
      ]);
      if (ping.code === 0) break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const user = "holdfast_test";
  const password = `maria-${Math.random().toString(36).slice(2)}-secret`;
  await sql(
    [
      `CREATE USER '${user}'@'localhost' IDENTIFIED BY '${password}';`,
      `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}';`,
      `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'localhost' WITH GRANT OPTION;`,
      `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'127.0.0.1' WITH GRANT OPTION;`,
    ].join("\n"),
  );

  let stopped = false;
  return {
    socket,
    port,
    user,
    password,
    dir,
    pid: child.pid ?? 0,
    sql,
    kill: () => {
      child.kill("SIGKILL");
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.kill("SIGTERM"); // mariadbd shuts down cleanly on SIGTERM
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
