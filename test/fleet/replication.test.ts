// Hosts replicate, never depend (issue 18 item 2), with real parts: three hosts (separate state dirs,
// so separate host ids and SQLite histories) run jobs with the built CLI against a private
// PostgreSQL 15. While the hub hangs (SIGSTOP: connections open but nothing answers) and while it
// refuses (the role cannot log in), every backup succeeds and its record waits in the host's outbox;
// afterwards `holdfast fleet sync` delivers every record exactly once, in each host's order, and the
// hub's copy equals the host's history record for record. A sync killed with SIGKILL mid-replay
// resumes without duplicates.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startCli, collect, parseJson } from "../helpers/cli.js";
import {
  hubHistory as hubHistoryAt,
  hubRunIds,
  localHistory,
  makeFleetHosts,
  recordRuns,
  startFleetDatabase,
  type FleetTestHost,
} from "../helpers/fleet.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import type { PostgresServer } from "../helpers/postgres.js";

let pg: PostgresServer;
let root: string;
let url: string;
const ROLE_PASSWORD = "fleet-writer-Secret-9";

type Host = FleetTestHost;
const hosts: Host[] = [];

function groupSignal(signal: NodeJS.Signals): void {
  process.kill(-pg.pid, signal);
}

const hubRows = (hostId: string) => hubRunIds(pg, hostId);
const hubHistory = (host: Host) => hubHistoryAt(url, host);

/** Each job's summary (last run, last success, each step's latest record) at the hub and on the host. */
async function summaries(host: Host): Promise<{ hub: unknown; local: unknown }> {
  const hub = createPostgresStore({ url, hostId: host.id, migrate: false });
  const local = createSqliteStore({ path: path.join(host.cfg.stateDir, "history.db"), readonly: true });
  try {
    return { hub: await hub.jobSummaries(["nightly"]), local: await local.jobSummaries(["nightly"]) };
  } finally {
    await hub.close();
    await local.close();
  }
}

beforeAll(async () => {
  ({ server: pg, url } = await startFleetDatabase("fleet_writer", ROLE_PASSWORD));
  root = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-fleet-"));
  hosts.push(
    ...(await makeFleetHosts(root, url, 3, (_i, name) => ({
      fleet: { host_name: name, sync_timeout: "4s" },
      jobs: { nightly: { steps: [{ name: "say", type: "exec", command: ["echo", `backup of ${name}`] }] } },
    }))),
  );
}, 120_000);

