// A dump step's source is a source of the redundancy matrix and the metrics even though it is not
// under `sources:` (before: a dump's snapshots were counted nowhere in the matrix), and each database
// of a dump step has its own freshness series (before: one target per repository stood for all).
import { describe, expect, it } from "vitest";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { renderMetrics } from "../../src/metrics/render-metrics.js";
import { databaseStatuses, dumpSources } from "../../src/dump/sources.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { loadTestConfig, recordRun } from "../notify/fixtures.js";

const config = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-dump-sources-test
repositories:
  local: { url: /tmp/holdfast-dump-sources-test/repo, password_file: /tmp/holdfast-dump-sources-test/pass }
  offsite: { url: /tmp/holdfast-dump-sources-test/repo2, password_file: /tmp/holdfast-dump-sources-test/pass, offsite: true }
sources:
  home: { paths: [/home] }
jobs:
  dbs:
    max_age: 26h
    steps:
      - { name: pg, type: dump, engine: postgresql, databases: [shop, crm], repos: [local, offsite] }
      - { name: lite, type: dump, engine: sqlite, path: /srv/app/app.db, repos: [local] }
      - { name: drill, type: verify, source: pg, database: shop, repos: [local] }
`);

const target = (repo: string, database: string, size: number) => ({
  repo,
  status: "succeeded" as const,
  duration_ms: 2_000,
  error: null,
  snapshot_id: `${repo}-${database}-${size}`.padEnd(64, "0"),
  database,
  dump_size: size,
});

describe("dump steps as sources", () => {
  it("lists each dump step's source with its databases, next to sources:", () => {
    expect(dumpSources(config)).toEqual([
      {
        name: "pg",
        paths: ["postgresql:globals", "postgresql:shop", "postgresql:crm"],
        databases: ["globals", "shop", "crm"],
      },
      { name: "lite", paths: ["sqlite:/srv/app/app.db"], databases: ["app"] },
    ]);
  });

  it("appear in the redundancy matrix (copies, newest dump, last drill) and per database in the metrics", async () => {
    const store = createMemoryStore();
    const startedAt = "2026-11-20T02:30:00.000Z";
    await recordRun(store, "dbs", "succeeded", {
      startedAt,
      steps: [
        {
          name: "pg",
          type: "dump",
          status: "succeeded",
          targets: [
            target("local", "shop", 5000),
            target("offsite", "shop", 5000),
            target("local", "crm", 700),
            target("offsite", "crm", 700),
          ],
        },
        { name: "lite", type: "dump", status: "succeeded", targets: [target("local", "app", 90)] },
        { name: "drill", type: "verify", status: "succeeded" },
      ],
    });
    await store.setState("drill:local:pg", "2026-11-20T02:35:00.000Z");
    const now = new Date("2026-11-20T04:00:00.000Z");

    const matrix = await computeRedundancy(config, store, now);
    expect(matrix.sources.map((s) => s.source)).toEqual(["home", "pg", "lite"]);
    const pg = matrix.sources.find((s) => s.source === "pg")!;
    expect(pg.paths).toEqual(["postgresql:globals", "postgresql:shop", "postgresql:crm"]);
    expect(pg.cells.map((c) => [c.repo, c.planned, c.via, c.stale])).toEqual([
      ["local", true, "backup", false],
      ["offsite", true, "backup", false],
    ]);
    expect(pg.cells[0]?.last_verified_at).toBe("2026-11-20T02:35:00.000Z");
    expect(pg.copies).toBe(3);
    expect(pg.verdict).toBe("ok");
    const lite = matrix.sources.find((s) => s.source === "lite")!;
    expect(lite.verdict).toBe("at_risk");
    expect(lite.problems.join(" ")).toMatch(/no offsite copy/);

    const text = await renderMetrics(config, store, now);
    const value = (name: string, labels: string) =>
      text
        .split("\n")
        .find((l) => l.startsWith(`${name}{${labels}} `))
        ?.split(" ")[1];
    const at = Date.parse(startedAt) / 1000 + 2;
    for (const repo of ["local", "offsite"])
      for (const [db, size] of [
        ["shop", "5000"],
        ["crm", "700"],
      ] as const) {
        const labels = `job="dbs",step="pg",repo="${repo}",database="${db}"`;
        expect(Number(value("holdfast_dump_last_success_timestamp_seconds", labels))).toBe(at);
        expect(value("holdfast_dump_size_bytes", labels)).toBe(size);
      }
    expect(value("holdfast_repository_last_drill_timestamp_seconds", 'repo="local",source="pg"')).toBe(
      String(Date.parse("2026-11-20T02:35:00.000Z") / 1000),
    );
    expect(
      value("holdfast_repository_latest_snapshot_timestamp_seconds", 'repo="offsite",source="pg"'),
    ).toBeDefined();

    // status: every database × repository, with its newest dump and the last drill; none yet is said.
    const rows = await databaseStatuses(config, store, now);
    expect(rows.map((r) => [r.source, r.database, r.repo, r.size_bytes, r.last_drill_at !== null])).toEqual([
      ["pg", "globals", "local", null, true],
      ["pg", "globals", "offsite", null, false],
      ["pg", "shop", "local", 5000, true],
      ["pg", "shop", "offsite", 5000, false],
      ["pg", "crm", "local", 700, true],
      ["pg", "crm", "offsite", 700, false],
      ["lite", "app", "local", 90, false],
    ]);
    const shop = rows.find((r) => r.database === "shop" && r.repo === "local")!;
    expect(shop.last_dump_at).toBe("2026-11-20T02:30:02.000Z");
    expect(shop.age_ms).toBe(now.getTime() - Date.parse("2026-11-20T02:30:02.000Z"));
    expect(rows.find((r) => r.database === "globals")!.last_dump_at).toBeNull();
  });
});
