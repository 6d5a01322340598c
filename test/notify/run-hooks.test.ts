import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createMonitoringHooks } from "../../src/notify/run-hooks.js";
import { checkFreshness } from "../../src/notify/freshness.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { createRedactor } from "../../src/util/redact.js";
import type { RunStore } from "../../src/store/types.js";
import { makeTempDir } from "../helpers/tmp.js";
import { createFakeKinds, loadTestConfig, recordRun } from "./fixtures.js";

const MIN = 60_000;

function setup(extra = "") {
  const dir = makeTempDir();
  const config = loadTestConfig(
    `
version: 1
state_dir: ${dir}/state
jobs:
  j:
    max_age: 1h
    notify: [all]
    steps: [{ name: local, type: exec, command: [echo, hi] }]
notifications:
  all: { type: webhook, url: "http://127.0.0.1:9/", events: [start, success, warning, failure, stale, recovered] }
${extra}`,
    dir,
  );
  const store = createMemoryStore();
  const fake = createFakeKinds(() => Promise.resolve());
  const lines: string[] = [];
  const hooks = createMonitoringHooks({
    config,
    store,
    redactor: createRedactor(),
    findKind: fake.findKind,
    log: (l) => lines.push(l),
    retryDelayMs: 0,
  });
  const events = () => fake.sends.map((s) => s.message.event);
  return { dir, config, store, fake, hooks, lines, events };
}

describe("the run hooks", () => {
  it("send start, then success / warning / failure by the run's status", async () => {
    const { config, store, hooks, events } = setup();
    for (const status of ["succeeded", "warning", "failed", "cancelled"] as const) {
      const run = await recordRun(store, "j", status);
      await hooks.runStarted?.(run, config);
      await hooks.runFinished?.(run, config);
    }
    expect(events()).toEqual([
      "start",
      "success",
      "start",
      "warning",
      "start",
      "failure",
      "start",
      "failure",
    ]);
  });

  it("send `recovered` once, on the first success after a failure", async () => {
    const { config, store, hooks, events, fake } = setup();
    const finish = async (status: "succeeded" | "failed" | "warning") =>
      hooks.runFinished?.(await recordRun(store, "j", status), config);
    await finish("succeeded");
    await finish("failed");
    await finish("failed");
    await finish("succeeded");
    await finish("succeeded");
    expect(events()).toEqual(["success", "failure", "failure", "success", "recovered", "success"]);
    expect(fake.sends[4]?.message.details).toMatchObject({ previous: "failure" });
    expect(fake.sends[4]?.message.title).toMatch(/j recovered on .* after failing/);
  });

  it("count a warning run as a success for recovery (a snapshot exists), as freshness does", async () => {
    const { config, store, hooks, events } = setup();
    await hooks.runFinished?.(await recordRun(store, "j", "failed"), config);
    await hooks.runFinished?.(await recordRun(store, "j", "warning"), config);
    expect(events()).toEqual(["failure", "warning", "recovered"]);
  });

  it("send `recovered` after a stale episode, and close the episode", async () => {
    const { config, store, hooks, events, fake } = setup();
    const old = await recordRun(store, "j", "succeeded", { startedAt: "2026-11-01T00:00:00.000Z" });
    const deps = { config, store, redactor: createRedactor(), findKind: fake.findKind, log: () => undefined };
    const later = new Date("2026-11-01T05:00:00.000Z");
    expect((await checkFreshness(deps, later))[0]).toMatchObject({ stale: true, notice: "sent" });
    expect((await checkFreshness(deps, new Date(later.getTime() + MIN)))[0]).toMatchObject({
      stale: true,
      notice: "already_sent",
    });
    expect(old.status).toBe("succeeded");
    await hooks.runFinished?.(
      await recordRun(store, "j", "succeeded", { startedAt: "2026-11-01T05:10:00.000Z" }),
      config,
    );
    expect(events()).toEqual(["stale", "success", "recovered"]);
    expect(fake.sends[2]?.message.details).toMatchObject({
      previous: "stale",
      stale_since: later.toISOString(),
    });
    expect(await store.getState("notify:stale:j")).toBeNull();
  });

  it("raise a `warning` with the figures when a backup step is far outside its history; the run stays succeeded", async () => {
    const { config, store, hooks, fake } = setup();
    const backup = (minutes: number) => [
      { name: "local", type: "backup", status: "succeeded" as const, duration_ms: minutes * MIN },
    ];
    for (const m of [10, 11, 10, 9, 10, 10.5]) await recordRun(store, "j", "succeeded", { steps: backup(m) });
    const slow = await recordRun(store, "j", "succeeded", { steps: backup(240) });
    await hooks.runFinished?.(slow, config);
    expect(fake.sends.map((s) => s.message.event)).toEqual(["success", "warning"]);
    const warning = fake.sends[1]!.message;
    expect(warning.run?.status).toBe("succeeded");
    expect(warning.details.anomalies).toMatchObject([
      { step: "local", figure: "duration_ms", value: 240 * MIN, median: 10 * MIN, direction: "high" },
    ]);
    expect(warning.text).toMatch(/local: duration 4h is far above its median 10m/);
    expect((await store.getRun(slow.id))?.status).toBe("succeeded");
  });

  it("write the metrics textfile after every run, 0644, atomically", async () => {
    const dir = makeTempDir();
    const { config, store, hooks } = setup(`metrics: { textfile: ${dir}/node/holdfast.prom }`);
    await hooks.runFinished?.(await recordRun(store, "j", "succeeded"), config);
    const file = path.join(dir, "node/holdfast.prom");
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(file, "utf8")).toMatch(
      /^holdfast_job_last_run_status\{job="j",status="succeeded"\} 1$/m,
    );
    expect(fs.readdirSync(path.dirname(file))).toEqual(["holdfast.prom"]);
  });

  it("never throw, whatever fails inside them", async () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, "not-a-dir"), "");
    const { config, store, fake } = setup(`metrics: { textfile: ${dir}/not-a-dir/holdfast.prom }`);
    const broken: RunStore = {
      ...store,
      getRun: () => Promise.reject(new Error("db gone")),
      getState: () => Promise.reject(new Error("db gone")),
      stepHistory: () => Promise.reject(new Error("db gone")),
    };
    const lines: string[] = [];
    const hooks = createMonitoringHooks({
      config,
      store: broken,
      redactor: createRedactor(),
      findKind: fake.findKind,
      log: (l) => lines.push(l),
    });
    const run = await recordRun(store, "j", "failed");
    await expect(hooks.runStarted?.(run, config)).resolves.toBeUndefined();
    await expect(hooks.runFinished?.(run, config)).resolves.toBeUndefined();
    expect(lines.join("\n")).toMatch(/writing the metrics textfile failed/);
    expect(lines.join("\n")).toMatch(/the run's notifications failed: db gone/);
  });
});

