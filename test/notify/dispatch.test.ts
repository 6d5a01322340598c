import { describe, expect, it } from "vitest";
import { dispatchEvent, notifiersFor } from "../../src/notify/dispatch.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { createRedactor } from "../../src/util/redact.js";
import type { RunStore } from "../../src/store/types.js";
import { createFakeKinds, loadTestConfig, recordRun } from "./fixtures.js";

const SECRET = "s3cr3t-planted-7f9a";

const config = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-dispatch-test
jobs:
  j:
    notify: [only-failures, only-success, quick]
    steps:
      - { name: hello, type: exec, command: [echo, hi] }
notifications:
  only-failures: { type: webhook, url: "http://127.0.0.1:9/a", events: [failure] }
  only-success: { type: webhook, url: "http://127.0.0.1:9/b", events: [success, warning] }
  quick: { type: ntfy, url: "http://127.0.0.1:9/c", events: [success], timeout: 1s }
`);
const job = config.jobs.j!;
const quiet = () => undefined;

describe("notifiersFor", () => {
  it("takes the job's notify list, filtered by each notifier's events", () => {
    expect(notifiersFor(config, job, "success").map((n) => n.name)).toEqual(["only-success", "quick"]);
    expect(notifiersFor(config, job, "failure").map((n) => n.name)).toEqual(["only-failures"]);
    expect(notifiersFor(config, job, "stale")).toEqual([]);
  });
});

describe("dispatchEvent", () => {
  it("sends to the listening notifiers only and records each attempt on the run", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "succeeded");
    const fake = createFakeKinds(() => Promise.resolve());
    const records = await dispatchEvent(
      { config, store, redactor: createRedactor(), findKind: fake.findKind, log: quiet },
      { event: "success", job, run },
    );
    expect(fake.sends.map((s) => s.notifier).sort()).toEqual(["only-success", "quick"]);
    expect(records.every((r) => r.ok && r.attempts === 1 && r.event === "success")).toBe(true);
    expect((await store.getRun(run.id))?.notifications.map((n) => n.notifier).sort()).toEqual([
      "only-success",
      "quick",
    ]);
  });

  it("retries once after a failure, and records both attempts", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "failed");
    const fake = createFakeKinds((_ctx, _m, attempt) =>
      attempt === 1 ? Promise.reject(new Error("HTTP 502")) : Promise.resolve(),
    );
    const lines: string[] = [];
    await dispatchEvent(
      {
        config,
        store,
        redactor: createRedactor(),
        findKind: fake.findKind,
        log: (l) => lines.push(l),
        retryDelayMs: 10,
      },
      { event: "failure", job, run },
    );
    const stored = (await store.getRun(run.id))?.notifications;
    expect(stored).toMatchObject([
      { notifier: "only-failures", event: "failure", ok: false, attempts: 1, error: "HTTP 502" },
      { notifier: "only-failures", event: "failure", ok: true, attempts: 2, error: null },
    ]);
    expect(lines.join("\n")).toMatch(/attempt 1: HTTP 502; retrying/);
  });

  it("gives up after two failed attempts without throwing", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "failed");
    const fake = createFakeKinds(() => {
      throw new Error("synchronous bug in a notifier");
    });
    const records = await dispatchEvent(
      { config, store, redactor: createRedactor(), findKind: fake.findKind, log: quiet, retryDelayMs: 0 },
      { event: "failure", job, run },
    );
    expect(records).toMatchObject([
      { ok: false, attempts: 1 },
      { ok: false, attempts: 2, error: "synchronous bug in a notifier" },
    ]);
  });

  it("aborts an attempt at the notifier's timeout through its AbortSignal", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "succeeded");
    const fake = createFakeKinds(
      (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => reject(new Error("aborted by signal")));
        }),
    );
    const oneNotifier = { ...config, jobs: { j: { ...job, notify: ["quick"] } } };
    const started = Date.now();
    const records = await dispatchEvent(
      {
        config: oneNotifier,
        store,
        redactor: createRedactor(),
        findKind: fake.findKind,
        log: quiet,
        retryDelayMs: 0,
      },
      { event: "success", job: oneNotifier.jobs.j, run },
    );
    expect(records).toHaveLength(2);
    expect(records.every((r) => !r.ok && /aborted by signal \(timeout 1s\)/.test(r.error ?? ""))).toBe(true);
    expect(fake.sends.every((s) => s.signal.aborted)).toBe(true);
    // 1 s timeout × 2 attempts
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("stops waiting for a notifier that ignores its signal shortly after the timeout", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "succeeded");
    const fake = createFakeKinds(() => new Promise<void>(() => undefined));
    const oneNotifier = { ...config, jobs: { j: { ...job, notify: ["quick"] } } };
    const started = Date.now();
    const records = await dispatchEvent(
      {
        config: oneNotifier,
        store,
        redactor: createRedactor(),
        findKind: fake.findKind,
        log: quiet,
        retryDelayMs: 0,
        abandonAfterMs: 100,
      },
      { event: "success", job: oneNotifier.jobs.j, run },
    );
    expect(records).toMatchObject([
      { ok: false, attempts: 1 },
      { ok: false, attempts: 2 },
    ]);
    expect(records[0]?.error).toMatch(/no answer within 1s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("masks secrets in what notifiers receive and in the recorded errors", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "failed", {
      steps: [
        {
          name: "hello",
          type: "exec",
          status: "failed",
          error: { kind: "exit_code", message: `printed ${SECRET}`, hint: null },
        },
      ],
    });
    const fake = createFakeKinds(() => Promise.reject(new Error(`server said: bad token ${SECRET}`)));
    const redactor = createRedactor([SECRET]);
    const lines: string[] = [];
    const records = await dispatchEvent(
      { config, store, redactor, findKind: fake.findKind, log: (l) => lines.push(l), retryDelayMs: 0 },
      { event: "failure", job, run, details: { note: SECRET }, logTail: `tail ${SECRET}` },
    );
    const sent = JSON.stringify(fake.sends.map((s) => s.message));
    expect(sent).toContain("***");
    expect(sent).not.toContain(SECRET);
    expect(JSON.stringify(records)).not.toContain(SECRET);
    expect(JSON.stringify(await store.getRun(run.id))).not.toContain(`bad token ${SECRET}`);
    expect(lines.join("\n")).not.toContain(SECRET);
  });

  it("does not throw when the store cannot record the outcome", async () => {
    const store = createMemoryStore();
    const run = await recordRun(store, "j", "succeeded");
    const broken: RunStore = { ...store, addNotification: () => Promise.reject(new Error("disk full")) };
    const fake = createFakeKinds(() => Promise.resolve());
    const lines: string[] = [];
    const records = await dispatchEvent(
      {
        config,
        store: broken,
        redactor: createRedactor(),
        findKind: fake.findKind,
        log: (l) => lines.push(l),
      },
      { event: "success", job, run },
    );
    expect(records.every((r) => r.ok)).toBe(true);
    expect(lines.join("\n")).toMatch(/cannot record the notification.*disk full/);
  });

  it("sends `stale` without a run and records nothing on any run", async () => {
    const staleConfig = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-dispatch-test
jobs:
  j:
    notify: [n]
    steps: [{ name: hello, type: exec, command: [echo, hi] }]
notifications:
  n: { type: webhook, url: "http://127.0.0.1:9/a" }
`);
    const fake = createFakeKinds(() => Promise.resolve());
    const records = await dispatchEvent(
      {
        config: staleConfig,
        store: createMemoryStore(),
        redactor: createRedactor(),
        findKind: fake.findKind,
        log: quiet,
      },
      {
        event: "stale",
        job: staleConfig.jobs.j!,
        run: null,
        details: { stale_for_ms: 7_200_000, max_age_ms: 3_600_000 },
      },
    );
    expect(records).toMatchObject([{ ok: true }]);
    expect(fake.sends[0]?.message).toMatchObject({
      event: "stale",
      run: null,
      details: { stale_for_ms: 7_200_000 },
    });
    expect(fake.sends[0]?.message.title).toMatch(/j is STALE on .*: no successful run for 2h.*max_age 1h/);
  });
});
