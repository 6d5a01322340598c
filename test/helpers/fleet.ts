// Hosts of a fleet for the replication tests (test/fleet/replication.test.ts, test/reliability
// R14): a private PostgreSQL 15 with a fleet database owned by one login role, and hosts with their
// own dirs, state dirs, host ids and 0600 URL files, made by the built CLI (`fleet id`). Plus the
// reads those tests compare: a host's own history, its history at the hub, the hub's run ids.
import fs from "node:fs";
import path from "node:path";
import { createPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { RunRecord } from "../../src/store/types.js";
import { parseJson } from "./cli.js";
import { writeTestConfig, type TestConfig } from "./holdfast-env.js";
import { startPostgres, type PostgresServer } from "./postgres.js";

export interface FleetTestHost {
  name: string;
  dir: string;
  cfg: TestConfig;
  id: string;
}

/** A PostgreSQL server with a database `fleet` owned by `role` (which may create the schema). */
export async function startFleetDatabase(
  role: string,
  password: string,
): Promise<{ server: PostgresServer; url: string }> {
  const server = await startPostgres();
  await server.sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  await server.sql(`CREATE DATABASE fleet OWNER ${role}`);
  return { server, url: `postgresql://${role}:${password}@127.0.0.1:${server.port}/fleet` };
}

/**
 * `count` hosts host-0 … under root, each replicating to `url`. `configOf` gives the rest of each
 * config (jobs, repositories, …; its `fleet` settings are merged over url_file).
 */
export async function makeFleetHosts(
  root: string,
  url: string,
  count: number,
  configOf: (
    i: number,
    name: string,
    dir: string,
  ) => Record<string, unknown> & { fleet?: Record<string, unknown> },
): Promise<FleetTestHost[]> {
  const hosts: FleetTestHost[] = [];
  for (let i = 0; i < count; i++) {
    const name = `host-${i}`;
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { recursive: true });
    const urlFile = path.join(dir, "fleet.url");
    fs.writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
    const extra = configOf(i, name, dir);
    const cfg = writeTestConfig(dir, {
      host: name,
      ...extra,
      fleet: { url_file: urlFile, ...(extra.fleet ?? {}) },
    });
    const id = parseJson<{ host_id: string }>(await cfg.run(["fleet", "id", "--json"])).host_id;
    hosts.push({ name, dir, cfg, id });
  }
  return hosts;
}

/** The host's own history, oldest first. */
export async function localHistory(h: { cfg: TestConfig }): Promise<RunRecord[]> {
  const store = createSqliteStore({ path: path.join(h.cfg.stateDir, "history.db"), readonly: true });
  try {
    return (await store.listRuns({ limit: 100_000 })).reverse();
  } finally {
    await store.close();
  }
}

/** The host's history at the hub, oldest first. */
export async function hubHistory(url: string, h: { id: string }): Promise<RunRecord[]> {
  const store = createPostgresStore({ url, hostId: h.id, migrate: false });
  try {
    return (await store.listRuns({ limit: 100_000 })).reverse();
  } finally {
    await store.close();
  }
}

/** The hub's run ids of a host, in the hub's order of arrival. */
export async function hubRunIds(server: PostgresServer, hostId: string): Promise<string[]> {
  const out = await server.sql(
    `SELECT coalesce(string_agg(run_id, ',' ORDER BY seq), '') FROM holdfast.runs WHERE host_id = '${hostId}'`,
    "fleet",
  );
  return out === "" ? [] : out.split(",");
}

/**
 * Records `count` finished one-step runs in a host's own history through its SQLite store, as a run
 * would (create, step running, step succeeded, finish) — a backlog for the replay tests.
 */
export async function recordRuns(
  h: { cfg: TestConfig; name: string },
  options: { prefix: string; count: number; step: { name: string; type: string }; from: number },
): Promise<void> {
  const store = createSqliteStore({ path: path.join(h.cfg.stateDir, "history.db") });
  try {
    for (let i = 0; i < options.count; i++) {
      const id = `${options.prefix}-${String(i).padStart(4, "0")}`;
      const startedAt = new Date(options.from + i * 60_000).toISOString();
      await store.createRun({
        id,
        job: "nightly",
        host: h.name,
        trigger: "schedule",
        pid: 1,
        started_at: startedAt,
        steps: [options.step],
      });
      await store.updateStep(id, 0, { status: "running", started_at: startedAt, attempts: 1 });
      await store.updateStep(id, 0, {
        status: "succeeded",
        finished_at: startedAt,
        duration_ms: 5,
        exit_code: 0,
      });
      await store.finishRun(id, {
        status: "succeeded",
        exit_code: 0,
        finished_at: startedAt,
        duration_ms: 5,
      });
    }
  } finally {
    await store.close();
  }
}
