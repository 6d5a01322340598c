// Each database of a dump step is a source (issue 16 item 5): a row of its own in the redundancy
// matrix (copies, age of its newest dump, its last drill), its own series in the metrics, its own
// rows in `status`, and its own anomalies (a dump that shrank, a database no longer dumped). Before:
// one matrix row per dump step's source stood for all its databases (a database never dumped looked
// held when another was), a drill of one database counted for all, and the anomaly check read the
// first target of each repository, whichever database it was.
import { describe, expect, it } from "vitest";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { renderMetrics } from "../../src/metrics/render-metrics.js";
import { collectRunAnomalies, findStepAnomalies } from "../../src/notify/anomaly.js";
import { createNotifyMessage } from "../../src/notify/message.js";
import { createRedactor } from "../../src/util/redact.js";
import { databaseFlows, databaseStatuses, listDatabases } from "../../src/dump/sources.js";
import { dataFlowOf } from "../../src/registry.js";
import { drillStateKey } from "../../src/store/state-keys.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { StepRecord, TargetRecord } from "../../src/store/types.js";
import { loadTestConfig, recordRun } from "../notify/fixtures.js";

const config = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-dump-sources-test
repositories:
  local: { url: /tmp/holdfast-dump-sources-test/repo, password_file: /tmp/holdfast-dump-sources-test/pass }
  offsite: { url: "rest:http://127.0.0.1:1/offsite", password_file: /tmp/holdfast-dump-sources-test/pass, offsite: true }
  third: { url: "rest:http://127.0.0.1:2/third", password_file: /tmp/holdfast-dump-sources-test/pass }
sources:
  home: { paths: [/home] }
jobs:
  dbs:
    max_age: 26h
    steps:
      - { name: pg, type: dump, engine: postgresql, databases: [shop, crm], repos: [local, offsite] }
      - { name: lite, type: dump, engine: sqlite, path: /tmp/holdfast-dump-sources-test/app.db, repos: [local] }
      - { name: drill, type: verify, source: pg, database: shop, repos: [local] }
      - { name: carry, type: copy, from: offsite, to: [third] }