describe("checkFreshness", () => {
  it("finds a scheduled job that never ran once its first due time plus max_age has passed; one `stale` per episode", async () => {
    const { config, store, fake, events } = setup();
    const scheduled = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-fresh
jobs:
  nightly:
    schedule: "*-*-* 03:00:00"
    max_age: 2h
    notify: [all]
    steps: [{ name: local, type: exec, command: [echo, hi] }]
notifications:
  all: { type: webhook, url: "http://127.0.0.1:9/", events: [stale] }
`);
    expect(config.jobs.j).toBeDefined();
    const deps = {
      config: scheduled,
      store,
      redactor: createRedactor(),
      findKind: fake.findKind,
      log: () => undefined,
    };
    const t0 = new Date("2026-11-01T12:00:00.000Z"); // first seen; first due 2026-11-02T03:00 (local time)
    expect((await checkFreshness(deps, t0))[0]).toMatchObject({ stale: false, notice: null });
    const firstDue = new Date(Date.parse("2026-11-02T03:00:00"));
    const justBefore = new Date(firstDue.getTime() + 2 * 3_600_000 - MIN);
    expect((await checkFreshness(deps, justBefore))[0]).toMatchObject({ stale: false });
    const after = new Date(firstDue.getTime() + 2 * 3_600_000 + MIN);
    expect((await checkFreshness(deps, after))[0]).toMatchObject({
      stale: true,
      notice: "sent",
      state: "stale",
    });
    for (let i = 1; i <= 3; i++) {
      expect((await checkFreshness(deps, new Date(after.getTime() + i * MIN)))[0]).toMatchObject({
        notice: "already_sent",
      });
    }
    expect(events()).toEqual(["stale"]);
  });

  it("tries again at the next check when every notifier failed", async () => {
    const { config, store } = setup();
    await recordRun(store, "j", "succeeded", { startedAt: "2026-11-01T00:00:00.000Z" });
    let fail = true;
    const fake = createFakeKinds(() => (fail ? Promise.reject(new Error("HTTP 500")) : Promise.resolve()));
    const deps = {
      config,
      store,
      redactor: createRedactor(),
      findKind: fake.findKind,
      log: () => undefined,
      retryDelayMs: 0,
    };
    expect((await checkFreshness(deps, new Date("2026-11-01T03:00:00Z")))[0]).toMatchObject({
      stale: true,
      notice: "failed",
    });
    fail = false;
    expect((await checkFreshness(deps, new Date("2026-11-01T03:05:00Z")))[0]).toMatchObject({
      notice: "sent",
    });
    expect((await checkFreshness(deps, new Date("2026-11-01T03:10:00Z")))[0]).toMatchObject({
      notice: "already_sent",
    });
  });

  it("announces a run whose holdfast died (interrupted) with one `failure`", async () => {
    const { config, store, fake, events } = setup();
    const run = await recordRun(store, "j", "running", { startedAt: "2026-11-01T00:00:00.000Z" });
    await store.markInterrupted(run.id, "2026-11-01T00:05:00.000Z");
    const deps = { config, store, redactor: createRedactor(), findKind: fake.findKind, log: () => undefined };
    await checkFreshness(deps, new Date("2026-11-01T00:10:00Z"));
    await checkFreshness(deps, new Date("2026-11-01T00:11:00Z"));
    expect(events()).toEqual(["failure"]);
    expect(fake.sends[0]?.message.title).toMatch(/j INTERRUPTED on/);
    expect((await store.getRun(run.id))?.notifications).toMatchObject([{ event: "failure", ok: true }]);
    expect(await store.getState("notify:outcome:j")).toBe("failure");
  });

  it("records the episode even when no notifier listens for stale, so `recovered` still fires", async () => {
    const { store, fake } = setup();
    const silent = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-fresh
jobs:
  j:
    max_age: 1h
    steps: [{ name: local, type: exec, command: [echo, hi] }]
`);
    await recordRun(store, "j", "succeeded", { startedAt: "2026-11-01T00:00:00.000Z" });
    const deps = {
      config: silent,
      store,
      redactor: createRedactor(),
      findKind: fake.findKind,
      log: () => undefined,
    };
    expect((await checkFreshness(deps, new Date("2026-11-01T03:00:00Z")))[0]).toMatchObject({
      notice: "no_notifiers",
    });
    expect(await store.getState("notify:outcome:j")).toBe("stale");
  });
});