afterAll(async () => {
  try {
    groupSignal("SIGCONT");
  } catch {
    /* not stopped */
  }
  await pg?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("fleet replication", () => {
  it("gives each host its own id, kept 0600 in its state dir", () => {
    expect(new Set(hosts.map((h) => h.id)).size).toBe(3);
    for (const h of hosts) {
      const st = fs.statSync(path.join(h.cfg.stateDir, "fleet-host-id"));
      expect(st.mode & 0o777).toBe(0o600);
    }
  });

  it("sends each run to the hub right after it is recorded", async () => {
    for (const h of hosts) expectExit(await h.cfg.run(["run", "nightly", "-q"]), 0);
    for (const h of hosts) expect(await hubRows(h.id)).toHaveLength(1);
    expect(
      await pg.sql("SELECT string_agg(display_name, ',' ORDER BY display_name) FROM holdfast.hosts", "fleet"),
    ).toBe("host-0,host-1,host-2");
  }, 180_000);

  it("never fails or stalls a backup while the hub hangs or refuses; all records arrive afterwards, once, in order", async () => {
    // The hub hangs: its processes are stopped, the kernel still accepts connections.
    groupSignal("SIGSTOP");
    try {
      for (const h of hosts) {
        const r = await h.cfg.run(["run", "nightly", "-q"]);
        expectExit(r, 0);
        expect(r.stderr).toMatch(/fleet: not replicated now .*(did not answer|unreachable|timeout)/i);
        expect(r.stderr).not.toContain(ROLE_PASSWORD);
      }
    } finally {
      groupSignal("SIGCONT");
    }
    // The hub refuses: the role cannot log in.
    await pg.sql("ALTER ROLE fleet_writer NOLOGIN");
    try {
      for (const h of hosts) {
        for (let k = 0; k < 2; k++) {
          const r = await h.cfg.run(["run", "nightly", "-q"]);
          expectExit(r, 0);
          expect(r.stderr).toMatch(/fleet: not replicated now/);
          expect(r.stderr).not.toContain(ROLE_PASSWORD);
        }
        const status = parseJson<{ ok: boolean; pending: number }>(
          await h.cfg.run(["fleet", "sync", "--json"]),
        );
        expect(status.ok).toBe(false);
        expect(status.pending).toBeGreaterThan(0);
      }
      for (const h of hosts) expect(await hubRows(h.id)).toHaveLength(1);
      // The lag is visible in status and in the metrics.
      const st = parseJson<{ fleet: { pending: number; lag_seconds: number; last_error: string } }>(
        await hosts[0]!.cfg.run(["status", "--json"]),
      );
      expect(st.fleet.pending).toBeGreaterThan(0);
      expect(st.fleet.last_error).toMatch(/refused the credentials/);
      expect(st.fleet.last_error).not.toContain(ROLE_PASSWORD);
      const metrics = await hosts[0]!.cfg.run(["metrics"]);
      const pending = /^holdfast_fleet_replication_pending (\d+)$/m.exec(metrics.stdout);
      expect(Number(pending?.[1])).toBe(st.fleet.pending);
      expect(metrics.stdout).toMatch(/^holdfast_fleet_replication_lag_seconds \d+$/m);
    } finally {
      await pg.sql("ALTER ROLE fleet_writer LOGIN");
    }

    for (const h of hosts) {
      const r = parseJson<{ ok: boolean; pending: number; sent: number }>(
        await h.cfg.run(["fleet", "sync", "--json"]),
      );
      expect(r).toMatchObject({ ok: true, pending: 0 });
    }
    for (const h of hosts) {
      const local = await localHistory(h);
      expect(local).toHaveLength(4);
      expect(local.every((run) => run.status === "succeeded")).toBe(true);
      // Exactly once and in the host's order, and the same records.
      expect(await hubRows(h.id)).toEqual(local.map((run) => run.id));
      expect(await hubHistory(h)).toEqual(local);
      const { hub, local: mine } = await summaries(h);
      expect(hub).toEqual(mine);
    }
    const after = parseJson<{ fleet: { pending: number; lag_seconds: number; last_error: string | null } }>(
      await hosts[0]!.cfg.run(["status", "--json"]),
    );
    expect(after.fleet).toMatchObject({ pending: 0, lag_seconds: 0, last_error: null });
    // A second sync sends nothing: the outbox is empty.
    const again = parseJson<{ sent: number }>(await hosts[0]!.cfg.run(["fleet", "sync", "--json"]));
    expect(again.sent).toBe(0);
  }, 600_000);

  it("resumes a sync killed with SIGKILL mid-replay without duplicating anything", async () => {
    const h = hosts[1]!;
    // 300 runs queued while the hub refuses (written through the host's own SQLite store).
    await pg.sql("ALTER ROLE fleet_writer NOLOGIN");
    await recordRuns(h, {
      prefix: "bulk",
      count: 300,
      step: { name: "say", type: "exec" },
      from: Date.UTC(2026, 11, 1),
    });
    await pg.sql("ALTER ROLE fleet_writer LOGIN");
    const before = (await hubRows(h.id)).length;

    const child = startCli(["--config", h.cfg.file, "fleet", "sync", "--batch-size", "2"], {
      cwd: h.cfg.dir,
      env: { XDG_STATE_HOME: path.join(h.cfg.dir, "xdg-state") },
    });
    const done = collect(child);
    let killedAt = 0;
    for (let i = 0; i < 3000 && killedAt === 0; i++) {
      const n = (await hubRows(h.id)).length - before;
      if (n >= 20) {
        child.kill("SIGKILL");
        killedAt = n;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL");
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(300);

    const resumed = parseJson<{ ok: boolean; pending: number }>(await h.cfg.run(["fleet", "sync", "--json"]));
    expect(resumed).toMatchObject({ ok: true, pending: 0 });
    const local = await localHistory(h);
    expect(local).toHaveLength(304);
    expect(await hubRows(h.id)).toEqual(local.map((run) => run.id));
    expect(await hubHistory(h)).toEqual(local);
    expect(await pg.sql(`SELECT count(*) FROM holdfast.steps WHERE host_id = '${h.id}'`, "fleet")).toBe(
      "304",
    );
    // What status and the grid read (each step's latest record) is the host's own.
    const { hub, local: mine } = await summaries(h);
    expect(hub).toEqual(mine);
  }, 600_000);

  it("flags a cloned state dir (two hosts, one id) and does not merge its records", async () => {
    const src = hosts[2]!;
    const dir = path.join(root, "clone");
    fs.mkdirSync(dir);
    fs.cpSync(src.cfg.stateDir, path.join(dir, "state"), { recursive: true });
    const urlFile = path.join(dir, "fleet.url");
    fs.writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
    const clone = writeTestConfig(dir, {
      host: "clone",
      fleet: { url_file: urlFile, host_name: "clone" },
      jobs: { nightly: { steps: [{ name: "say", type: "exec", command: ["echo", "clone"] }] } },
    });
    expectExit(await src.cfg.run(["run", "nightly", "-q"]), 0);
    const r = await clone.run(["run", "nightly", "-q"]);
    expectExit(r, 0);
    expect(r.stderr).toMatch(/two hosts share this id|another machine/);
    const sync = await clone.run(["fleet", "sync"]);
    expect(sync.code).toBe(1);
    expect(sync.stderr).toMatch(/fleet reset-id/);
    const hub = await hubRows(src.id);
    expect(hub).toEqual((await localHistory(src)).map((run) => run.id));
    expect(
      await pg.sql(`SELECT conflict_at IS NOT NULL FROM holdfast.hosts WHERE host_id = '${src.id}'`, "fleet"),
    ).toBe("t");
  }, 300_000);

  it("refuses a url_file others can read, with file:line:col, before anything runs", async () => {
    const h = hosts[0]!;
    const urlFile = path.join(h.cfg.dir, "fleet.url");
    fs.chmodSync(urlFile, 0o644);
    try {
      const r = await h.cfg.run(["fleet", "sync"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `${h.cfg.file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+ .*fleet\\.url_file.*readable by others.*chmod 600`,
        ),
      );
      expect(r.stderr).not.toContain(ROLE_PASSWORD);
    } finally {
      fs.chmodSync(urlFile, 0o600);
    }
  }, 120_000);
});
