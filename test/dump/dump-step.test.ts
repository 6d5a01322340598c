// The dump step with real servers and real restic (both passes): PostgreSQL and MariaDB on private
// servers (test/dump/fixture.ts), SQLite while a writer inserts, a command dump; into a local
// repository and a REST one (rclone serve restic). A dump that fails half-way, in every mode:
// dump-failures.test.ts.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, runCli, startCli } from "../helpers/cli.js";
import type { MariadbServer } from "../helpers/mariadb.js";
import { PG_BIN, type PostgresServer } from "../helpers/postgres.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  writePassword,
  type DirectRestic,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";
import { runJobWith } from "../steps/run-helpers.js";
import {
  dumpSnapshots,
  startDumpFixture,
  startSqliteWriter,
  watchArgv,
  type DumpFixture,
} from "./fixture.js";

let fx: DumpFixture;
let dir: string;
let pg: PostgresServer;
let maria: MariadbServer;
let local: DirectRestic;
let remote: DirectRestic;
let pgPassword: string;
let mariaPassword: string;
const repositories = () => fx.repositories();

beforeAll(async () => {
  fx = await startDumpFixture("holdfast-dump-");
  ({ dir, pg, maria, local, remote } = fx);
  // A login role with a password (TCP: scram), and a database with a planted schema and rows.
  pgPassword = "pg-Secret-9f2c:x";
  await pg.sql(`CREATE ROLE app LOGIN PASSWORD '${pgPassword}'`);
  await pg.sql("CREATE DATABASE shop OWNER app");
  await pg.sql(
    [
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, note text);",
      "INSERT INTO items (name, note) SELECT 'item-' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('n', g % 50) END FROM generate_series(1, 5000) g;",
      "CREATE INDEX items_name ON items (name);",
      "ALTER TABLE items OWNER TO app;",
    ].join("\n"),
    "shop",
  );
  writePassword(path.join(dir, "pg-pass"), pgPassword);
  mariaPassword = maria.password;
  writePassword(path.join(dir, "maria-pass"), mariaPassword);
  await maria.sql(
    [
      "CREATE DATABASE shop;",
      "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, note TEXT) ENGINE=InnoDB;",
      "USE shop;",
      "INSERT INTO shop.items SELECT seq, CONCAT('item-', seq), IF(seq % 3 = 0, NULL, REPEAT('n', seq % 50)) FROM seq_1_to_5000;",
    ].join("\n"),
  );
}, 120_000);

afterAll(() => fx?.stop());

