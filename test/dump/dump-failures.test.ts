// A dump that fails half-way leaves no snapshot of it in any repository (issue 16, Check 2), in every
// way a dump reaches restic, with real restic (both passes), a local and a REST repository:
//   - pipe: one repository, the dump writes into a FIFO restic reads (forced on 0.17+ by fan_out: tee);
//   - stdin_from_command: one repository, restic runs the dump itself (restic 0.17+ only);
//   - tee: two repositories, one dump through coreutils' tee into one FIFO per repository;
//   - per_repo: two repositories, one dump each (pipe before 0.17, stdin_from_command since).
// Two ways to fail half-way: a `command` dump that prints 300 kB and exits 3, and the PostgreSQL
// server killed (SIGKILL of the postmaster and its backends) while pg_dump streams a table. Each
// time: the step failed, every target failed and says what became of its snapshot (never_created, or
// forgotten with the id, which is then gone), and restic lists no snapshot of that database anywhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DirectRestic } from "../helpers/restic-backends.js";
import { makeSharedDir, removeDir, resticSnapshots } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { runCli } from "../helpers/cli.js";
import { writeConfig } from "../helpers/tmp.js";
import { dumpSnapshots, startDumpFixture, type DumpFixture } from "./fixture.js";

let fx: DumpFixture;

beforeAll(async () => {
  fx = await startDumpFixture("holdfast-dumpfail-", { mariadb: false });
  await fx.pg.sql("CREATE DATABASE big");
  // ~150 MB of rows: pg_dump streams for a few seconds, long enough to be killed in the middle.
  await fx.pg.sql(
    "CREATE TABLE blob AS SELECT g AS id, md5(g::text) || repeat(md5((g*7)::text), 30) AS body FROM generate_series(1, 150000) g",
    "big",
  );
}, 180_000);

afterAll(() => fx?.stop());

const fromCommand = resticUnderTest.has("stdinFromCommand");

interface Mode {
  name: string;
  repos: Array<"local" | "rest">;
  fanOut: "auto" | "tee" | "per_repo";
  /** The mode the record names. */
  expect: string;
  skip?: boolean;
}

const MODES: Mode[] = [
  { name: "pipe", repos: ["local"], fanOut: "tee", expect: "pipe" },
  {
    name: "stdin_from_command",
    repos: ["local"],
    fanOut: "auto",
    expect: "stdin_from_command",
    skip: !fromCommand,
  },
  { name: "tee", repos: ["local", "rest"], fanOut: "auto", expect: "tee" },
  {
    name: "per_repo",
    repos: ["local", "rest"],
    fanOut: "per_repo",
    expect: fromCommand ? "stdin_from_command" : "per_repo",
  },
];

const target = (name: "local" | "rest"): DirectRestic => (name === "local" ? fx.local : fx.remote);

/** Runs the job of one dump step; returns the step record. */
async function runDump(mode: Mode, stepBody: string): Promise<{ code: number | null; step: any }> {
  const work = makeSharedDir("holdfast-dumpfail-run-");
  try {
    const config = writeConfig(
      work,
      `version: 1
state_dir: ${work}/state
${fx.repositories()}
jobs:
  j:
    steps:
      - name: d
        type: dump
        fan_out: ${mode.fanOut}
        repos: [${mode.repos.join(", ")}]
${stepBody}`,
    );
    const cli = await runCli(["--config", config, "run", "j", "--json"], { timeoutMs: 180_000 });
    return { code: cli.code, step: JSON.parse(cli.stdout).steps[0] };
  } finally {
    removeDir(work);
  }
}

/** The step failed, each target says what became of its snapshot, and none of the database is left. */
function expectNothingLeft(mode: Mode, step: any, database: string): void {
  expect(step.status).toBe("failed");
  expect(step.targets.map((t: any) => t.repo)).toEqual(mode.repos);
  for (const t of step.targets) {
    expect(t.status).toBe("failed");
    expect(t.mode).toBe(mode.expect);
    expect(t.database).toBe(database);
    expect(t.snapshot_id ?? null).toBeNull();
    expect(["never_created", "forgotten"]).toContain(t.partial_snapshot);
    if (t.partial_snapshot === "forgotten") {
      expect(t.forgotten_snapshot_id).toMatch(/^[0-9a-f]+$/);
      const ids = resticSnapshots(target(t.repo)).map((s) => s.id);
      expect(ids.some((id) => id.startsWith(t.forgotten_snapshot_id))).toBe(false);
    }
  }
  for (const repo of ["local", "rest"] as const) expect(dumpSnapshots(target(repo), database)).toEqual([]);
}

describe(`a dump that fails half-way (${resticUnderTest.label})`, () => {
  for (const mode of MODES) {
    it.skipIf(mode.skip === true)(`${mode.name}: a command dump that prints data and exits 3`, async () => {
      const database = `cmd_${mode.name}`;
      const { code, step } = await runDump(
        mode,
        `        engine: command
        database: ${database}
        command: [sh, -c, "head -c 300000 /dev/urandom; echo half-way >&2; exit 3"]
`,
      );
      expect(code).toBe(1);
      expect(step.error.message).toMatch(/exit (code|status) 3/);
      expectNothingLeft(mode, step, database);
    });

    it.skipIf(mode.skip === true)(
      `${mode.name}: the PostgreSQL server killed mid-dump`,
      async () => {
        const pg = fx.pg;
        // Kill the server once pg_dump is streaming (its backend runs the COPY).
        const killer = (async () => {
          const until = Date.now() + 90_000;
          while (Date.now() < until) {
            const active = await pg
              .sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.blob%'")
              .catch(() => "0");
            if (Number(active) > 0) {
              await new Promise((r) => setTimeout(r, 300));
              pg.kill();
              return true;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
          return false;
        })();
        try {
          const { code, step } = await runDump(
            mode,
            `        engine: postgresql
        host: ${pg.socketDir}
        port: ${pg.port}
        user: postgres
        databases: [big]
        globals: false
`,
          );
          expect(await killer).toBe(true);
          expect(code).toBe(1);
          expect(step.error.message).toMatch(/pg_dump/);
          expectNothingLeft(mode, step, "big");
        } finally {
          await killer;
          await pg.restart();
        }
      },
      180_000,
    );
  }
});
