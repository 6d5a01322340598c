// R14 (issue 18, the outage check): three hosts — separate state dirs, host ids and SQLite histories —
// run real restic backups while the hub's PostgreSQL 15 is shut down (a real fast shutdown, the
// port refusing) for a while, then started again on the same cluster.
//  - During the outage every backup succeeds (exit 0, its snapshot in the repository), each within a
//    bound (the sync after the run costs at most fleet.sync_timeout), and status shows the lag.
//  - After the restart, each host's next run replays everything queued: every record is at the hub
//    exactly once, in the host's order, equal to the host's history; the heartbeat says in sync.
//  - A `fleet sync` SIGKILLed mid-replay (many queued runs, small batches) resumes without
//    duplicates or gaps.
// HOLDFAST_R14_OUTAGE_S sets how long the hub stays down (default 20 s; issue 18 says a minute).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit } from "../helpers/holdfast-env.js";
import {
  hubHistory as hubHistoryAt,
  hubRunIds,
  localHistory,
  makeFleetHosts,
  recordRuns,
  startFleetDatabase,
  type FleetTestHost,
} from "../helpers/fleet.js";
import type { PostgresServer } from "../helpers/postgres.js";
import { sleep } from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
  writeSampleTree,
} from "../helpers/restic-backends.js";

const OUTAGE_MS = Number(process.env.HOLDFAST_R14_OUTAGE_S ?? 20) * 1000;
const SYNC_TIMEOUT_MS = 3_000;
const RUNS_DURING_OUTAGE = 3;

let server: PostgresServer;
let root: string;
let url: string;

type Host = FleetTestHost & { repo: { repo: string; passwordFile: string } };
const hosts: Host[] = [];

const hubHistory = (h: Host) => hubHistoryAt(url, h);
const hubIds = (h: Host) => hubRunIds(server, h.id);

beforeAll(async () => {
  ({ server, url } = await startFleetDatabase("fleet_owner", "owner-pw-r14"));
  root = makeSharedDir("holdfast-r14-");
  const src = path.join(root, "src");
  writeSampleTree(src);
  const repos: Host["repo"][] = [];
  const made = await makeFleetHosts(root, url, 3, (i, _name, dir) => {
    const repo = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "repo.pw"), `pw-${i}`),
    };
    resticInit(repo);
    repos.push(repo);
    return {
      fleet: { sync_timeout: `${SYNC_TIMEOUT_MS}ms` },
      repositories: { main: { url: repo.repo, password_file: repo.passwordFile } },
      sources: { s: { paths: [src] } },
      jobs: { nightly: { steps: [{ name: "backup", type: "backup", source: "s", repos: ["main"] }] } },
    };
  });
  hosts.push(...made.map((h, i) => ({ ...h, repo: repos[i]! })));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (root) removeDir(root);
});

describe("R14: the fleet's hub down for a while", () => {
  test("backups never wait for the hub; afterwards every record arrives exactly once, in order", async () => {
    await Promise.all(hosts.map(async (h) => expectExit(await h.cfg.run(["run", "nightly", "-q"]), 0)));
    for (const h of hosts) expect(await hubIds(h)).toHaveLength(1);

    await server.halt();
    const downSince = Date.now();
    // Three hosts back up side by side, several times, while the hub is down.
    await Promise.all(
      hosts.map(async (h) => {
        for (let k = 0; k < RUNS_DURING_OUTAGE; k++) {
          const r = await h.cfg.run(["run", "nightly", "-q"]);
          expectExit(r, 0);
          expect(r.stderr).toMatch(/fleet: not replicated now .*unreachable/);
          expect(r.stderr).not.toContain("owner-pw-r14");
          // The sync's share of the run is bounded by its timeout (plus a process start or two).
          expect(r.durationMs).toBeLessThan(SYNC_TIMEOUT_MS + 20_000);
        }
      }),
    );
    for (const h of hosts) {
      const st = parseJson<{ fleet: { pending: number; last_error: string } }>(
        await h.cfg.run(["status", "--json"]),
      );
      expect(st.fleet.pending).toBeGreaterThan(0);
      expect(st.fleet.last_error).toMatch(/unreachable/);
      expect(resticSnapshots(h.repo)).toHaveLength(1 + RUNS_DURING_OUTAGE);
    }
    const left = OUTAGE_MS - (Date.now() - downSince);
    if (left > 0) await sleep(left);
    await server.restart();

    // Each host's next run replays what is queued, within its sync.
    await Promise.all(
      hosts.map(async (h) => {
        const r = await h.cfg.run(["run", "nightly", "-q"]);
        expectExit(r, 0);
        expect(r.stderr).not.toMatch(/not replicated/);
      }),
    );
    for (const h of hosts) {
      const local = await localHistory(h);
      expect(local).toHaveLength(2 + RUNS_DURING_OUTAGE);
      expect(local.every((run) => run.status === "succeeded")).toBe(true);
      expect(await hubIds(h)).toEqual(local.map((run) => run.id));
      expect(await hubHistory(h)).toEqual(local);
      expect(
        await server.sql(`SELECT pending FROM holdfast.heartbeats WHERE host_id = '${h.id}'`, "fleet"),
      ).toBe("0");
      const st = parseJson<{ fleet: { pending: number; last_error: string | null } }>(
        await h.cfg.run(["status", "--json"]),
      );
      expect(st.fleet).toMatchObject({ pending: 0, last_error: null });
    }
    const dupes = await server.sql(
      "SELECT count(*) FROM (SELECT host_id, run_id FROM holdfast.runs GROUP BY 1, 2 HAVING count(*) > 1) d",
      "fleet",
    );
    expect(dupes).toBe("0");
  }, 600_000);

  test("a sync SIGKILLed mid-replay after the restart resumes without duplicates", async () => {
    const h = hosts[0]!;
    await server.halt();
    // 400 more runs queued while the hub is down (through the host's own SQLite store, as a run does).
    await recordRuns(h, {
      prefix: "queued",
      count: 400,
      step: { name: "backup", type: "backup" },
      from: Date.UTC(2026, 11, 2),
    });
    await server.restart();
    const before = (await hubIds(h)).length;
    const child = startCli(["--config", h.cfg.file, "fleet", "sync", "--batch-size", "3"], {
      cwd: h.cfg.dir,
      env: { XDG_STATE_HOME: path.join(h.cfg.dir, "xdg-state") },
    });
    const done = collect(child);
    let killedAt = 0;
    for (let i = 0; i < 6000 && killedAt === 0; i++) {
      const n = (await hubIds(h)).length - before;
      if (n >= 30) {
        child.kill("SIGKILL");
        killedAt = n;
      } else await sleep(10);
    }
    expect((await done).signal).toBe("SIGKILL");
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(400);
    const resumed = parseJson<{ ok: boolean; pending: number }>(await h.cfg.run(["fleet", "sync", "--json"]));
    expect(resumed).toMatchObject({ ok: true, pending: 0 });
    const local = await localHistory(h);
    expect(local).toHaveLength(2 + RUNS_DURING_OUTAGE + 400);
    expect(await hubIds(h)).toEqual(local.map((run) => run.id));
    expect(await hubHistory(h)).toEqual(local);
    expect(await server.sql(`SELECT count(*) FROM holdfast.steps WHERE host_id = '${h.id}'`, "fleet")).toBe(
      String(local.length),
    );
  }, 600_000);
});
