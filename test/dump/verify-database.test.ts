// The restore drill of a database (verify with database:) with real servers and restic (both
// passes): a dump step, then a verify step that restores the latest dump into a scratch database (a
// temporary file for SQLite), runs check_query and drops the scratch — recorded per repository, with
// the drill's time in the state the dashboard and metrics read. A check that fails is an anomaly and
// the scratch database is dropped all the same.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import type { MariadbServer } from "../helpers/mariadb.js";
import type { PostgresServer } from "../helpers/postgres.js";
import { makeSharedDir, removeDir, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";
import { runJobWith } from "../steps/run-helpers.js";
import { startDumpFixture, type DumpFixture } from "./fixture.js";

let fx: DumpFixture;
let pg: PostgresServer;
let maria: MariadbServer;
const repositories = () => fx.repositories();

beforeAll(async () => {
  fx = await startDumpFixture("holdfast-drilldb-");
  ({ pg, maria } = fx);
  await pg.sql("CREATE DATABASE shop");
  await pg.sql(
    "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item-' || g FROM generate_series(1, 1500) g;",
    "shop",
  );
  await maria.sql(
    "CREATE DATABASE shop; USE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO shop.items SELECT seq, CONCAT('i', seq) FROM seq_1_to_700;",
  );
}, 120_000);

afterAll(() => fx?.stop());

const scratchLeft = async () =>
  Number(await pg.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'holdfast_drill_%'"));

describe(`verify database: (${resticUnderTest.label})`, () => {
  it("PostgreSQL: the latest dump restored into a scratch database in each repository, queried, dropped", async () => {
    const work = makeSharedDir("holdfast-drilldb-pg-");
    try {
      const body = (min: number) => `${repositories()}
jobs:
  j:
    steps:
      - name: pg
        type: dump
        engine: postgresql
        host: ${pg.socketDir}
        port: ${pg.port}
        user: postgres
        databases: [shop]
        globals: false
        repos: [local, rest]
      - name: drill
        type: verify
        source: pg
        database: shop
        check_query: "SELECT count(*) FROM items"
        check_min: ${min}
        repos: [local, rest]
`;
      const out = await runJobWith(work, body(1500));
      expect(out.cli.code, out.cli.stderr).toBe(0);
      const step = out.step("drill");
      expect(step.status).toBe("succeeded");
      expect(step.summary).toMatchObject({
        source: "pg",
        database: "shop",
        engine: "postgresql",
        check_query: "SELECT count(*) FROM items",
        passed: ["local", "rest"],
      });
      for (const t of step.targets) {
        expect(t.status).toBe("succeeded");
        expect(t.check_value).toBe("1500");
        expect(t.scratch_database).toMatch(/^holdfast_drill_shop_\d+_[0-9a-f]{8}$/);
        expect(t.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(await scratchLeft()).toBe(0);
      // status names each database × repository with its newest dump and the drill that passed.
      const status = await runCli(["--config", path.join(work, "holdfast.yaml"), "status", "--json"]);
      const dbs = JSON.parse(status.stdout).databases;
      expect(dbs.map((d: any) => [d.source, d.database, d.repo])).toEqual([
        ["pg", "shop", "local"],
        ["pg", "shop", "rest"],
      ]);
      for (const d of dbs) {
        expect(d.last_dump_at).toMatch(/^\d{4}-/);
        expect(d.size_bytes).toBeGreaterThan(1000);
        expect(d.last_drill_at).toMatch(/^\d{4}-/);
      }
      const human = await runCli(["--config", path.join(work, "holdfast.yaml"), "status"]);
      expect(human.stdout).toMatch(/databases:\n.*DATABASE.*\n\s*pg\/shop\s+local\s+\S+/);
      // The drill's time is kept per repository × source (the redundancy matrix and metrics read it).
      const metrics = await runCli(["--config", path.join(work, "holdfast.yaml"), "metrics"]);
      expect(metrics.stdout).toMatch(
        /holdfast_repository_last_drill_timestamp_seconds\{[^}]*repo="local"[^}]*source="pg"[^}]*\} \d+/,
      );
      // …and per database, as the engine records a database drill (issue 16 item 5).
      for (const repo of ["local", "rest"])
        expect(metrics.stdout).toMatch(
          new RegExp(
            `holdfast_dump_last_drill_timestamp_seconds\\{job="j",step="pg",repo="${repo}",database="shop"\\} \\d+`,
          ),
        );

      // A check that the copy does not meet: an anomaly, and the scratch database is still dropped.
      const short = await runJobWith(work, body(2000), "j", ["--step", "drill"]);
      expect(short.cli.code).toBe(1);
      const failed = short.step("drill");
      expect(failed.status).toBe("failed");
      expect(failed.error.kind).toBe("anomaly");
      expect(failed.error.message).toMatch(/answers 1500 to the check query, less than check_min 2000/);
      expect(await scratchLeft()).toBe(0);
    } finally {
      removeDir(work);
    }
  });

  it("MariaDB over its socket with a password file, default check (tables ≥ 1); dry-run says what would run", async () => {
    const work = makeSharedDir("holdfast-drilldb-maria-");
    try {
      writePassword(path.join(work, "maria-pass"), maria.password);
      const body = `${repositories()}
jobs:
  j:
    steps:
      - name: maria
        type: dump
        engine: mariadb
        socket: ${maria.socket}
        user: ${maria.user}
        password_file: ${path.join(work, "maria-pass")}
        databases: [shop]
        repos: [local]
      - { name: drill, type: verify, source: maria, database: shop, repos: [local] }
`;
      const out = await runJobWith(work, body);
      expect(out.cli.code, out.cli.stderr).toBe(0);
      const t = out.step("drill").targets[0];
      expect(t.status).toBe("succeeded");
      expect(t.check_value).toBe("1");
      expect(
        await maria.sql(
          "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'holdfast_drill%'",
        ),
      ).toBe("0");
      expect(out.cli.stdout + out.cli.stderr).not.toContain(maria.password);
      const plan = await runCli(["--config", path.join(work, "holdfast.yaml"), "run", "j", "--dry-run"]);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(
        /restic dump SNAPSHOT FILE \| mariadb '--defaults-extra-file=\$PRIVATE_DIR\/client.cnf' --socket=\S+ --user=holdfast_test --sandbox holdfast_drill_shop_PID_XXXXXXXX/,
      );
      expect(plan.stdout).toMatch(/CREATE DATABASE `holdfast_drill_shop_PID_XXXXXXXX`/);
      expect(plan.stdout).toMatch(/DROP DATABASE IF EXISTS `holdfast_drill_shop_PID_XXXXXXXX`.*always/);
      expect(plan.stdout).not.toContain(maria.password);
    } finally {
      removeDir(work);
    }
  });

  it("SQLite: restored into a temporary file and queried; nothing left behind", async () => {
    const work = makeSharedDir("holdfast-drilldb-lite-");
    try {
      const file = path.join(work, "notes.db");
      const db = new Database(file);
      db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
      db.prepare(
        "INSERT INTO notes (body) SELECT 'n' FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 321) SELECT x FROM c)",
      ).run();
      db.close();
      const before = fs.readdirSync("/tmp").filter((n) => n.startsWith("holdfast-drill-db-")).length;
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - { name: lite, type: dump, engine: sqlite, path: ${file}, repos: [rest] }
      - { name: drill, type: verify, source: lite, database: notes, check_query: "SELECT count(*) FROM notes", check_min: 321, repos: [rest] }
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      expect(out.step("drill").targets[0]).toMatchObject({ status: "succeeded", check_value: "321" });
      expect(fs.readdirSync("/tmp").filter((n) => n.startsWith("holdfast-drill-db-")).length).toBe(before);
    } finally {
      removeDir(work);
    }
  });

  it("a database no dump step dumps is a config error with its position", async () => {
    const work = makeSharedDir("holdfast-drilldb-cfg-");
    try {
      const config = writeConfig(
        work,
        `version: 1
state_dir: ${path.join(work, "state")}
${repositories()}
jobs:
  j:
    steps:
      - { name: pg, type: dump, engine: postgresql, databases: [shop], repos: [local] }
      - { name: drill, type: verify, source: pg, database: shopp, repos: [local] }
`,
      );
      const out = await runCli(["--config", config, "config", "validate"]);
      expect(out.code).toBe(2);
      expect(out.stderr + out.stdout).toMatch(
        /holdfast\.yaml:\d+:\d+.*no dump step with source pg dumps a database named shopp/,
      );
      expect(out.stderr + out.stdout).toMatch(/shop \(source pg\)/);
    } finally {
      removeDir(work);
    }
  });
});
