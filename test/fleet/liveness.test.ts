// Clocks and liveness on the hub (issue 18 item 3), with real parts: a private PostgreSQL 15 set up
// by `fleet init-db --print` (a role per host, the hub reads with the viewer), two hosts with their
// own state dirs and ids — host A runs a real restic backup (0.14 and 0.18 passes), host B's clock runs 3 minutes ahead
// (libfaketime) and it runs every 5 s — and a hub (`status --fleet`, `watch --fleet`) whose webhook
// notifier posts to an HTTP receiver on 127.0.0.1. Checks: skew and versions per host; B, silent,
// becomes `missing` after its expected run + grace with one notification; back, one `recovered`;
// A's job that never ran goes stale once. Host C has no scheduled job and promises a report every
// 4 s (fleet.report_every): silent, it becomes `missing` too (once), and `fleet sync` recovers it.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { startPostgres, type PostgresServer } from "../helpers/postgres.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  writePassword,
  writeSampleTree,
} from "../helpers/restic-backends.js";

const FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const B_AHEAD_MS = 180_000;
const fakeClockB = {
  LD_PRELOAD: FAKETIME_LIB,
  FAKETIME: `+${B_AHEAD_MS / 1000}`,
  FAKETIME_DONT_FAKE_MONOTONIC: "1",
};

interface Posted {
  event: string;
  job: string;
  host: string;
  title: string;
  details: Record<string, unknown>;
}

let server: PostgresServer;
let root: string;
let receiver: http.Server;
const posted: Posted[] = [];
let hostA: TestConfig;
let hostB: TestConfig;
let hostC: TestConfig;
let hub: TestConfig;

function writeUrl(file: string, role: string, password: string): void {
  fs.writeFileSync(file, `postgresql://${role}:${password}@127.0.0.1:${server.port}/fleet\n`, {
    mode: 0o600,
  });
}

interface WatchJson {
  stale: boolean;
  missing: boolean;
  entries: Array<{ host: string; job: string; state: string; notice: string | null; episode: string | null }>;
}
interface StatusJson {
  hub_now: string;
  hosts: Array<{
    host: string;
    state: string;
    skew_ms: number | null;
    clock_warning: string | null;
    holdfast_version: string | null;
    restic_version: string | null;
    replication: { pending: number; lag_seconds: number } | null;
    next_expected_at: string | null;
    report_every_ms: number | null;
  }>;
  cells: Array<{ host: string; job: string; state: string; last_success_at: string | null }>;
}

const watchFleet = async () => {
  const r = await hub.run(["watch", "--fleet", "--json"]);
  return { code: r.code, json: parseJson<WatchJson>(r) };
};
const sent = (host: string, job: string, event: string) =>
  posted.filter((p) => p.host === host && p.job === job && p.event === event);

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE DATABASE fleet");
  root = makeSharedDir("holdfast-fleet-live-");
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      posted.push(JSON.parse(body) as Posted);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;

  const src = path.join(root, "src");
  writeSampleTree(src);
  const repo = {
    repo: path.join(root, "repo"),
    passwordFile: writePassword(path.join(root, "repo.pw"), "pw"),
  };
  resticInit(repo);
  for (const name of ["a", "b", "c", "hub"]) fs.mkdirSync(path.join(root, name));
  hostA = writeTestConfig(path.join(root, "a"), {
    host: "host-a",
    fleet: { url_file: path.join(root, "a", "fleet.url"), sync_timeout: "10s" },
    repositories: { main: { url: repo.repo, password_file: repo.passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      nightly: {
        schedule: "*-*-* 03:00:00",
        max_age: "2d",
        steps: [{ name: "backup", type: "backup", source: "s", repos: ["main"] }],
      },
      // Never run: stale on the hub once the hub has known host A for 8 s.
      weekly: { max_age: "8s", steps: [{ name: "say", type: "exec", command: ["true"] }] },
    },
  });
  hostB = writeTestConfig(path.join(root, "b"), {
    host: "host-b",
    fleet: { url_file: path.join(root, "b", "fleet.url"), sync_timeout: "10s" },
    jobs: {
      tick: { schedule: "*:*:0/5", steps: [{ name: "say", type: "exec", command: ["echo", "tick"] }] },
    },
  });
  hostC = writeTestConfig(path.join(root, "c"), {
    host: "host-c",
    fleet: { url_file: path.join(root, "c", "fleet.url"), sync_timeout: "10s", report_every: "4s" },
    jobs: { manual: { steps: [{ name: "say", type: "exec", command: ["true"] }] } },
  });
  const viewerUrl = path.join(root, "hub", "viewer.url");
  hub = writeTestConfig(path.join(root, "hub"), {
    host: "hub",
    fleet: { url_file: viewerUrl, view_url_file: viewerUrl, missing_grace: "12s", notify: ["hook"] },
    notifications: { hook: { type: "webhook", url: `http://127.0.0.1:${port}/hook`, timeout: "5s" } },
    jobs: {},
  });
  const idA = parseJson<{ host_id: string }>(await hostA.run(["fleet", "id", "--json"])).host_id;
  const idB = parseJson<{ host_id: string }>(
    await hostB.run(["fleet", "id", "--json"], { env: fakeClockB }),
  ).host_id;
  const idC = parseJson<{ host_id: string }>(await hostC.run(["fleet", "id", "--json"])).host_id;
  const script = await hub.run([
    "fleet",
    "init-db",
    "--print",
    "--host",
    `host-a=${idA}`,
    "--host",
    `host-b=${idB}`,
    "--host",
    `host-c=${idC}`,
  ]);
  expectExit(script, 0);
  await server.sql(script.stdout, "fleet");
  await server.sql(
    "ALTER ROLE holdfast_host_host_a PASSWORD 'pa'; ALTER ROLE holdfast_host_host_b PASSWORD 'pb'; ALTER ROLE holdfast_host_host_c PASSWORD 'pc'; ALTER ROLE holdfast_viewer PASSWORD 'pv';",
  );
  writeUrl(path.join(root, "a", "fleet.url"), "holdfast_host_host_a", "pa");
  writeUrl(path.join(root, "b", "fleet.url"), "holdfast_host_host_b", "pb");
  writeUrl(path.join(root, "c", "fleet.url"), "holdfast_host_host_c", "pc");
  writeUrl(viewerUrl, "holdfast_viewer", "pv");
}, 120_000);

