// The hub as `holdfast serve --store postgres` (issue 18 item 4), with real parts: a private
// PostgreSQL 15 set up by `fleet init-db --print`, two hosts (own state dirs and ids) replicating
// with their own roles, and the built CLI's server reading with the viewer role. Checks the fleet
// API (grid worst first, a host's 50-run history), /metrics with a host label and the _expected
// series for a job that never ran, the dashboard's /fleet page, and that no credential leaks.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const PASSWORDS = { a: "hub-test-pa-771", b: "hub-test-pb-772", viewer: "hub-test-pv-773" };

let server: PostgresServer;
let root: string;
let hostA: TestConfig & { id: string };
let hostB: TestConfig & { id: string };
let hub: TestConfig;
const children: ChildProcess[] = [];

async function serveHub(
  args: string[] = [],
): Promise<{ base: string; child: ChildProcess; out: () => string }> {
  const child = startCli(["--config", hub.file, "serve", "--listen", "127.0.0.1:0", ...args], {
    env: { XDG_STATE_HOME: path.join(hub.dir, "xdg-state") },
  });
  children.push(child);
  let seen = "";
  child.stderr?.on("data", (d: Buffer) => (seen += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL: ${seen}`)), 20_000);
    child.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      const m = /http:\/\/\S+?:(\d+)\//.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${seen}`));
    });
  });
  return { base: `http://127.0.0.1:${port}`, child, out: () => seen };
}

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE DATABASE fleet");
  root = makeSharedDir("holdfast-fleet-hub-");
  const make = (name: string, jobs: Record<string, unknown>) => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    return writeTestConfig(dir, { host: name, fleet: { url_file: path.join(dir, "fleet.url") }, jobs });
  };
  const a = make("host-a", {
    nightly: { schedule: "*-*-* 03:00:00", steps: [{ name: "say", type: "exec", command: ["true"] }] },
    weekly: {
      schedule: "Sun 04:00",
      max_age: "8d",
      steps: [{ name: "say", type: "exec", command: ["true"] }],
    },
  });
  const b = make("host-b", {
    nightly: { schedule: "*-*-* 03:00:00", steps: [{ name: "fail", type: "exec", command: ["false"] }] },
  });
  const id = async (cfg: TestConfig) =>
    parseJson<{ host_id: string }>(await cfg.run(["fleet", "id", "--json"])).host_id;
  hostA = Object.assign(a, { id: await id(a) });
  hostB = Object.assign(b, { id: await id(b) });
  fs.mkdirSync(path.join(root, "hub"));
  const viewerFile = path.join(root, "hub", "viewer.url");
  hub = writeTestConfig(path.join(root, "hub"), {
    host: "hub",
    fleet: { url_file: viewerFile, view_url_file: viewerFile },
    jobs: {},
  });
  const script = await hub.run([
    "fleet",
    "init-db",
    "--print",
    "--host",
    `host-a=${hostA.id}`,
    "--host",
    `host-b=${hostB.id}`,
  ]);
  expectExit(script, 0);
  await server.sql(script.stdout, "fleet");
  await server.sql(
    `ALTER ROLE holdfast_host_host_a PASSWORD '${PASSWORDS.a}'; ALTER ROLE holdfast_host_host_b PASSWORD '${PASSWORDS.b}'; ALTER ROLE holdfast_viewer PASSWORD '${PASSWORDS.viewer}';`,
  );
  const url = (role: string, pw: string) => `postgresql://${role}:${pw}@127.0.0.1:${server.port}/fleet\n`;
  fs.writeFileSync(path.join(a.dir, "fleet.url"), url("holdfast_host_host_a", PASSWORDS.a), { mode: 0o600 });
  fs.writeFileSync(path.join(b.dir, "fleet.url"), url("holdfast_host_host_b", PASSWORDS.b), { mode: 0o600 });
  fs.writeFileSync(viewerFile, url("holdfast_viewer", PASSWORDS.viewer), { mode: 0o600 });
  for (let i = 0; i < 3; i++) expectExit(await a.run(["run", "nightly", "-q"]), 0);
  expectExit(await b.run(["run", "nightly", "-q"]), 1);
}, 180_000);

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const done = collect(c);
      c.kill("SIGTERM");
      await done;
    }
  }
});

afterAll(async () => {
  await server?.stop();
  if (root) removeDir(root);
});