describe(`dump step (${resticUnderTest.label})`, () => {
  it("PostgreSQL over TCP with a password file: one dump per database into local and REST, tagged, restorable", async () => {
    const work = makeSharedDir("holdfast-dump-pg-");
    const stopWatching = watchArgv(pgPassword);
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
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
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      // No process (pg_dump, restic, holdfast) had the password in its argv at any time we looked.
      expect(stopWatching()).toEqual([]);
      const step = out.step("pg");
      expect(step.status).toBe("succeeded");
      expect(step.targets).toHaveLength(2);
      for (const target of [local, remote]) {
        const snaps = dumpSnapshots(target, "shop");
        expect(snaps).toHaveLength(1);
        expect(snaps[0]?.tags).toEqual(
          expect.arrayContaining(["holdfast", "dump:postgresql", "db:shop", "source:pg"]),
        );
        // The dump in the repository is pg_dump's custom format, with the table and its rows.
        const file = snaps[0]?.paths[0] as string;
        expect(file).toMatch(/postgresql.127\.0\.0\.1.shop\.dump$/);
        const dumped = spawnSync("restic", ["dump", snaps[0]?.id as string, file], {
          env: { ...process.env, RESTIC_REPOSITORY: target.repo, RESTIC_PASSWORD_FILE: target.passwordFile },
          maxBuffer: 64 << 20,
        });
        expect(dumped.status).toBe(0);
        expect(dumped.stdout.subarray(0, 5).toString()).toBe("PGDMP");
        const listed = spawnSync(path.join(PG_BIN, "pg_restore"), ["--list"], { input: dumped.stdout });
        expect(listed.stdout.toString()).toMatch(/TABLE DATA public items/);
      }
      // The size is recorded, the same in both repositories (one dump, teed).
      const sizes = step.targets.map((t: any) => t.dump_size);
      expect(sizes[0]).toBeGreaterThan(10_000);
      expect(sizes[1]).toBe(sizes[0]);
      expect(step.targets[0].mode).toBe("tee");
      // The password is nowhere in the output, the history or the logs.
      const logs = await runCli(["--config", path.join(work, "holdfast.yaml"), "logs", out.run.id]);
      for (const text of [out.cli.stdout, out.cli.stderr, logs.stdout, logs.stderr])
        expect(text).not.toContain(pgPassword);
      const db = fs.readFileSync(path.join(work, "state", "history.db"));
      expect(db.includes(Buffer.from(pgPassword))).toBe(false);
    } finally {
      stopWatching();
      removeDir(work);
    }
  });

  it("PostgreSQL all (pg_dumpall) and a list with globals (pg_dumpall --globals-only as db:globals)", async () => {
    const work = makeSharedDir("holdfast-dump-pgall-");
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - { name: whole, type: dump, engine: postgresql, host: ${pg.socketDir}, port: ${pg.port}, user: postgres, repos: [local] }
      - { name: listed, type: dump, engine: postgresql, host: ${pg.socketDir}, port: ${pg.port}, user: postgres, databases: [shop], repos: [local] }
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      expect(out.step("whole").targets.map((t: any) => t.database)).toEqual(["all"]);
      expect(out.step("listed").targets.map((t: any) => t.database)).toEqual(["globals", "shop"]);
      const read = (db: string, source: string) => {
        const snap = dumpSnapshots(local, db).find((s) => s.tags?.includes(`source:${source}`));
        expect(snap, `${db} of ${source}`).toBeDefined();
        const dumped = restic(local, ["dump", snap!.id, snap!.paths[0] as string], { timeoutMs: 60_000 });
        expect(dumped.code).toBe(0);
        return dumped.stdout;
      };
      // The whole server as SQL: the roles, the database and its rows.
      const all = read("all", "whole");
      expect(all).toContain("CREATE ROLE app;");
      expect(all).toContain("CREATE DATABASE shop WITH");
      expect(all).toContain("ALTER DATABASE shop OWNER TO app;");
      expect(all).toContain("COPY public.items (id, name, note) FROM stdin;");
      // With a list: the roles on their own, the database in custom format beside them.
      const globals = read("globals", "listed");
      expect(globals).toContain("CREATE ROLE app;");
      expect(globals).not.toContain("CREATE DATABASE");
      expect(read("shop", "listed").slice(0, 5)).toBe("PGDMP");
    } finally {
      removeDir(work);
    }
  });

  it("MariaDB over its socket with an option file: --single-transaction dump into local", async () => {
    const work = makeSharedDir("holdfast-dump-maria-");
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - name: maria
        type: dump
        engine: mariadb
        socket: ${maria.socket}
        user: ${maria.user}
        password_file: ${path.join(dir, "maria-pass")}
        databases: [shop]
        repos: [local]
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      const snaps = dumpSnapshots(local, "shop").filter((s) => s.tags?.includes("dump:mariadb"));
      expect(snaps).toHaveLength(1);
      const file = snaps[0]?.paths[0] as string;
      const dumped = restic(local, ["dump", snaps[0]?.id as string, file], { timeoutMs: 60_000 });
      expect(dumped.code).toBe(0);
      expect(dumped.stdout).toContain("CREATE TABLE `items`");
      expect(dumped.stdout).toContain("INSERT INTO `items`");
      expect(dumped.stdout).not.toContain(mariaPassword);
      expect(out.cli.stdout + out.cli.stderr).not.toContain(mariaPassword);
    } finally {
      removeDir(work);
    }
  });

  it("MariaDB all (--all-databases): one dump of the server, with each database's CREATE DATABASE", async () => {
    const work = makeSharedDir("holdfast-dump-mariaall-");
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - { name: mall, type: dump, engine: mariadb, socket: ${maria.socket}, user: ${maria.user}, password_file: ${path.join(dir, "maria-pass")}, repos: [rest] }
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      expect(out.step("mall").targets.map((t: any) => [t.repo, t.database, t.status])).toEqual([
        ["rest", "all", "succeeded"],
      ]);
      const snap = dumpSnapshots(remote, "all").find((s) => s.tags?.includes("source:mall"));
      // Several MB (the mysql schema too): more than spawnSync's default buffer.
      const dumped = spawnSync("restic", ["dump", snap!.id, snap!.paths[0] as string], {
        env: { ...process.env, RESTIC_REPOSITORY: remote.repo, RESTIC_PASSWORD_FILE: remote.passwordFile },
        maxBuffer: 64 << 20,
        encoding: "utf8",
      });
      expect(dumped.status, dumped.stderr).toBe(0);
      expect(dumped.stdout).toMatch(/CREATE DATABASE \/\*!32312 IF NOT EXISTS\*\/ `shop`/);
      expect(dumped.stdout).toContain("INSERT INTO `items`");
      expect(dumped.stdout).not.toContain(mariaPassword);
    } finally {
      removeDir(work);
    }
  });

  it("SQLite while a writer inserts: a consistent copy (integrity_check ok) is stored", async () => {
    const work = makeSharedDir("holdfast-dump-lite-");
    const file = path.join(work, "app.db");
    // The writer: another process inserting rows in small transactions for the whole dump.
    const stopWriter = startSqliteWriter(file);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - name: lite
        type: dump
        engine: sqlite
        path: ${file}
        repos: [local, rest]
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
      // One copy, read by both repositories' restic: the same bytes in each.
      const targets = out.step("lite").targets;
      expect(targets.map((t: any) => [t.repo, t.status])).toEqual([
        ["local", "succeeded"],
        ["rest", "succeeded"],
      ]);
      expect(targets[0].dump_size).toBeGreaterThan(4096);
      expect(targets[1].dump_size).toBe(targets[0].dump_size);
      expect(dumpSnapshots(remote, "app").filter((s) => s.tags?.includes("dump:sqlite"))).toHaveLength(1);
      const snaps = dumpSnapshots(local, "app").filter((s) => s.tags?.includes("dump:sqlite"));
      expect(snaps.length).toBeGreaterThanOrEqual(1);
      const latest = snaps.at(-1) as { id: string; paths: string[] };
      const copy = path.join(work, "restored.db");
      const dumped = spawnSync("restic", ["dump", latest.id, latest.paths[0] as string], {
        env: { ...process.env, RESTIC_REPOSITORY: local.repo, RESTIC_PASSWORD_FILE: local.passwordFile },
        maxBuffer: 256 << 20,
      });
      expect(dumped.status).toBe(0);
      fs.writeFileSync(copy, dumped.stdout);
      const restored = new Database(copy, { readonly: true });
      expect(restored.pragma("integrity_check", { simple: true })).toBe("ok");
      expect((restored.prepare("SELECT count(*) AS n FROM log").get() as { n: number }).n).toBeGreaterThan(0);
      restored.close();
    } finally {
      stopWriter();
      removeDir(work);
    }
  });

  it("one repository whose restic fails at once (wrong password): the dump is stopped, the step fails, nothing hangs", async () => {
    const work = makeSharedDir("holdfast-dump-early-");
    try {
      const wrong = writePassword(path.join(work, "wrong-pw"), "not-the-password");
      const started = Date.now();
      const out = await runJobWith(
        work,
        `repositories:
  local: { url: ${local.repo}, password_file: ${wrong} }
jobs:
  j:
    steps:
      - name: early
        type: dump
        engine: command
        database: early
        # far more than a pipe holds: a dump nobody reads would block for ever
        command: [sh, -c, "head -c 200000000 /dev/zero"]
        repos: [local]
`,
      );
      expect(out.cli.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(45_000);
      const step = out.step("early");
      expect(step.status).toBe("failed");
      expect(step.targets[0].error.kind).toBe("wrong_password");
      expect(dumpSnapshots(local, "early")).toHaveLength(0);
    } finally {
      removeDir(work);
    }
  });

  it("tee into local and REST: one dump whose bytes never pass through holdfast (its reads stay far below the dump)", async () => {
    const work = makeSharedDir("holdfast-dump-tee-flat-");
    try {
      const config = path.join(work, "holdfast.yaml");
      fs.writeFileSync(
        config,
        `version: 1
state_dir: ${path.join(work, "state")}
${repositories()}
jobs:
  j:
    steps:
      - name: flat
        type: dump
        engine: command
        database: teeflat
        command: [sh, -c, "head -c 80000000 /dev/zero"]
        repos: [local, rest]
`,
      );
      // Every byte holdfast's own threads read (rchar: files, pipes, sockets), sampled while it runs
      // (per thread: /proc/PID/io also counts its reaped children, restic and tee). Before the dump
      // went through FIFOs and tee, holdfast read the whole dump from the dump's stdout: 80 MB.
      const child = startCli(["--config", config, "run", "j", "--json"]);
      let rchar = 0;
      const sampler = setInterval(() => {
        let sum = 0;
        try {
          for (const tid of fs.readdirSync(`/proc/${child.pid}/task`)) {
            const io = fs.readFileSync(`/proc/${child.pid}/task/${tid}/io`, "utf8");
            sum += Number(/rchar: (\d+)/.exec(io)?.[1] ?? 0);
          }
        } catch {
          return; // exited (or a thread did, mid-read)
        }
        rchar = Math.max(rchar, sum);
      }, 20);
      const cli = await collect(child, { timeoutMs: 120_000 });
      clearInterval(sampler);
      expect(cli.code, cli.stderr).toBe(0);
      const step = JSON.parse(cli.stdout).steps[0];
      expect(step.targets.map((t: any) => [t.repo, t.status, t.mode, t.dump_size])).toEqual([
        ["local", "succeeded", "tee", 80_000_000],
        ["rest", "succeeded", "tee", 80_000_000],
      ]);
      expect(dumpSnapshots(local, "teeflat")).toHaveLength(1);
      expect(dumpSnapshots(remote, "teeflat")).toHaveLength(1);
      expect(rchar).toBeGreaterThan(0);
      expect(rchar).toBeLessThan(20_000_000);
    } finally {
      removeDir(work);
    }
  });

  it("--dry-run shows the tee (one dump, a FIFO per repository) and, with per_repo, one dump per repository", async () => {
    const work = makeSharedDir("holdfast-dump-plan-");
    try {
      const config = (fanOut: string) =>
        writeConfig(
          work,
          `version: 1
state_dir: ${path.join(work, "state")}
${repositories()}
jobs:
  j:
    steps:
      - { name: p, type: dump, engine: command, database: planned, command: [my-dump, --all], fan_out: ${fanOut}, repos: [local, rest] }
`,
        );
      const teed = await runCli(["--config", config("auto"), "run", "j", "--dry-run"]);
      expect(teed.code, teed.stderr).toBe(0);
      const lines = teed.stdout.split("\n");
      expect(lines.filter((l) => l.includes("my-dump --all"))).toEqual([
        expect.stringMatching(
          /my-dump --all \| tee \$PRIVATE_DIR\/repo-0 \$PRIVATE_DIR\/repo-1 >\/dev\/null/,
        ),
      ]);
      expect(
        lines.filter((l) => /restic .*backup .*--stdin .*< \$PRIVATE_DIR\/repo-[01]$/.test(l)),
      ).toHaveLength(2);
      const each = await runCli(["--config", config("per_repo"), "run", "j", "--dry-run"]);
      expect(
        each.stdout.split("\n").filter((l) => /my-dump --all \| .*restic .*backup/.test(l)),
      ).toHaveLength(2);
      expect(each.stdout).not.toContain("| tee");
    } finally {
      removeDir(work);
    }
  });

  it("tee into two repositories, one of which fails at once: the other gets the whole dump, nothing hangs", async () => {
    const work = makeSharedDir("holdfast-dump-tee-early-");
    try {
      const wrong = writePassword(path.join(work, "wrong-pw"), "not-the-password");
      const started = Date.now();
      const out = await runJobWith(
        work,
        `repositories:
  good: { url: ${local.repo}, password_file: ${local.passwordFile} }
  bad: { url: ${local.repo}, password_file: ${wrong} }
jobs:
  j:
    steps:
      - name: half
        type: dump
        engine: command
        database: teehalf
        # 40 MB: far more than the FIFOs hold, so tee would block on the dead repository's FIFO
        command: [sh, -c, "head -c 40000000 /dev/zero"]
        repos: [bad, good]
`,
      );
      expect(out.cli.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(90_000);
      const step = out.step("half");
      expect(step.targets.map((t: any) => [t.repo, t.status, t.mode])).toEqual([
        ["bad", "failed", "tee"],
        ["good", "succeeded", "tee"],
      ]);
      expect(step.targets[0].error.kind).toBe("wrong_password");
      expect(step.targets[1].dump_size).toBe(40_000_000);
      const snaps = dumpSnapshots(local, "teehalf");
      expect(snaps).toHaveLength(1);
      expect(snaps[0]?.id.startsWith(step.targets[1].snapshot_id)).toBe(true);
    } finally {
      removeDir(work);
    }
  });

  it("min_size and max_shrink: a dump that fails its guard is forgotten", async () => {
    const work = makeSharedDir("holdfast-dump-guard-");
    const data = path.join(work, "data.txt");
    try {
      fs.writeFileSync(data, "x".repeat(10_000));
      const body = `${repositories()}
jobs:
  j:
    steps:
      - name: guarded
        type: dump
        engine: command
        database: guarded
        command: [cat, ${data}]
        max_shrink: 50%
        min_size: 100
        repos: [local]
`;
      const first = await runJobWith(work, body);
      expect(first.cli.code, first.cli.stderr).toBe(0);
      expect(dumpSnapshots(local, "guarded")).toHaveLength(1);
      fs.writeFileSync(data, "x".repeat(3_000));
      const second = await runJobWith(work, body);
      expect(second.cli.code).toBe(1);
      const step = second.step("guarded");
      expect(step.error.kind).toBe("guard");
      expect(step.error.message).toMatch(/70% smaller/);
      expect(step.targets[0].partial_snapshot).toBe("forgotten");
      expect(dumpSnapshots(local, "guarded")).toHaveLength(1);
      fs.writeFileSync(data, "x".repeat(50));
      const third = await runJobWith(work, body);
      expect(third.step("guarded").error.message).toMatch(/below min_size/);
      expect(dumpSnapshots(local, "guarded")).toHaveLength(1);
    } finally {
      removeDir(work);
    }
  });
});
