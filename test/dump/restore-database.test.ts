// holdfast restore --database with real servers and real restic (both passes): a planted schema and
// rows in PostgreSQL 15 and MariaDB, dumped by the dump step into a local and a REST repository
// (rclone serve restic), restored from each into a new database, compared by a checksum query; a
// SQLite database dumped while a writer inserts, restored into a new file (integrity_check ok). A
// non-empty target is refused (exit 2) unless --force; --dry-run changes nothing and shows no secret.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import type { MariadbServer } from "../helpers/mariadb.js";
import type { PostgresServer } from "../helpers/postgres.js";
import { writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";
import { startDumpFixture, startSqliteWriter, watchArgv, type DumpFixture } from "./fixture.js";

let dir: string;
let config: string;
let pg: PostgresServer;
let maria: MariadbServer;
let fx: DumpFixture;
let liteFile: string;
const pgPassword = "pg-Restore-7d1e:x\\y";

const PG_CHECKSUM =
  "SELECT count(*) || ' ' || md5(string_agg(id || ':' || name || ':' || coalesce(note, '<null>') || ':' || price::text, ',' ORDER BY id)) FROM items";
const MARIA_CHECKSUM =
  "SET SESSION group_concat_max_len = 67108864; SELECT CONCAT(COUNT(*), ' ', MD5(GROUP_CONCAT(CONCAT_WS(':', id, name, IFNULL(note, '<null>'), price) ORDER BY id SEPARATOR ','))) FROM items;";

const cli = (args: string[]) => runCli(["--config", config, ...args], { timeoutMs: 180_000 });

beforeAll(async () => {
  fx = await startDumpFixture("holdfast-dbrestore-");
  ({ dir, pg, maria } = fx);

  // PostgreSQL: a backup role that may create databases, over TCP with its password (scram).
  await pg.sql(`CREATE ROLE app LOGIN CREATEDB PASSWORD '${pgPassword.replaceAll("'", "''")}'`);
  await pg.sql("CREATE DATABASE shop OWNER app");
  await pg.sql(
    [
      "SET ROLE app;",
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, note text, price numeric(10,2));",
      "INSERT INTO items (name, note, price) SELECT 'item-' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('ü', g % 40) END, g * 1.25 FROM generate_series(1, 20000) g;",
      "CREATE INDEX items_name ON items (name);",
      "CREATE VIEW cheap AS SELECT id FROM items WHERE price < 10;",
    ].join("\n"),
    "shop",
  );
  writePassword(path.join(dir, "pg-pass"), pgPassword);
  writePassword(path.join(dir, "maria-pass"), maria.password);
  await maria.sql(
    [
      "CREATE DATABASE shop;",
      "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT, price DECIMAL(10,2)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
      "USE shop;",
      "INSERT INTO shop.items SELECT seq, CONCAT('item-', seq), IF(seq % 3 = 0, NULL, REPEAT('ü', seq % 40)), seq * 1.25 FROM seq_1_to_20000;",
    ].join("\n"),
  );

  liteFile = path.join(dir, "app.db");

  config = writeConfig(
    dir,
    `version: 1
state_dir: ${path.join(dir, "state")}
${fx.repositories()}
jobs:
  dbs:
    steps:
      - name: pg
        type: dump
        engine: postgresql
        host: 127.0.0.1
        port: ${pg.port}
        user: app
        password_file: ${path.join(dir, "pg-pass")}
        databases: [shop]
        globals: false
        repos: [local, rest]
      - name: maria
        type: dump
        engine: mariadb
        socket: ${maria.socket}
        user: ${maria.user}
        password_file: ${path.join(dir, "maria-pass")}
        databases: [shop]
        repos: [local, rest]
      - name: lite
        type: dump
        engine: sqlite
        path: ${liteFile}
        repos: [local, rest]
`,
  );

  // The SQLite writer: another process inserting rows in small transactions for the whole dump.
  const stopWriter = startSqliteWriter(liteFile);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const run = await cli(["run", "dbs", "--json"]);
    expect(run.code, run.stderr).toBe(0);
  } finally {
    stopWriter();
  }
}, 240_000);

afterAll(() => fx?.stop());

