// What the dump tests share (before: each file started its servers, wrote its repositories block,
// initialised its repositories and watched argv with its own copy of the same lines): private
// PostgreSQL 15 and MariaDB servers, a REST server (rclone serve restic), a local and a REST
// repository initialised with the restic under test, and helpers to read what a dump left behind.
//
//   let fx: DumpFixture;
//   beforeAll(async () => (fx = await startDumpFixture("holdfast-dump-")), 120_000);
//   afterAll(() => fx?.stop());
//   … runJobWith(work, `${fx.repositories()}\njobs: …`)
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { REPO_ROOT } from "../helpers/cli.js";
import { startMariadb, type MariadbServer } from "../helpers/mariadb.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
  type DirectRestic,
  type RestServer,
} from "../helpers/restic-backends.js";

export interface DumpFixture {
  /** The fixture's own directory (repositories, password files); removed by stop(). */
  dir: string;
  pg: PostgresServer;
  maria: MariadbServer;
  rest: RestServer;
  /** A local repository and one on the REST server, both initialised. */
  local: DirectRestic;
  remote: DirectRestic;
  /** The `repositories:` block naming them `local` and `rest`. */
  repositories(): string;
  stop(): Promise<void>;
}

export interface DumpFixtureOptions {
  /** Without MariaDB (its bootstrap is the slowest part); `maria` is then unusable. */
  mariadb?: boolean;
}

export async function startDumpFixture(
  prefix: string,
  options: DumpFixtureOptions = {},
): Promise<DumpFixture> {
  const dir = makeSharedDir(prefix);
  const wantMaria = options.mariadb ?? true;
  const [pg, maria] = await Promise.all([
    startPostgres(),
    wantMaria ? startMariadb() : Promise.resolve(null),
  ]);
  const rest = await startRestServer(dir);
  const local = {
    repo: path.join(dir, "repo-local"),
    passwordFile: writePassword(path.join(dir, "pw-local"), "lp"),
  };
  const remote = { repo: `${rest.base}dumps`, passwordFile: writePassword(path.join(dir, "pw-rest"), "rp") };
  resticInit(local);
  resticInit(remote);
  return {
    dir,
    pg,
    get maria(): MariadbServer {
      if (!maria) throw new Error("this fixture was started without MariaDB");
      return maria;
    },
    rest,
    local,
    remote,
    repositories: () =>
      [
        "repositories:",
        `  local: { url: ${local.repo}, password_file: ${local.passwordFile} }`,
        `  rest: { url: "${remote.repo}", password_file: ${remote.passwordFile} }`,
      ].join("\n"),
    stop: async () => {
      await Promise.all([pg.stop(), maria?.stop(), rest.stop()]);
      removeDir(dir);
    },
  };
}

/** The snapshots of one database's dumps (tag db:NAME) in a repository. */
export function dumpSnapshots(target: DirectRestic, db: string) {
  return resticSnapshots(target).filter((s) => s.tags?.includes(`db:${db}`));
}

/** Reads every process's argv every few ms until stopped; returns the command lines holding `needle`. */
export function watchArgv(needle: string): () => string[] {
  const seen: string[] = [];
  let on = true;
  const scan = () => {
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
        if (cmd.includes(needle)) seen.push(cmd.replaceAll("\0", " "));
      } catch {
        /* gone */
      }
    }
    if (on) setTimeout(scan, 10);
  };
  scan();
  return () => {
    on = false;
    return seen;
  };
}

/**
 * A SQLite database in WAL mode with a table `log`, and another process inserting rows into it in
 * small transactions until the returned function stops it (a live database to copy).
 */
export function startSqliteWriter(file: string): () => void {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, body TEXT)");
  db.close();
  const writer = spawn(
    process.execPath,
    [
      "-e",
      `const D=require(${JSON.stringify(path.join(REPO_ROOT, "node_modules/better-sqlite3"))});const d=new D(${JSON.stringify(file)});d.pragma("busy_timeout=5000");const s=d.prepare("INSERT INTO log(body) VALUES (?)");const t=d.transaction(()=>{for(let i=0;i<50;i++)s.run("x".repeat(200))});setInterval(()=>t(),5);`,
    ],
    { stdio: "ignore" },
  );
  return () => writer.kill("SIGKILL");
}
