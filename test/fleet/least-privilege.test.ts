// Least privilege in the fleet database (issue 18 item 5), against a private PostgreSQL 15: the
// script `holdfast fleet init-db --print` prints is applied as the superuser; then two real hosts
// (separate state dirs and host ids, a restic backup each) replicate with their own roles, and
// the test tries, with host A's credentials, to insert, update and delete host B's rows (refused or
// no row reached, B's rows unchanged), and with the viewer's to write anything (refused). A pg_dump of
// the whole database holds neither the repository password nor any role's password.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { PG_BIN, startPostgres, type PostgresServer } from "../helpers/postgres.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  writePassword,
  writeSampleTree,
} from "../helpers/restic-backends.js";

const REPO_PASSWORD = "repo-Password-never-in-pg-71";
const ROLE_PASSWORDS = { a: "role-a-Secret-4411", b: "role-b-Secret-5522", viewer: "viewer-Secret-6633" };

let server: PostgresServer;
let root: string;
let hostA: { cfg: TestConfig; id: string };
let hostB: { cfg: TestConfig; id: string };
let script: string;

const urlFor = (role: string, password: string) =>
  `postgresql://${role}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/fleet`;

async function asRole<T>(role: string, password: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(role, password) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The error code of a statement expected to fail ("" when it succeeded), and rows it reached. */
async function attempt(
  c: pg.Client,
  sql: string,
  params: unknown[] = [],
): Promise<{ code: string; rows: number }> {
  try {
    const r = await c.query(sql, params);
    return { code: "", rows: r.rowCount ?? 0 };
  } catch (err) {
    return { code: String((err as { code?: string }).code), rows: 0 };
  }
}

/** Everything the hub holds of one host, as text (to compare before and after the attempts). */
async function snapshotOf(hostId: string): Promise<string> {
  const parts: string[] = [];
  for (const table of ["hosts", "runs", "steps", "notifications", "step_latest", "state"]) {
    parts.push(
      await server.sql(
        `SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM holdfast.${table} t WHERE host_id = '${hostId}'`,
        "fleet",
      ),
    );
  }
  return parts.join("\n--\n");
}

function makeHost(name: string, repo: { repo: string; passwordFile: string }, src: string): TestConfig {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  return writeTestConfig(dir, {
    host: name,
    fleet: { url_file: path.join(dir, "fleet.url"), host_name: name, sync_timeout: "10s" },
    repositories: { main: { url: repo.repo, password_file: repo.passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: { nightly: { steps: [{ name: "backup", type: "backup", source: "s", repos: ["main"] }] } },
  });
}

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE DATABASE fleet");
  root = makeSharedDir("holdfast-fleet-rls-");
  const src = path.join(root, "src");
  writeSampleTree(src);
  const repo = {
    repo: path.join(root, "repo"),
    passwordFile: writePassword(path.join(root, "repo.pw"), REPO_PASSWORD),
  };
  resticInit(repo);
  const a = makeHost("host-a", repo, src);
  const b = makeHost("host-b", repo, src);
  const idOf = async (cfg: TestConfig) =>
    parseJson<{ host_id: string }>(await cfg.run(["fleet", "id", "--json"])).host_id;
  hostA = { cfg: a, id: await idOf(a) };
  hostB = { cfg: b, id: await idOf(b) };
  const printed = await a.run([
    "fleet",
    "init-db",
    "--print",
    "--host",
    `host-a=${hostA.id}`,
    "--host",
    `host-b=${hostB.id}`,
  ]);
  expectExit(printed, 0);
  script = printed.stdout;
  await server.sql(script, "fleet");
  // Applying it twice changes nothing (idempotent).
  await server.sql(script, "fleet");
  await server.sql(
    `ALTER ROLE holdfast_host_host_a PASSWORD '${ROLE_PASSWORDS.a}';
     ALTER ROLE holdfast_host_host_b PASSWORD '${ROLE_PASSWORDS.b}';
     ALTER ROLE holdfast_viewer PASSWORD '${ROLE_PASSWORDS.viewer}';`,
  );
  fs.writeFileSync(path.join(a.dir, "fleet.url"), `${urlFor("holdfast_host_host_a", ROLE_PASSWORDS.a)}\n`, {
    mode: 0o600,
  });
  fs.writeFileSync(path.join(b.dir, "fleet.url"), `${urlFor("holdfast_host_host_b", ROLE_PASSWORDS.b)}\n`, {
    mode: 0o600,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (root) removeDir(root);
});

describe("fleet least privilege (init-db --print)", () => {
  it("prints no password and refuses to run without --print", async () => {
    for (const secret of [REPO_PASSWORD, ...Object.values(ROLE_PASSWORDS)])
      expect(script).not.toContain(secret);
    expect(script).toMatch(/\\password holdfast_host_host_a/);
    const r = await hostA.cfg.run(["fleet", "init-db"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/only prints the setup script.*--print/s);
    const bad = await hostA.cfg.run(["fleet", "init-db", "--print", "--host", "no-id-here"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not NAME=HOST_ID/);
  });

  it("lets each host replicate its own backups with its own role", async () => {
    for (const h of [hostA, hostB]) {
      const r = await h.cfg.run(["run", "nightly", "-q"]);
      expectExit(r, 0);
      expect(r.stderr).not.toMatch(/not replicated/);
      const sync = parseJson<{ ok: boolean; pending: number }>(await h.cfg.run(["fleet", "sync", "--json"]));
      expect(sync).toMatchObject({ ok: true, pending: 0 });
    }
    for (const h of [hostA, hostB])
      expect(await server.sql(`SELECT count(*) FROM holdfast.runs WHERE host_id = '${h.id}'`, "fleet")).toBe(
        "1",
      );
    await server.sql(
      `INSERT INTO holdfast.state (host_id, key, value) VALUES ('${hostB.id}', 'k', 'b''s own'), ('${hostA.id}', 'k', 'a''s own')`,
      "fleet",
    );
  }, 180_000);

  it("refuses host A's credentials every write to host B's rows; B's rows stay as they were", async () => {
    const before = await snapshotOf(hostB.id);
    expect(before).toContain(hostB.id);
    const bRun = await server.sql(`SELECT run_id FROM holdfast.runs WHERE host_id = '${hostB.id}'`, "fleet");
    const aRun = await server.sql(`SELECT run_id FROM holdfast.runs WHERE host_id = '${hostA.id}'`, "fleet");
    const results = await asRole("holdfast_host_host_a", ROLE_PASSWORDS.a, async (c) => ({
      // A sees only itself.
      seen: (await c.query("SELECT DISTINCT host_id FROM holdfast.runs")).rows.map(
        (r) => r.host_id as string,
      ),
      insertRun: await attempt(
        c,
        `INSERT INTO holdfast.runs (host_id, run_id, job, host, trigger, status, started_at, pid)
         VALUES ($1, 'forged', 'nightly', 'host-b', 'manual', 'failed', now(), 1)`,
        [hostB.id],
      ),
      insertHost: await attempt(
        c,
        "INSERT INTO holdfast.hosts (host_id, display_name) VALUES ('h-forged-host-0000', 'forged')",
      ),
      insertState: await attempt(
        c,
        "INSERT INTO holdfast.state (host_id, key, value) VALUES ($1, 'x', 'y')",
        [hostB.id],
      ),
      updateRun: await attempt(c, "UPDATE holdfast.runs SET status = 'failed' WHERE host_id = $1", [
        hostB.id,
      ]),
      updateSteps: await attempt(c, "UPDATE holdfast.steps SET status = 'failed' WHERE run_id = $1", [bRun]),
      updateHost: await attempt(c, "UPDATE holdfast.hosts SET display_name = 'pwned' WHERE host_id = $1", [
        hostB.id,
      ]),
      // Moving its own row under B's id is refused by the policy's WITH CHECK.
      moveOwn: await attempt(c, "UPDATE holdfast.state SET host_id = $1", [hostB.id]),
      moveRun: await attempt(c, "UPDATE holdfast.runs SET host_id = $1 WHERE run_id = $2", [hostB.id, aRun]),
      deleteState: await attempt(c, "DELETE FROM holdfast.state WHERE host_id = $1", [hostB.id]),
      deleteRun: await attempt(c, "DELETE FROM holdfast.runs WHERE host_id = $1", [hostB.id]),
      truncate: await attempt(c, "TRUNCATE holdfast.runs CASCADE"),
      remap: await attempt(c, "UPDATE holdfast.host_roles SET host_id = $1", [hostB.id]),
      addMapping: await attempt(
        c,
        "INSERT INTO holdfast.host_roles (role_name, host_id) VALUES ('holdfast_host_host_a', 'h-other-000000')",
      ),
      disableRls: await attempt(c, "ALTER TABLE holdfast.runs DISABLE ROW LEVEL SECURITY"),
      createTable: await attempt(c, "CREATE TABLE holdfast.evil (x int)"),
    }));
    expect(results.seen).toEqual([hostA.id]);
    const RLS = "42501"; // insufficient_privilege (also what a row-level security violation raises)
    expect(results.insertRun.code).toBe(RLS);
    expect(results.insertHost.code).toBe(RLS);
    expect(results.insertState.code).toBe(RLS);
    expect(results.updateRun).toEqual({ code: "", rows: 0 });
    expect(results.updateSteps).toEqual({ code: "", rows: 0 });
    expect(results.updateHost).toEqual({ code: "", rows: 0 });
    expect(results.moveOwn.code).toBe(RLS);
    expect(results.moveRun.code).toBe(RLS);
    expect(results.deleteState).toEqual({ code: "", rows: 0 });
    expect(results.deleteRun.code).toBe(RLS);
    expect(results.truncate.code).toBe(RLS);
    expect(results.remap.code).toBe(RLS);
    expect(results.addMapping.code).toBe(RLS);
    expect(["42501", "42P01"]).toContain(results.disableRls.code);
    expect(results.createTable.code).toBe(RLS);
    expect(await snapshotOf(hostB.id)).toBe(before);
    expect(await server.sql("SELECT count(*) FROM holdfast.runs WHERE run_id = 'forged'", "fleet")).toBe("0");
  });

  it("refuses a sync under another host's id with credentials that are not that host's, saying why", async () => {
    const before = await snapshotOf(hostB.id);
    // host A's state dir given host B's id (a copied id file): A's role may not write B's rows.
    const idFile = path.join(hostA.cfg.stateDir, "fleet-host-id");
    const own = fs.readFileSync(idFile);
    fs.copyFileSync(path.join(hostB.cfg.stateDir, "fleet-host-id"), idFile);
    try {
      const run = await hostA.cfg.run(["run", "nightly", "-q"]);
      expectExit(run, 0);
      expect(run.stderr).toMatch(/fleet: not replicated now/);
      const r = await hostA.cfg.run(["fleet", "sync"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/lacks the privilege.*host_roles.*fleet init-db --print/s);
      expect(r.stderr).not.toContain(ROLE_PASSWORDS.a);
    } finally {
      fs.writeFileSync(idFile, own, { mode: 0o600 });
    }
    expect(await snapshotOf(hostB.id)).toBe(before);
  }, 120_000);

  it("lets the viewer read every host and write nothing", async () => {
    const results = await asRole("holdfast_viewer", ROLE_PASSWORDS.viewer, async (c) => ({
      hosts: (await c.query("SELECT DISTINCT host_id FROM holdfast.runs ORDER BY 1")).rows.map(
        (r) => r.host_id as string,
      ),
      steps: Number((await c.query("SELECT count(*) AS n FROM holdfast.steps")).rows[0].n),
      insert: await attempt(c, "INSERT INTO holdfast.state (host_id, key, value) VALUES ($1, 'v', 'v')", [
        hostA.id,
      ]),
      update: await attempt(c, "UPDATE holdfast.runs SET status = 'failed'"),
      delete: await attempt(c, "DELETE FROM holdfast.runs"),
      hostsUpdate: await attempt(c, "UPDATE holdfast.hosts SET display_name = 'x'"),
    }));
    expect(results.hosts).toEqual([hostA.id, hostB.id].sort());
    expect(results.steps).toBe(Number(await server.sql("SELECT count(*) FROM holdfast.steps", "fleet")));
    expect(results.steps).toBeGreaterThanOrEqual(2);
    for (const r of [results.insert, results.update, results.delete, results.hostsUpdate])
      expect(r.code).toBe("42501");
  });

  it("holds no repository secret and no role password anywhere in the database", () => {
    const dump = spawnSync(
      path.join(PG_BIN, "pg_dump"),
      ["-d", "fleet", "--data-only", "--schema=holdfast"],
      {
        env: { ...process.env, ...server.clientEnv() },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(dump.status).toBe(0);
    // Something real was replicated: the backups' snapshot ids are there.
    expect(dump.stdout).toMatch(/"snapshot_id": ?"[0-9a-f]{64}"/);
    for (const secret of [REPO_PASSWORD, ...Object.values(ROLE_PASSWORDS)])
      expect(dump.stdout).not.toContain(secret);
    const schema = spawnSync(
      path.join(PG_BIN, "pg_dump"),
      ["-d", "fleet", "--schema-only", "--schema=holdfast"],
      {
        env: { ...process.env, ...server.clientEnv() },
        encoding: "utf8",
      },
    );
    expect(schema.status).toBe(0);
    expect(schema.stdout).not.toMatch(/password/i);
  });
});
