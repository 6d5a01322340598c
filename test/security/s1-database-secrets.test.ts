// S1 for databases (issue 16): a PostgreSQL and a MariaDB password, each planted in a password_file
// of a dump step, never appear in argv (every process's /proc/PID/cmdline sampled every 10 ms while
// holdfast runs), in the output of run / restore --database / its --dry-run / show / logs / config
// show (with and without --json), in the state dir (logs gunzipped, the history DB and its WAL as
// bytes) — through a dump, a database restore drill (verify database:) and a restore into a new
// database. Real servers on 127.0.0.1 (TCP, scram) and a socket, real restic.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { startMariadb, type MariadbServer } from "../helpers/mariadb.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { writeConfig } from "../helpers/tmp.js";
import { readMaybeGzip, SecretScanner, walkFiles } from "./scan.js";

const hex = () => crypto.randomBytes(8).toString("hex");
const SECRETS = { pgPassword: `s1Pg-${hex()}+a/b:c`, mariaPassword: `s1Maria-${hex()}+d/e` };

let dir: string;
let config: string;
let pg: PostgresServer;
let maria: MariadbServer;

/** Every process's argv, every 10 ms, until stopped. */
function sampleArgv(): () => string[] {
  const seen = new Set<string>();
  let on = true;
  const scan = () => {
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        seen.add(fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " "));
      } catch {
        /* gone */
      }
    }
    if (on) setTimeout(scan, 10);
  };
  scan();
  return () => {
    on = false;
    return [...seen];
  };
}

beforeAll(async () => {
  dir = makeSharedDir("holdfast-s1db-");
  [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  await pg.sql(`CREATE ROLE app LOGIN CREATEDB PASSWORD '${SECRETS.pgPassword}'`);
  await pg.sql("CREATE DATABASE shop OWNER app");
  await pg.sql(
    "SET ROLE app; CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100);",
    "shop",
  );
  await maria.sql(
    `CREATE USER 'app'@'localhost' IDENTIFIED BY '${SECRETS.mariaPassword}'; GRANT ALL PRIVILEGES ON *.* TO 'app'@'localhost'; CREATE DATABASE crm; USE crm; CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2);`,
  );
  const repo = { repo: path.join(dir, "repo"), passwordFile: writePassword(path.join(dir, "repo-pw"), "rp") };
  resticInit(repo);
  config = writeConfig(
    dir,
    `version: 1
state_dir: ${path.join(dir, "state")}
repositories:
  local: { url: ${repo.repo}, password_file: ${repo.passwordFile} }
jobs:
  dbs:
    steps:
      - name: pg
        type: dump
        engine: postgresql
        host: 127.0.0.1
        port: ${pg.port}
        user: app
        password_file: ${writePassword(path.join(dir, "pg-pw"), SECRETS.pgPassword)}
        databases: [shop]
        globals: false
        repos: [local]
      - name: maria
        type: dump
        engine: mariadb
        socket: ${maria.socket}
        user: app
        password_file: ${writePassword(path.join(dir, "maria-pw"), SECRETS.mariaPassword)}
        databases: [crm]
        repos: [local]
      - { name: drill-pg, type: verify, source: pg, database: shop, check_query: "SELECT count(*) FROM t", check_min: 100, repos: [local] }
      - { name: drill-maria, type: verify, source: maria, database: crm, repos: [local] }
`,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop()]);
  removeDir(dir);
});

describe("S1: database passwords", () => {
  it("appear in no argv, output, log or history through dump, drill and restore", async () => {
    const scan = new SecretScanner(SECRETS);
    const stop = sampleArgv();
    const outputs: Array<[string, Awaited<ReturnType<typeof runCli>>]> = [];
    const cli = async (args: string[]) => {
      const out = await runCli(["--config", config, ...args], { timeoutMs: 180_000 });
      outputs.push([args.join(" "), out]);
      return out;
    };
    try {
      const run = await cli(["run", "dbs", "--json"]);
      expect(run.code, run.stderr).toBe(0);
      const runId = JSON.parse(run.stdout).id as string;
      await cli(["run", "dbs", "--dry-run"]);
      const restored = await cli(["restore", "--database", "shop", "--to-database", "shop_copy", "--json"]);
      expect(restored.code, restored.stderr).toBe(0);
      const restoredMaria = await cli(["restore", "--database", "crm", "--to-database", "crm_copy"]);
      expect(restoredMaria.code, restoredMaria.stderr).toBe(0);
      await cli(["restore", "--database", "shop", "--dry-run", "--json"]);
      await cli(["restore", "--database", "crm", "--dry-run"]);
      // A restore refused (the target is not empty).
      await cli(["restore", "--database", "shop", "--to-database", "shop_copy"]);
      await cli(["show", runId, "--json"]);
      await cli(["show", runId]);
      await cli(["logs", runId]);
      await cli(["config", "show"]);
      await cli(["config", "show", "--json"]);
    } finally {
      for (const line of stop()) scan.scan("argv", line);
    }
    for (const [what, out] of outputs) {
      scan.scan(`${what} stdout`, out.stdout);
      scan.scan(`${what} stderr`, out.stderr);
    }
    for (const file of walkFiles(path.join(dir, "state"))) scan.scan(file, readMaybeGzip(file));
    expect(scan.surfaces).toBeGreaterThan(20);
    expect(scan.hits).toEqual([]);
    // The restores did happen (the scan looked at real work).
    expect(await pg.sql("SELECT count(*) FROM t", "shop_copy")).toBe("100");
    expect(await maria.sql("SELECT count(*) FROM crm_copy.t")).toBe("2");
  });
});