describe(`restore --database (${resticUnderTest.label})`, () => {
  it("PostgreSQL: from the local and the REST repository into new databases, row for row equal", async () => {
    const original = await pg.sql(PG_CHECKSUM, "shop");
    expect(original).toMatch(/^20000 [0-9a-f]{32}$/);
    const stopWatching = watchArgv("Restore-7d1e");
    try {
      for (const repo of ["local", "rest"]) {
        const into = `shop_from_${repo}`;
        const out = await cli([
          "restore",
          "--database",
          "shop",
          repo,
          "--source",
          "pg",
          "--to-database",
          into,
          "--json",
        ]);
        expect(out.code, out.stderr).toBe(0);
        const result = parseJson(out);
        expect(result).toMatchObject({
          ok: true,
          created: true,
          engine: "postgresql",
          repo,
          to_database: into,
        });
        expect(result.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
        expect(await pg.sql(PG_CHECKSUM, into)).toBe(original);
        // The view and the index came back too.
        expect(await pg.sql("SELECT count(*) FROM cheap", into)).toBe("7");
        expect(await pg.sql("SELECT indexname FROM pg_indexes WHERE indexname = 'items_name'", into)).toBe(
          "items_name",
        );
        expect(out.stdout + out.stderr).not.toContain(pgPassword);
      }
    } finally {
      expect(stopWatching()).toEqual([]);
    }
  });

  it("PostgreSQL: a non-empty target is refused with exit 2 and left alone; --force loads over it", async () => {
    await pg.sql("CREATE DATABASE shop_busy OWNER app");
    await pg.sql(
      "CREATE TABLE keep (x int); INSERT INTO keep VALUES (42); ALTER TABLE keep OWNER TO app",
      "shop_busy",
    );
    const refused = await cli([
      "restore",
      "--database",
      "shop",
      "--source",
      "pg",
      "--to-database",
      "shop_busy",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to restore into database shop_busy .*holds 1 relation/);
    expect(refused.stderr).toMatch(/--force/);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'items'", "shop_busy")).toBe("0");

    // The original database itself (the default target) is not empty either.
    const own = await cli(["restore", "--database", "shop", "--source", "pg", "--json"]);
    expect(own.code).toBe(2);
    expect(parseJson(own)).toMatchObject({ ok: false, refused: true, error: { kind: "config" } });

    const forced = await cli([
      "restore",
      "--database",
      "shop",
      "--source",
      "pg",
      "--to-database",
      "shop_busy",
      "--force",
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await pg.sql(PG_CHECKSUM, "shop_busy")).toBe(await pg.sql(PG_CHECKSUM, "shop"));
  });

  it("--dry-run prints the restic dump | pg_restore pipeline and changes nothing; no password shown", async () => {
    const out = await cli([
      "restore",
      "--database",
      "shop",
      "rest",
      "--source",
      "pg",
      "--to-database",
      "shop_dry",
      "--dry-run",
    ]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/restic .*dump [0-9a-f]{64} \S*shop\.dump/);
    expect(out.stdout).toMatch(
      /\| PGPASSFILE=\$PRIVATE_DIR\/pgpass pg_restore --no-password --host 127\.0\.0\.1/,
    );
    expect(out.stdout).toMatch(/--dbname=shop_dry/);
    expect(out.stdout).toMatch(/CREATE DATABASE "shop_dry"/);
    expect(out.stdout + out.stderr).not.toContain(pgPassword);
    expect(await pg.sql("SELECT count(*) FROM pg_database WHERE datname = 'shop_dry'")).toBe("0");
    // A dry run against a target that is not empty says it would refuse, with the same exit code.
    const busy = await cli(["restore", "--database", "shop", "--source", "pg", "--dry-run", "--json"]);
    expect(busy.code).toBe(2);
    expect(parseJson(busy).refused).toMatch(/holds 3 relation\(s\) \(tables, views, sequences\)/);
  });

  it("MariaDB: from the local and the REST repository into new databases, row for row equal", async () => {
    const original = await maria.sql(MARIA_CHECKSUM, "shop");
    expect(original).toMatch(/^20000 [0-9a-f]{32}$/);
    for (const repo of ["local", "rest"]) {
      const into = `shop_${repo}`;
      const out = await cli([
        "restore",
        "--database",
        "shop",
        repo,
        "--source",
        "maria",
        "--to-database",
        into,
      ]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(new RegExp(`restored shop .* into database ${into} \\(created\\)`));
      expect(await maria.sql(MARIA_CHECKSUM, into)).toBe(original);
      expect(out.stdout + out.stderr).not.toContain(maria.password);
    }
    const refused = await cli([
      "restore",
      "--database",
      "shop",
      "--source",
      "maria",
      "--to-database",
      "shop_local",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing .*shop_local/);
  });

  it("two dump steps dump a database of that name: --source is asked for", async () => {
    const out = await cli(["restore", "--database", "shop"]);
    // pg and maria both dump "shop".
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/2 dump steps dump a database named shop/);
    expect(out.stderr).toMatch(/--source/);
  });

  it("SQLite dumped while a writer inserted: restored into a new file, integrity_check ok; an existing file is refused", async () => {
    const into = path.join(dir, "restored", "app.db");
    for (const repo of ["local", "rest"]) {
      fs.rmSync(into, { force: true });
      const out = await cli(["restore", "--database", "app", repo, "--to-database", into, "--json"]);
      expect(out.code, out.stderr).toBe(0);
      expect(parseJson(out)).toMatchObject({ ok: true, engine: "sqlite", to_database: into });
      const db = new Database(into, { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      expect((db.prepare("SELECT count(*) AS n FROM log").get() as { n: number }).n).toBeGreaterThan(0);
      db.close();
      expect(fs.statSync(into).mode & 0o777).toBe(0o600);
    }
    const refused = await cli(["restore", "--database", "app", "--to-database", into]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to restore into .*app\.db exists/);
    // --force replaces it, and a stale WAL beside it is removed (it would be replayed into the new file).
    fs.writeFileSync(`${into}-wal`, "stale");
    const forced = await cli(["restore", "--database", "app", "--to-database", into, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.existsSync(`${into}-wal`)).toBe(false);
    const db = new Database(into, { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("mistakes are named: an unknown database, --target with --database, --to-database without it", async () => {
    const unknown = await cli(["restore", "--database", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no dump step of the config dumps a database named nope/);
    expect(unknown.stderr).toMatch(/shop \(source pg\)/);
    const mixed = await cli(["restore", "--database", "app", "--target", "/tmp/x"]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--target is for restoring files/);
    const lone = await cli(["restore", "local", "--to-database", "x"]);
    expect(lone.code).toBe(2);
    expect(lone.stderr).toMatch(/--to-database goes with --database/);
  });
});
