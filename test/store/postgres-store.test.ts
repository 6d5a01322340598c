// The RunStore contract over a private PostgreSQL 15 (test/helpers/postgres.ts): the same suite as
// SQLite and memory. Each test writes under a fresh host_id, which is also what isolates hosts in
// the fleet database; a second block checks what is PostgreSQL's own (migrations, host isolation,
// errors without the URL's password).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { PG_LATEST_SCHEMA_VERSION } from "../../src/store/postgres/migrations.js";
import { createPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import { at, describeRunStoreContract, newRun } from "./run-store-contract.js";

let pg: PostgresServer;
let url: string;
let n = 0;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql("CREATE DATABASE fleet");
  url = `postgresql://postgres:${encodeURIComponent(pg.password)}@127.0.0.1:${pg.port}/fleet`;
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

describeRunStoreContract("postgres", () => {
  const store = createPostgresStore({ url, hostId: `contract-${process.pid}-${++n}` });
  return Promise.resolve({ store, cleanup: () => store.close() });
});

describe("PostgreSQL store", () => {
  it("migrates an empty database once, even when two hosts open it at the same moment", async () => {
    await pg.sql("CREATE DATABASE fresh");
    const freshUrl = `postgresql://postgres@/fresh?host=${encodeURIComponent(pg.socketDir)}&port=${pg.port}`;
    const a = createPostgresStore({ url: freshUrl, hostId: "a" });
    const b = createPostgresStore({ url: freshUrl, hostId: "b" });
    try {
      await Promise.all([a.createRun(newRun("r1", "j", at(0))), b.createRun(newRun("r1", "j", at(1)))]);
      expect(
        await pg.sql("SELECT string_agg(version::text, ',') FROM holdfast.schema_migrations", "fresh"),
      ).toBe(Array.from({ length: PG_LATEST_SCHEMA_VERSION }, (_, i) => String(i + 1)).join(","));
      expect(
        await pg.sql(
          "SELECT data_type FROM information_schema.columns WHERE table_schema = 'holdfast' AND table_name = 'runs' AND column_name = 'started_at'",
          "fresh",
        ),
      ).toBe("timestamp with time zone");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("keeps hosts apart: the same run id on two hosts is two runs, each host sees only its own", async () => {
    const a = createPostgresStore({ url, hostId: "iso-a" });
    const b = createPostgresStore({ url, hostId: "iso-b" });
    try {
      await a.createRun(newRun("same", "j", at(0)));
      await b.createRun({ ...newRun("same", "k", at(5)), host: "other" });
      await a.setState("k", "a");
      expect((await a.getRun("same"))?.job).toBe("j");
      expect((await b.getRun("same"))?.job).toBe("k");
      expect(await a.countRuns()).toBe(1);
      expect(await b.getState("k")).toBeNull();
      expect(
        await pg.sql(
          "SELECT string_agg(host_id || '/' || run_id, ',' ORDER BY host_id) FROM holdfast.runs WHERE run_id = 'same'",
          "fleet",
        ),
      ).toBe("iso-a/same,iso-b/same");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("fails with a StoreError naming host and port, never the URL's password, when the server is unreachable", async () => {
    const secret = "hunter2-never-printed";
    const store = createPostgresStore({
      url: `postgresql://holdfast:${secret}@127.0.0.1:1/fleet`,
      hostId: "x",
      connectTimeoutMs: 1_000,
    });
    try {
      const err = await store.getRun("r").then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      const text = `${(err as Error).message} ${(err as StoreError).hint ?? ""}`;
      expect(text).toMatch(/127\.0\.0\.1:1\/fleet.*unreachable/);
      expect(text).not.toContain(secret);
    } finally {
      await store.close();
    }
  });

  it("fails with a StoreError for wrong credentials, without echoing them", async () => {
    const store = createPostgresStore({
      url: `postgresql://postgres:wrong-pass-xyz@127.0.0.1:${pg.port}/fleet`,
      hostId: "x",
    });
    try {
      const err = await store.countRuns().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/refused the credentials/);
      expect((err as Error).message).not.toContain("wrong-pass-xyz");
    } finally {
      await store.close();
    }
  });
});