afterAll(async () => {
  receiver?.close();
  await server?.stop();
  if (root) removeDir(root);
});

describe("fleet clocks and liveness", () => {
  it("shows each host's clock skew, versions and jobs on the hub's clock, worst first", async () => {
    // C has nothing scheduled: it reports by `fleet sync` (a timer, in real life). B last: its
    // next run is due within 5 s.
    expectExit(await hostC.run(["fleet", "sync"]), 0);
    expectExit(await hostA.run(["run", "nightly", "-q"]), 0);
    expectExit(await hostB.run(["run", "tick", "-q"], { env: fakeClockB }), 0);
    const r = await hub.run(["status", "--fleet", "--json"]);
    expectExit(r, 0);
    const view = parseJson<StatusJson>(r);
    const a = view.hosts.find((h) => h.host === "host-a")!;
    const b = view.hosts.find((h) => h.host === "host-b")!;
    expect(a).toMatchObject({ state: "ok", holdfast_version: "0.1.0", clock_warning: null });
    expect(a.restic_version).toMatch(new RegExp(`^${resticUnderTest.version.replace(".", "\\.")}\\.\\d+$`));
    expect(Math.abs(a.skew_ms!)).toBeLessThan(5_000);
    expect(a.replication).toEqual({ pending: 0, oldest_pending_at: null, lag_seconds: 0 });
    expect(b.state).toBe("ok");
    expect(Math.abs(b.skew_ms! - B_AHEAD_MS)).toBeLessThan(5_000);
    expect(b.clock_warning).toMatch(/3 min ahead of the hub's/);
    const c = view.hosts.find((h) => h.host === "host-c")!;
    expect(c).toMatchObject({ state: "ok", report_every_ms: 4_000 });
    // Its next report is expected 4 s after the last one, on the hub's clock.
    expect(Date.parse(c.next_expected_at!) - Date.parse(view.hub_now)).toBeLessThanOrEqual(4_000);
    expect(b.report_every_ms).toBeNull();
    // B's next run, by its clock 3 min ahead, is expected within 5 s on the hub's.
    const expectedIn = Date.parse(b.next_expected_at!) - Date.parse(view.hub_now);
    expect(expectedIn).toBeGreaterThan(-3_000);
    expect(expectedIn).toBeLessThan(8_000);
    // A's last success on the hub's clock is not in the future; B's neither (its clock is ahead).
    for (const c of view.cells.filter((x) => x.last_success_at !== null))
      expect(Date.parse(c.last_success_at!)).toBeLessThanOrEqual(Date.parse(view.hub_now));
    expect(view.cells.map((c) => `${c.host}/${c.job}`)).toEqual(
      expect.arrayContaining(["host-a/nightly", "host-a/weekly", "host-b/tick"]),
    );
    const text = await hub.run(["status", "--fleet"]);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/HOST\s+STATE\s+LAST HEARD\s+SKEW\s+REPLICATION\s+HOLDFAST\s+RESTIC/);
    expect(text.stdout).toMatch(/host-b: clock: its clock is 3 min ahead of the hub's/);
    expect(text.stdout).not.toMatch(/pv|pa|pb@/);
  }, 180_000);

  it("calls a silent host missing after its expected run + grace, notifies once, and recovered once", async () => {
    // B is silent from now on; A's weekly job (never run) goes stale meanwhile.
    const deadline = Date.now() + 90_000;
    let last: { code: number | null; json: WatchJson } | null = null;
    while (Date.now() < deadline) {
      last = await watchFleet();
      const b = last.json.entries.find((e) => e.host === "host-b" && e.job === "*")!;
      const weekly = last.json.entries.find((e) => e.host === "host-a" && e.job === "weekly")!;
      const c = last.json.entries.find((e) => e.host === "host-c" && e.job === "*")!;
      if (b.state === "missing" && weekly.state === "stale" && c.state === "missing") break;
      await new Promise((r) => setTimeout(r, 1_500));
    }
    expect(last!.code).toBe(2);
    expect(last!.json).toMatchObject({ missing: true, stale: true });
    // Two more checks within the episodes send nothing more.
    for (let i = 0; i < 2; i++) {
      const again = await watchFleet();
      expect(again.code).toBe(2);
      const b = again.json.entries.find((e) => e.host === "host-b" && e.job === "*")!;
      expect(b).toMatchObject({ state: "missing", episode: "missing", notice: "already_sent" });
    }
    expect(sent("host-b", "*", "stale")).toHaveLength(1);
    expect(sent("host-b", "*", "stale")[0]!.details).toMatchObject({ fleet: "missing" });
    expect(sent("host-b", "*", "stale")[0]!.title).toMatch(/host-b is MISSING/);
    // C, with nothing scheduled, went missing when its reports stopped: once.
    expect(sent("host-c", "*", "stale")).toHaveLength(1);
    expect(sent("host-c", "*", "stale")[0]!.details).toMatchObject({ fleet: "missing" });
    expect(sent("host-a", "weekly", "stale")).toHaveLength(1);
    expect(sent("host-a", "weekly", "stale")[0]!.details).toMatchObject({ fleet: "stale" });
    // A's backups are fine: nothing about them; B's job is not notified separately while B is missing.
    expect(sent("host-a", "nightly", "stale")).toHaveLength(0);
    expect(sent("host-b", "tick", "stale")).toHaveLength(0);
    const status = parseJson<StatusJson>(await hub.run(["status", "--fleet", "--json"]));
    expect(status.hosts[0]!.host).toBe("host-b");
    expect(status.cells[0]).toMatchObject({ host: "host-b", state: "missing" });

    // B and C report again.
    expectExit(await hostB.run(["run", "tick", "-q"], { env: fakeClockB }), 0);
    expectExit(await hostC.run(["fleet", "sync"]), 0);
    const back = await watchFleet();
    const b = back.json.entries.find((e) => e.host === "host-b" && e.job === "*")!;
    expect(b).toMatchObject({ state: "ok", notice: "recovered" });
    expect(back.json.entries.find((e) => e.host === "host-c" && e.job === "*")).toMatchObject({
      state: "ok",
      notice: "recovered",
    });
    expect(sent("host-c", "*", "recovered")).toHaveLength(1);
    const once = await watchFleet();
    expect(once.json.entries.find((e) => e.host === "host-b" && e.job === "*")!.notice).toBeNull();
    expect(sent("host-b", "*", "recovered")).toHaveLength(1);
    expect(sent("host-b", "*", "recovered")[0]!.details).toMatchObject({ previous: "missing" });
    expect(sent("host-b", "*", "stale")).toHaveLength(1);
    expect(sent("host-a", "weekly", "stale")).toHaveLength(1);
  }, 180_000);

  it("says which notifier in fleet.notify does not exist", async () => {
    const dir = path.join(root, "hub2");
    fs.mkdirSync(dir);
    const bad = writeTestConfig(dir, {
      fleet: { url_file: path.join(root, "hub", "viewer.url"), notify: ["nope"] },
      jobs: {},
    });
    const r = await bad.run(["watch", "--fleet"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fleet\.notify.*"nope"/);
  });
});
