// Step kinds declare their data flow, and the modules that reason about where data goes read only
// that declaration: a kind registered here — with option names no built-in kind uses — shows up in
// the redundancy matrix, the metrics, the anomaly warnings and the retention scope without a change
// anywhere outside src/steps/ and the registry.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineStepKind } from "../../src/engine/step-kind.js";
import type { StepConfig } from "../../src/config/schema.js";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { renderMetrics } from "../../src/metrics/render-metrics.js";
import { findStepAnomalies } from "../../src/notify/anomaly.js";
import { dataFlowOf, registerStepKind, unregisterStepKind } from "../../src/registry.js";
import { sourceScopes } from "../../src/steps/scope.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { StepRecord } from "../../src/store/types.js";
import { loadTestConfig, recordRun } from "../notify/fixtures.js";

// Reads a source and writes a snapshot of it into repositories, like a database dump would.
const throwawayKind = defineStepKind({
  type: "throwaway-stream",
  summary: "test only: streams a source into repositories",
  options: { input: z.string(), into: z.array(z.string()), as_host: z.string().optional() },
  dataFlow: {
    how: "dump",
    of: (o) => ({ source: o.input, repos: o.into, ...(o.as_host !== undefined ? { host: o.as_host } : {}) }),
  },
  plan: () => [],
  run: () => Promise.resolve({ status: "succeeded" }),
});

beforeAll(() => registerStepKind(throwawayKind));
afterAll(() => unregisterStepKind(throwawayKind.type));

// The config has no step of the new kind until one is added below (the schema knows the built-ins).
const base = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-data-flow-test
repositories:
  local: { url: /tmp/holdfast-data-flow-test/repo, password_file: /tmp/holdfast-data-flow-test/pass }
  # b2 is remote: a repository on the disk of the source (/tmp) would be a copy but no second medium.
  b2: { url: "rest:http://127.0.0.1:1/b2", password_file: /tmp/holdfast-data-flow-test/pass, offsite: true }
sources:
  db: { paths: [/tmp] }
jobs:
  nightly:
    max_age: 26h
    steps:
      - { name: hello, type: exec, command: [echo, hi] }
      - { name: prune, type: forget, keep: { daily: 7 }, repos: [local] }
