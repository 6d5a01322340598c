// The dump step with real servers and real restic (both passes): PostgreSQL and MariaDB on private
// servers (test/helpers/postgres.ts, mariadb.ts), SQLite while a writer inserts, a command dump;
// into a local repository and a REST one (rclone serve restic). Failures leave no snapshot anywhere.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli } from "../helpers/cli.js";
import { startMariadb, type MariadbServer } from "../helpers/mariadb.js";
import { PG_BIN, startPostgres, type PostgresServer } from "../helpers/postgres.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
  type DirectRestic,
  type RestServer,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { runJobWith } from "../steps/run-helpers.js";

let dir: string;
let pg: PostgresServer;
let maria: MariadbServer;
let rest: RestServer;
let local: DirectRestic;
let remote: DirectRestic;
let pgPassword: string;
let mariaPassword: string;

function repositories(): string {
  return [
    "repositories:",
    `  local: { url: ${local.repo}, password_file: ${local.passwordFile} }`,
    `  rest: { url: "${remote.repo}", password_file: ${remote.passwordFile} }`,
  ].join("\n");
}

/** Reads every process's argv every few ms until stopped; returns the command lines holding `needle`. */
function watchArgv(needle: string): () => string[] {
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

function dumpSnapshots(target: DirectRestic, db: string) {
  return resticSnapshots(target).filter((s) => s.tags?.includes(`db:${db}`));
}

beforeAll(async () => {
  dir = makeSharedDir("holdfast-dump-");
  [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  rest = await startRestServer(dir);
  local = {
    repo: path.join(dir, "repo-local"),
    passwordFile: writePassword(path.join(dir, "pw-local"), "lp"),
  };
  remote = { repo: `${rest.base}dumps`, passwordFile: writePassword(path.join(dir, "pw-rest"), "rp") };
  resticInit(local);
  resticInit(remote);
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

afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop(), rest?.stop()]);
  removeDir(dir);
});

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

  it("SQLite while a writer inserts: a consistent copy (integrity_check ok) is stored", async () => {
    const work = makeSharedDir("holdfast-dump-lite-");
    const file = path.join(work, "app.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE log (id INTEGER PRIMARY KEY, body TEXT)");
    db.close();
    // The writer: another process inserting rows in small transactions for the whole dump.
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const D=require(${JSON.stringify(path.join(REPO_ROOT, "node_modules/better-sqlite3"))});const d=new D(${JSON.stringify(file)});d.pragma("busy_timeout=5000");const s=d.prepare("INSERT INTO log(body) VALUES (?)");const t=d.transaction(()=>{for(let i=0;i<50;i++)s.run("x".repeat(200))});setInterval(()=>t(),5);`,
      ],
      { stdio: "ignore" },
    );
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
        repos: [local]
`,
      );
      expect(out.cli.code, out.cli.stderr).toBe(0);
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
      writer.kill("SIGKILL");
      removeDir(work);
    }
  });

  it("a command dump that prints data and exits 3: step failed, no snapshot of it in any repository", async () => {
    const work = makeSharedDir("holdfast-dump-fail-");
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - name: broken
        type: dump
        engine: command
        database: broken
        command: [sh, -c, "head -c 300000 /dev/urandom; echo half-way >&2; exit 3"]
        repos: [local, rest]
`,
      );
      expect(out.cli.code).toBe(1);
      const step = out.step("broken");
      expect(step.status).toBe("failed");
      expect(step.error.message).toMatch(/exit (code|status) 3/);
      for (const t of step.targets) {
        expect(t.status).toBe("failed");
        expect(["never_created", "forgotten"]).toContain(t.partial_snapshot);
      }
      expect(dumpSnapshots(local, "broken")).toHaveLength(0);
      expect(dumpSnapshots(remote, "broken")).toHaveLength(0);
    } finally {
      removeDir(work);
    }
  });

  it("a command dump into one repository on restic 0.17+ goes through --stdin-from-command and fails the same way", async () => {
    const work = makeSharedDir("holdfast-dump-fail1-");
    try {
      const out = await runJobWith(
        work,
        `${repositories()}
jobs:
  j:
    steps:
      - name: broken1
        type: dump
        engine: command
        database: broken1
        command: [sh, -c, "head -c 100000 /dev/urandom; exit 3"]
        repos: [local]
`,
      );
      expect(out.cli.code).toBe(1);
      const t = out.step("broken1").targets[0];
      expect(t.mode).toBe(resticUnderTest.has("skipIfUnchanged") ? "stdin_from_command" : "pipe");
      expect(t.partial_snapshot).toBe("never_created");
      expect(dumpSnapshots(local, "broken1")).toHaveLength(0);
    } finally {
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

  it("the PostgreSQL server killed mid-dump: step failed, no snapshot left", async () => {
    const victim = await startPostgres();
    const work = makeSharedDir("holdfast-dump-kill-");
    try {
      await victim.sql("CREATE DATABASE big");
      await victim.sql(
        "CREATE TABLE blob AS SELECT g AS id, md5(g::text) || repeat(md5((g*7)::text), 30) AS body FROM generate_series(1, 150000) g",
        "big",
      );
      const config = path.join(work, "holdfast.yaml");
      fs.writeFileSync(
        config,
        `version: 1
state_dir: ${path.join(work, "state")}
${repositories()}
jobs:
  j:
    steps:
      - name: victim
        type: dump
        engine: postgresql
        host: ${victim.socketDir}
        port: ${victim.port}
        user: postgres
        databases: [big]
        globals: false
        repos: [local, rest]
`,
      );
      // Kill the server once pg_dump is streaming (its backend runs the COPY).
      const killer = (async () => {
        const until = Date.now() + 60_000;
        while (Date.now() < until) {
          const active = await victim
            .sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.blob%'")
            .catch(() => "0");
          if (Number(active) > 0) {
            await new Promise((r) => setTimeout(r, 300));
            victim.kill();
            return true;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        return false;
      })();
      const cli = await runCli(["--config", config, "run", "j", "--json"]);
      expect(await killer).toBe(true);
      expect(cli.code).toBe(1);
      const step = JSON.parse(cli.stdout).steps[0];
      expect(step.status).toBe("failed");
      expect(step.error.message).toMatch(/pg_dump/);
      expect(dumpSnapshots(local, "big")).toHaveLength(0);
      expect(dumpSnapshots(remote, "big")).toHaveLength(0);
    } finally {
      await victim.stop();
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