`);

const target = (repo: string, database: string, size: number, at = 2_000): TargetRecord => ({
  repo,
  status: "succeeded",
  duration_ms: at,
  error: null,
  snapshot_id: `${repo}-${database}-${size}`.padEnd(64, "0"),
  database,
  dump_size: size,
  data_added: size,
});

describe("dump steps' databases as sources", () => {
  it("are read from the steps' declared data flow, one per database", () => {
    const flows = databaseFlows(config, dataFlowOf);
    expect(flows.map((f) => [f.step, f.source, f.repos, f.databases.map((d) => d.name)])).toEqual([
      ["pg", "pg", ["local", "offsite"], ["globals", "shop", "crm"]],
      ["lite", "lite", ["local"], ["app"]],
    ]);
    expect(listDatabases(flows)).toEqual([
      { source: "pg", database: "globals", what: "postgresql:globals" },
      { source: "pg", database: "shop", what: "postgresql:shop" },
      { source: "pg", database: "crm", what: "postgresql:crm" },
      {
        source: "lite",
        database: "app",
        what: "sqlite:/tmp/holdfast-dump-sources-test/app.db",
        file: "/tmp/holdfast-dump-sources-test/app.db",
      },
    ]);
  });

  it("each database is a row of the matrix, a series of the metrics and rows of status", async () => {
    const store = createMemoryStore();
    const startedAt = "2026-11-20T02:30:00.000Z";
    await recordRun(store, "dbs", "succeeded", {
      startedAt,
      steps: [
        {
          name: "pg",
          type: "dump",
          status: "succeeded",
          // crm only into local; globals nowhere: their rows must say so, not borrow shop's.
          targets: [
            target("local", "shop", 5000),
            target("offsite", "shop", 5000),
            target("local", "crm", 700),
          ],
        },
        { name: "lite", type: "dump", status: "succeeded", targets: [target("local", "app", 90)] },
        { name: "drill", type: "verify", status: "succeeded" },
        {
          name: "carry",
          type: "copy",
          status: "succeeded",
          targets: [{ repo: "third", status: "succeeded", duration_ms: 1_000, error: null }],
        },
      ],
    });
    // The drill of shop from local passed (the engine writes both keys); none of crm.
    await store.setState(drillStateKey("local", "pg"), "2026-11-20T02:35:00.000Z");
    await store.setState(drillStateKey("local", "pg", "shop"), "2026-11-20T02:35:00.000Z");
    const now = new Date("2026-11-20T04:00:00.000Z");

    const matrix = await computeRedundancy(config, store, now);
    expect(matrix.sources.map((s) => [s.source, s.database])).toEqual([
      ["home", null],
      ["pg", "globals"],
      ["pg", "shop"],
      ["pg", "crm"],
      ["lite", "app"],
    ]);
    const row = (db: string) => matrix.sources.find((s) => s.database === db)!;
    const shop = row("shop");
    expect(shop.paths).toEqual(["postgresql:shop"]);
    // local and offsite by the dump, third by the copy of everything in offsite.
    expect(shop.cells.map((c) => [c.repo, c.planned, c.via, c.latest_snapshot_at])).toEqual([
      ["local", true, "backup", "2026-11-20T02:30:02.000Z"],
      ["offsite", true, "backup", "2026-11-20T02:30:02.000Z"],
      ["third", true, "copy", "2026-11-20T02:30:02.000Z"],
    ]);
    expect(shop.cells[0]?.snapshot_id).toBe(target("local", "shop", 5000).snapshot_id);
    expect(shop.cells.map((c) => c.last_verified_at)).toEqual(["2026-11-20T02:35:00.000Z", null, null]);
    expect(shop.copies).toBe(4);
    expect(shop.verdict).toBe("ok");

    const crm = row("crm");
    expect(crm.cells.map((c) => [c.repo, c.latest_snapshot_at !== null])).toEqual([
      ["local", true],
      ["offsite", false],
      ["third", false],
    ]);
    expect(crm.cells[0]?.snapshot_id).toBe(target("local", "crm", 700).snapshot_id);
    expect(crm.cells[0]?.last_verified_at).toBeNull(); // shop's drill is not crm's
    expect(crm.copies).toBe(2);
    expect(crm.verdict).toBe("at_risk");
    expect(crm.problems.join(" ")).toMatch(/no snapshot in offsite yet/);

    const globals = row("globals");
    expect(globals.copies).toBe(1);
    expect(globals.cells.every((c) => c.latest_snapshot_at === null)).toBe(true);

    // The SQLite file is on /tmp's filesystem, like the local repository: one medium.
    const app = row("app");
    expect(app.cells[0]?.same_medium_as_source).toBe(true);
    expect(app.media).toBe(1);

    const text = await renderMetrics(config, store, now);
    const value = (name: string, labels: string) =>
      text
        .split("\n")
        .find((l) => l.startsWith(`${name}{${labels}} `))
        ?.split(" ")[1];
    const at = Date.parse(startedAt) / 1000 + 2;
    const labels = (repo: string, db: string) => `job="dbs",step="pg",repo="${repo}",database="${db}"`;
    expect(Number(value("holdfast_dump_last_success_timestamp_seconds", labels("local", "shop")))).toBe(at);
    expect(value("holdfast_dump_size_bytes", labels("offsite", "shop"))).toBe("5000");
    expect(value("holdfast_dump_size_bytes", labels("local", "crm"))).toBe("700");
    expect(value("holdfast_dump_last_success_timestamp_seconds", labels("offsite", "crm"))).toBeUndefined();
    expect(value("holdfast_dump_last_drill_timestamp_seconds", labels("local", "shop"))).toBe(
      String(Date.parse("2026-11-20T02:35:00.000Z") / 1000),
    );
    expect(value("holdfast_dump_last_drill_timestamp_seconds", labels("local", "crm"))).toBeUndefined();
    expect(value("holdfast_repository_last_drill_timestamp_seconds", 'repo="local",source="pg"')).toBe(
      String(Date.parse("2026-11-20T02:35:00.000Z") / 1000),
    );

    // status: every database × repository, with its newest dump and its own last drill.
    const rows = await databaseStatuses(databaseFlows(config, dataFlowOf), store, now);
    expect(rows.map((r) => [r.source, r.database, r.repo, r.size_bytes, r.last_drill_at !== null])).toEqual([
      ["pg", "globals", "local", null, false],
      ["pg", "globals", "offsite", null, false],
      ["pg", "shop", "local", 5000, true],
      ["pg", "shop", "offsite", 5000, false],
      ["pg", "crm", "local", 700, false],
      ["pg", "crm", "offsite", null, false],
      ["lite", "app", "local", 90, false],
    ]);
    const shopLocal = rows.find((r) => r.database === "shop" && r.repo === "local")!;
    expect(shopLocal.last_dump_at).toBe("2026-11-20T02:30:02.000Z");
    expect(shopLocal.age_ms).toBe(now.getTime() - Date.parse("2026-11-20T02:30:02.000Z"));
  });

  it("a database older than the job's max_age is stale in its own row only", async () => {
    const store = createMemoryStore();
    await recordRun(store, "dbs", "succeeded", {
      startedAt: "2026-11-18T02:30:00.000Z",
      steps: [{ name: "pg", type: "dump", status: "succeeded", targets: [target("local", "crm", 700)] }],
    });
    await recordRun(store, "dbs", "succeeded", {
      startedAt: "2026-11-20T02:30:00.000Z",
      steps: [{ name: "pg", type: "dump", status: "succeeded", targets: [target("local", "shop", 5000)] }],
    });
    const matrix = await computeRedundancy(config, store, new Date("2026-11-20T04:00:00.000Z"));
    const cell = (db: string) => matrix.sources.find((s) => s.database === db)!.cells[0]!;
    expect(cell("shop").stale).toBe(false);
    expect(cell("crm").stale).toBe(true);
  });
});

describe("anomalies per database", () => {
  const MiB = 1024 * 1024;
  const record = (i: number, targets: TargetRecord[]): StepRecord => ({
    index: 0,
    name: "pg",
    type: "dump",
    status: "succeeded",
    started_at: new Date(Date.UTC(2026, 10, i, 2)).toISOString(),
    finished_at: new Date(Date.UTC(2026, 10, i, 2, 5)).toISOString(),
    duration_ms: 300_000,
    exit_code: 0,
    attempts: 1,
    error: null,
    summary: null,
    targets,
    log_path: null,
  });
  // Newest first, as stepHistory gives them: shop ~200 MiB and crm ~10 MiB every night.
  const history = [10, 9, 8, 7, 6].map((day, i) =>
    record(day, [target("local", "shop", (200 + i) * MiB), target("local", "crm", (10 + (i % 2)) * MiB)]),
  );

  it("a database whose dump shrank is an anomaly of that database, not of its neighbour", () => {
    const found = findStepAnomalies(
      record(11, [target("local", "shop", 201 * MiB), target("local", "crm", 2 * MiB)]),
      history,
    );
    expect(found).toEqual([
      expect.objectContaining({
        step: "pg",
        repo: "local",
        database: "crm",
        figure: "dump_size",
        direction: "low",
        value: 2 * MiB,
        history: 5,
      }),
    ]);
    // Before: the figure of the first target of each repository (shop) was judged for both.
    expect(
      findStepAnomalies(
        record(11, [target("local", "shop", 201 * MiB), target("local", "crm", 10 * MiB)]),
        history,
      ),
    ).toEqual([]);
  });

  it("a database the previous run dumped and this one did not is an anomaly", async () => {
    const current = record(11, [target("local", "shop", 201 * MiB)]);
    const found = findStepAnomalies(current, history);
    expect(found).toEqual([
      expect.objectContaining({ repo: "local", database: "crm", figure: "dump_missing", history: 5 }),
    ]);
    expect(found[0]?.median).toBe(10 * MiB);
    // From the store, after a real run record, and said in the warning's text.
    const store = createMemoryStore();
    for (const h of [...history].reverse())
      await recordRun(store, "dbs", "succeeded", {
        startedAt: h.started_at!,
        steps: [{ name: "pg", type: "dump", status: "succeeded", targets: h.targets }],
      });
    const run = await recordRun(store, "dbs", "succeeded", {
      startedAt: current.started_at!,
      steps: [{ name: "pg", type: "dump", status: "succeeded", targets: current.targets }],
    });
    const anomalies = await collectRunAnomalies(store, run);
    expect(anomalies.map((a) => [a.database, a.figure])).toEqual([["crm", "dump_missing"]]);
    const message = createNotifyMessage(
      { event: "warning", job: "dbs", host: "h", run, details: { anomalies }, at: new Date() },
      createRedactor(),
    );
    expect(message.text).toContain("pg → local (database crm): not dumped by this run");
  });

  it("a database missing from a failed run is not an anomaly (the failure is what is said)", () => {
    const failed = { ...record(11, [target("local", "shop", 201 * MiB)]), status: "failed" as const };
    expect(findStepAnomalies(failed, history)).toEqual([]);
  });
});