`);
const hello = base.jobs.nightly!.steps[0]!;
const streamStep: StepConfig = {
  ...hello,
  name: "stream",
  type: throwawayKind.type,
  input: "db",
  into: ["local", "b2"],
  as_host: "dbhost",
};
const config = {
  ...base,
  jobs: { nightly: { ...base.jobs.nightly!, steps: [...base.jobs.nightly!.steps, streamStep] } },
};

const target = (repo: string, added: number) => ({
  repo,
  status: "succeeded" as const,
  duration_ms: 1_000,
  error: null,
  snapshot_id: `snap-${repo}-${added}`,
  data_added: added,
});

describe("a registered step kind's data flow", () => {
  it("is read from the kind's declaration", () => {
    expect(dataFlowOf(streamStep)).toEqual({
      how: "dump",
      source: "db",
      repos: ["local", "b2"],
      host: "dbhost",
    });
    expect(dataFlowOf(hello)).toBeNull();
  });

  it("appears in the redundancy matrix and the metrics", async () => {
    const store = createMemoryStore();
    const startedAt = "2026-11-20T03:00:00.000Z";
    await recordRun(store, "nightly", "succeeded", {
      startedAt,
      steps: [
        { name: "hello", type: "exec", status: "succeeded" },
        { name: "prune", type: "forget", status: "succeeded" },
        {
          name: "stream",
          type: throwawayKind.type,
          status: "succeeded",
          targets: [target("local", 1000), target("b2", 2000)],
        },
      ],
    });
    const now = new Date("2026-11-20T04:00:00.000Z");

    const matrix = await computeRedundancy(config, store, now);
    const db = matrix.sources.find((s) => s.source === "db")!;
    expect(db.cells.map((c) => [c.repo, c.planned, c.via, c.snapshot_id])).toEqual([
      ["local", true, "backup", "snap-local-1000"],
      ["b2", true, "backup", "snap-b2-2000"],
    ]);
    expect(db.verdict).toBe("ok");

    const text = await renderMetrics(config, store, now);
    const line = (name: string, labels: string) =>
      text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
    expect(line("holdfast_backup_data_added_bytes", 'job="nightly",step="stream",repo="b2"')).toBe(
      'holdfast_backup_data_added_bytes{job="nightly",step="stream",repo="b2"} 2000',
    );
    expect(
      line("holdfast_repository_latest_snapshot_timestamp_seconds", 'repo="local",source="db"'),
    ).toBeDefined();
  });

  it("scopes retention steps and is judged for anomalies", () => {
    const prune = config.jobs.nightly.steps[1]!;
    const scopes = sourceScopes(
      { config, job: config.jobs.nightly, host: "thishost", dataFlowOf },
      undefined,
    );
    expect(prune.type).toBe("forget");
    expect(scopes).toEqual([{ source: "db", hosts: ["dbhost"] }]);

    const record = (added: number, i: number): StepRecord => ({
      index: 2,
      name: "stream",
      type: throwawayKind.type,
      status: "succeeded",
      started_at: new Date(Date.UTC(2026, 10, i)).toISOString(),
      finished_at: new Date(Date.UTC(2026, 10, i, 0, 1)).toISOString(),
      duration_ms: 60_000,
      exit_code: 0,
      error: null,
      summary: null,
      log_path: null,
      attempts: 1,
      targets: [target("local", added)],
    });
    const history = [1, 2, 3, 4, 5, 6].map((i) => record(1_000_000, i));
    const anomalies = findStepAnomalies(record(10_000_000_000, 7), history);
    expect(anomalies).toMatchObject([
      { step: "stream", figure: "data_added", repo: "local", direction: "high" },
    ]);
  });
});

// A kind that declares the databases it dumps (as `dump` does) — with option names of its own: each
// database becomes a source of the matrix, the metrics, status and anomalies with no type check.
const multiKind = defineStepKind({
  type: "throwaway-multi",
  summary: "test only: several databases into repositories",
  options: { label: z.string(), tables: z.array(z.string()), into: z.array(z.string()) },
  dataFlow: {
    how: "dump",
    of: (o) => ({
      source: o.label,
      repos: o.into,
      databases: o.tables.map((t) => ({ name: t, what: `kv:${t}` })),
    }),
  },
  plan: () => [],
  run: () => Promise.resolve({ status: "succeeded" }),
});

describe("a registered kind that declares databases", () => {
  beforeAll(() => registerStepKind(multiKind));
  afterAll(() => unregisterStepKind(multiKind.type));

  it("gives each database a matrix row, metric series, status rows and anomalies", async () => {
    const multi: StepConfig = {
      ...hello,
      name: "kv",
      type: multiKind.type,
      label: "kvstore",
      tables: ["users", "carts"],
      into: ["local"],
    };
    const cfg = { ...base, jobs: { nightly: { ...base.jobs.nightly!, steps: [multi] } } };
    const { databaseFlows, databaseStatuses } = await import("../../src/dump/sources.js");
    expect(dataFlowOf(multi)?.databases).toEqual([
      { name: "users", what: "kv:users" },
      { name: "carts", what: "kv:carts" },
    ]);
    const store = createMemoryStore();
    const dbTarget = (database: string, size: number) => ({
      ...target("local", size),
      snapshot_id: `snap-${database}`,
      database,
      dump_size: size,
    });
    await recordRun(store, "nightly", "succeeded", {
      startedAt: "2026-11-20T03:00:00.000Z",
      steps: [{ name: "kv", type: multiKind.type, status: "succeeded", targets: [dbTarget("users", 500)] }],
    });
    const now = new Date("2026-11-20T04:00:00.000Z");
    const matrix = await computeRedundancy(cfg, store, now);
    const rows = matrix.sources.filter((s) => s.source === "kvstore");
    expect(rows.map((r) => [r.database, r.paths, r.cells[0]?.snapshot_id ?? null])).toEqual([
      ["users", ["kv:users"], "snap-users"],
      ["carts", ["kv:carts"], null],
    ]);
    const text = await renderMetrics(cfg, store, now);
    expect(text).toContain(
      'holdfast_dump_size_bytes{job="nightly",step="kv",repo="local",database="users"} 500',
    );
    const statuses = await databaseStatuses(databaseFlows(cfg, dataFlowOf), store, now);
    expect(statuses.map((s) => [s.database, s.size_bytes])).toEqual([
      ["users", 500],
      ["carts", null],
    ]);
    const rec = (i: number, targets: ReturnType<typeof dbTarget>[]): StepRecord => ({
      index: 0,
      name: "kv",
      type: multiKind.type,
      status: "succeeded",
      started_at: new Date(Date.UTC(2026, 10, i)).toISOString(),
      finished_at: new Date(Date.UTC(2026, 10, i, 0, 1)).toISOString(),
      duration_ms: 60_000,
      exit_code: 0,
      error: null,
      summary: null,
      log_path: null,
      attempts: 1,
      targets,
    });
    const history = [6, 5, 4, 3, 2].map((i) => rec(i, [dbTarget("users", 50e6), dbTarget("carts", 9e6)]));
    expect(
      findStepAnomalies(rec(7, [dbTarget("users", 50e6), dbTarget("carts", 1e6)]), history),
    ).toMatchObject([{ step: "kv", database: "carts", figure: "dump_size", direction: "low" }]);
  });
});
