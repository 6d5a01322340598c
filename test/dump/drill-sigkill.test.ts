// A holdfast SIGKILLed mid-drill (verify with database:) never reaches the finally that drops its
// scratch database; the scratch is recorded in the state dir (0600) before it is created, and the
// next drill drops it — only the recorded ones of dead processes: a live process's scratch and a
// database no record names stay. Real PostgreSQL and MariaDB (the dump fixture), real restic.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startCli } from "../helpers/cli.js";
import { killMatching, sleep } from "../helpers/reliability.js";
import { makeSharedDir, removeDir, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";
import { runJobWith } from "../steps/run-helpers.js";
import { startDumpFixture, type DumpFixture } from "./fixture.js";

let fx: DumpFixture;

beforeAll(async () => {
  fx = await startDumpFixture("holdfast-drillkill-");
  await fx.pg.sql("CREATE DATABASE shop");
  await fx.pg.sql(
    "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 300);",
    "shop",
  );
  await fx.maria.sql(
    "CREATE DATABASE shop; USE shop; CREATE TABLE shop.items (id INT PRIMARY KEY); INSERT INTO shop.items SELECT seq FROM seq_1_to_300;",
  );
}, 120_000);

afterAll(() => fx?.stop());

interface Engine {
  name: string;
  step(work: string): string;
  slowQuery: string;
  scratches(): Promise<string[]>;
  sleeping(): Promise<boolean>;
  create(name: string): Promise<void>;
  /** Ends the orphaned client still connected to the scratch database. */
  endClients(database: string): Promise<unknown>;
}

const engines: Engine[] = [
  {
    name: "PostgreSQL",
    step: () =>
      `{ name: db, type: dump, engine: postgresql, host: ${fx.pg.socketDir}, port: ${fx.pg.port}, user: postgres, databases: [shop], globals: false, repos: [local] }`,
    slowQuery: "SELECT count(*) FROM items, pg_sleep(120)",
    scratches: async () =>
      (await fx.pg.sql("SELECT datname FROM pg_database WHERE datname LIKE 'holdfast_drill_%' ORDER BY 1"))
        .split("\n")
        .filter(Boolean),
    sleeping: async () =>
      Number(
        await fx.pg.sql(
          "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
        ),
      ) > 0,
    create: async (name) => void (await fx.pg.sql(`CREATE DATABASE "${name}"`)),
    // Not by killMatching: a PostgreSQL backend's process title names its database too.
    endClients: (database) =>
      fx.pg.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}'`),
  },
  {
    name: "MariaDB",
    step: (work) =>
      `{ name: db, type: dump, engine: mariadb, socket: ${fx.maria.socket}, user: ${fx.maria.user}, password_file: ${path.join(work, "maria-pass")}, databases: [shop], repos: [local] }`,
    slowQuery: "SELECT SLEEP(120) + 1",
    scratches: async () =>
      (
        await fx.maria.sql(
          "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'holdfast\\_drill\\_%' ORDER BY 1",
        )
      )
        .split("\n")
        .filter(Boolean),
    sleeping: async () =>
      Number(
        await fx.maria.sql(
          "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%SLEEP(120)%' AND id <> CONNECTION_ID()",
        ),
      ) > 0,
    create: async (name) => void (await fx.maria.sql(`CREATE DATABASE \`${name}\``)),
    endClients: (database) => killMatching(database),
  },
];

describe(`a drill killed mid-way (${resticUnderTest.label})`, () => {
  for (const engine of engines)
    it(`${engine.name}: the next drill drops the scratch database the killed one left, and only that`, async () => {
      const work = makeSharedDir("holdfast-drillkill-run-");
      try {
        writePassword(path.join(work, "maria-pass"), fx.maria.password);
        const body = (query: string) => `${fx.repositories()}
jobs:
  j:
    steps:
      - ${engine.step(work)}
      - { name: drill, type: verify, source: db, database: shop, check_query: "${query}", check_min: 1, repos: [local] }
`;
        // The dump, then a drill whose check query sleeps: holdfast is killed while it runs.
        const dumped = await runJobWith(work, body("SELECT 1"), "j");
        expect(dumped.cli.code, dumped.cli.stderr).toBe(0);
        const before = await engine.scratches();
        const config = writeConfig(
          work,
          `version: 1\nstate_dir: ${path.join(work, "state")}\n${body(engine.slowQuery)}`,
        );
        const child = startCli(["--config", config, "run", "j", "--step", "drill", "-q"]);
        const done = collect(child, { timeoutMs: 120_000 });
        const deadline = Date.now() + 60_000;
        while (!(await engine.sleeping())) {
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error("the drill's check query never ran");
          await sleep(100);
        }
        const records = fs.readdirSync(path.join(work, "state", "drill-scratch"));
        expect(records).toHaveLength(1);
        const recordFile = path.join(work, "state", "drill-scratch", records[0]!);
        expect(fs.statSync(recordFile).mode & 0o777).toBe(0o600);
        const record = JSON.parse(fs.readFileSync(recordFile, "utf8"));
        expect(record.pid).toBe(child.pid);
        child.kill("SIGKILL");
        await done;
        // The client holding the scratch open is an orphan now; end it, as a reboot would.
        await engine.endClients(record.database);
        const left = (await engine.scratches()).filter((n) => !before.includes(n));
        expect(left).toEqual([record.database]);
        expect(record.database).toMatch(new RegExp(`^holdfast_drill_shop_${child.pid}_[0-9a-f]{8}$`));

        // A live process's scratch (this test's pid, recorded) and one no record names: never dropped.
        const live = `holdfast_drill_shop_${process.pid}_0123abcd`;
        const stranger = `holdfast_drill_shop_4000000_0123abcd`;
        await engine.create(live);
        await engine.create(stranger);
        fs.writeFileSync(
          path.join(work, "state", "drill-scratch", `${process.pid}-${live}.json`),
          JSON.stringify({ ...record, pid: process.pid, database: live }),
          { mode: 0o600 },
        );

        const next = await runJobWith(work, body("SELECT 1"), "j", ["--step", "drill"]);
        expect(next.cli.code, next.cli.stderr).toBe(0);
        const after = await engine.scratches();
        expect(after).not.toContain(record.database);
        expect(after).toContain(live);
        expect(after).toContain(stranger);
        expect(fs.existsSync(recordFile)).toBe(false);
        expect(fs.readdirSync(path.join(work, "state", "drill-scratch"))).toEqual([
          `${process.pid}-${live}.json`,
        ]);
        for (const name of [live, stranger])
          await (engine.name === "PostgreSQL"
            ? fx.pg.sql(`DROP DATABASE "${name}"`)
            : fx.maria.sql(`DROP DATABASE \`${name}\``));
      } finally {
        removeDir(work);
      }
    }, 180_000);
});