describe("serve --store postgres (the fleet hub)", () => {
  it("serves the grid worst first and a host's 50-run history, with no credential in any answer", async () => {
    const s = await serveHub(["--store", "postgres"]);
    expect(s.out()).toMatch(/fleet hub: 127\.0\.0\.1:\d+\/fleet/);
    const res = await fetch(`${s.base}/api/fleet`);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const pw of Object.values(PASSWORDS)) expect(text).not.toContain(pw);
    const view = JSON.parse(text) as {
      hosts: Array<{ host: string; host_id: string; worst: string }>;
      cells: Array<{ host: string; job: string; state: string }>;
    };
    expect(view.hosts.map((h) => `${h.host}:${h.worst}`)).toEqual(["host-b:failed", "host-a:never"]);
    expect(view.cells.map((c) => `${c.host}/${c.job}:${c.state}`)).toEqual([
      "host-b/nightly:failed",
      "host-a/weekly:never",
      "host-a/nightly:ok",
    ]);

    const runs = await fetch(`${s.base}/api/fleet/hosts/${hostA.id}/runs?limit=2`);
    expect(runs.status).toBe(200);
    const page = (await runs.json()) as {
      runs: Array<{ job: string; status: string; received_at: string; steps: unknown[] }>;
      next_before: number;
    };
    expect(page.runs).toHaveLength(2);
    expect(page.runs[0]).toMatchObject({ job: "nightly", status: "succeeded", steps: [{ name: "say" }] });
    const rest = (await (
      await fetch(`${s.base}/api/fleet/hosts/${hostA.id}/runs?before=${page.next_before}`)
    ).json()) as { runs: unknown[]; next_before: number | null };
    expect(rest).toMatchObject({ next_before: null });
    expect(rest.runs).toHaveLength(1);
    const bad = await fetch(`${s.base}/api/fleet/hosts/${hostA.id}/runs?limit=9999`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/1 to 200/);
    // The dashboard has the page (the single-page app answers /fleet).
    const page2 = await fetch(`${s.base}/fleet`);
    expect(page2.status).toBe(200);
    expect(page2.headers.get("content-type")).toMatch(/text\/html/);
  }, 120_000);

  it("filters the dashboard's history views by host (?host=ID): status, runs, a run; logs stay on the host", async () => {
    const s = await serveHub(["--store", "postgres"]);
    const get = async <T>(p: string): Promise<{ status: number; body: T; text: string }> => {
      const res = await fetch(`${s.base}${p}`);
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as T, text };
    };
    type Runs = {
      runs: Array<{ id: string; job: string; host: string; status: string }>;
      next_before_run: string | null;
    };
    type Status = {
      jobs: Array<{
        name: string;
        state: string;
        host_id: string;
        fleet_state: string;
        last_run: { id: string } | null;
        steps: Array<{ name: string }>;
      }>;
      host: { host_id: string; host: string; state: string };
    };
    const a = await get<Status>(`/api/status?host=${hostA.id}`);
    expect(a.status).toBe(200);
    expect(a.body.host).toMatchObject({ host_id: hostA.id, host: "host-a" });
    expect(a.body.jobs.map((j) => `${j.name}:${j.state}:${j.fleet_state}`)).toEqual([
      "nightly:ok:ok",
      "weekly:never:never",
    ]);
    expect(a.body.jobs.every((j) => j.host_id === hostA.id)).toBe(true);
    expect(a.body.jobs[0]!.steps.map((st) => st.name)).toEqual(["say"]);
    const b = await get<Status>(`/api/status?host=${hostB.id}`);
    expect(b.body.jobs.map((j) => `${j.name}:${j.state}`)).toEqual(["nightly:failed"]);
    // The hub's own status is its own config's (no jobs), not the fleet's.
    expect((await get<Status>("/api/status")).body.jobs).toEqual([]);

    const runsA = await get<Runs>(`/api/runs?host=${hostA.id}`);
    expect(runsA.status).toBe(200);
    expect(runsA.body.runs).toHaveLength(3);
    expect(runsA.body.runs.every((r) => r.host === "host-a" && r.status === "succeeded")).toBe(true);
    const runsB = await get<Runs>(`/api/runs?host=${hostB.id}&job=nightly`);
    expect(runsB.body.runs.map((r) => `${r.host}:${r.status}`)).toEqual(["host-b:failed"]);
    // Pages, by the same cursor as the local history.
    const first = await get<Runs>(`/api/runs?host=${hostA.id}&limit=2`);
    expect(first.body.runs).toHaveLength(2);
    const second = await get<Runs>(
      `/api/runs?host=${hostA.id}&limit=2&before_run=${first.body.next_before_run}`,
    );
    expect(second.body.runs.map((r) => r.id)).toEqual([runsA.body.runs[2]!.id]);
    expect((await get<Runs>("/api/runs")).body.runs).toEqual([]);

    const runId = runsA.body.runs[0]!.id;
    const one = await get<{ id: string; host: string; steps: Array<{ name: string; status: string }> }>(
      `/api/runs/${runId}?host=${hostA.id}`,
    );
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: runId,
      host: "host-a",
      steps: [{ name: "say", status: "succeeded" }],
    });
    // Another host's run id is not this host's; a prefix and `latest` work as in the local view.
    expect((await get(`/api/runs/${runId}?host=${hostB.id}`)).status).toBe(404);
    expect((await get<{ id: string }>(`/api/runs/latest?host=${hostA.id}`)).body.id).toBe(runId);
    const logs = await get<{ error: { message: string; hint: string } }>(
      `/api/runs/${runId}/logs?host=${hostA.id}`,
    );
    expect(logs.status).toBe(404);
    expect(logs.body.error.message).toMatch(/stay on its host host-a/);
    expect(logs.body.error.hint).toContain(`holdfast logs ${runId}`);

    const unknown = await get<{ error: { message: string } }>("/api/runs?host=h-000000000000000000000000");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/no host h-0+ in the fleet/);
    expect((await get("/api/status?host=NOT%20AN%20ID")).status).toBe(400);
    const hostsOnly = await get<{ hosts: Array<{ host: string }>; cells?: unknown }>("/api/fleet/hosts");
    expect(hostsOnly.body.hosts.map((h) => h.host)).toEqual(["host-b", "host-a"]);
    expect(hostsOnly.body.cells).toBeUndefined();
    for (const r of [a, b, runsA, one, logs])
      for (const pw of Object.values(PASSWORDS)) expect(r.text).not.toContain(pw);
    // The dashboard's host-scoped pages exist (the single-page app answers them).
    for (const p of [
      `/fleet/hosts/${hostA.id}`,
      `/fleet/hosts/${hostA.id}/jobs/nightly`,
      `/fleet/hosts/${hostA.id}/runs/${runId}`,
    ])
      expect((await fetch(`${s.base}${p}`)).headers.get("content-type")).toMatch(/text\/html/);
  }, 120_000);

  it("refuses ?host= on a server without the fleet instead of answering with its own history", async () => {
    const s = await serveHub();
    for (const p of ["/api/status", "/api/runs", "/api/runs/latest"]) {
      const res = await fetch(`${s.base}${p}?host=${hostA.id}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string; hint: string } };
      expect(body.error.message).toMatch(/shows only its own history/);
      expect(body.error.hint).toMatch(/serve --store postgres/);
    }
    expect((await fetch(`${s.base}/api/runs`)).status).toBe(200);
  }, 120_000);

  it("gives /metrics a host label and an _expected series, so a job that never ran still alerts", async () => {
    const s = await serveHub(["--store", "postgres"]);
    const res = await fetch(`${s.base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /^holdfast_job_last_success_timestamp_seconds\{host="host-a",job="nightly"\} \d+(\.\d+)?$/m,
    );
    expect(text).toMatch(/^holdfast_job_expected\{host="host-a",job="weekly"\} 1$/m);
    expect(text).not.toMatch(/holdfast_job_last_success_timestamp_seconds\{host="host-a",job="weekly"\}/);
    expect(text).not.toMatch(/holdfast_job_last_success_timestamp_seconds\{host="host-b"/);
    expect(text).toMatch(/^holdfast_job_state\{host="host-b",job="nightly",state="failed"\} 1$/m);
    expect(text).toMatch(/^holdfast_fleet_host_missing\{host="host-a"\} 0$/m);
    expect(text).toMatch(/^holdfast_fleet_host_clock_skew_seconds\{host="host-b"\} -?\d/m);
    expect(text).toMatch(/^holdfast_fleet_host_replication_pending\{host="host-a"\} 0$/m);
    expect(text).toMatch(
      /^holdfast_fleet_host_info\{host="host-a",host_id="h-[0-9a-f]+",holdfast_version="0\.1\.0",/m,
    );
    for (const pw of Object.values(PASSWORDS)) expect(text).not.toContain(pw);
  }, 120_000);

  it("refuses an unknown --store and an unreachable fleet database with a clear error, before listening", async () => {
    const bogus = await hub.run(["serve", "--listen", "127.0.0.1:0", "--store", "mysql"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--store mysql is not a store/);
    await server.sql("ALTER ROLE holdfast_viewer NOLOGIN");
    try {
      const r = await hub.run(["serve", "--listen", "127.0.0.1:0", "--store", "postgres"], {
        timeoutMs: 60_000,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/fleet database .*(refused|not permitted|login)/i);
      expect(r.stderr).not.toContain(PASSWORDS.viewer);
      expect(r.stdout).not.toMatch(/http:\/\//);
    } finally {
      await server.sql("ALTER ROLE holdfast_viewer LOGIN");
    }
  }, 120_000);
});
