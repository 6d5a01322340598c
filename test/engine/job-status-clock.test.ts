// Freshness against a wrong clock (issue 12 item 9): a success recorded 400 days ahead does not keep a
// job fresh until that date, and a failure recorded with a clock behind does not hide behind the
// success before it. Real stores (memory and SQLite): the order is theirs, the judgement job-status'.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { computeJobStatuses } from "../../src/engine/job-status.js";
import { checkFreshness } from "../../src/notify/freshness.js";
import { createNotifyMessage } from "../../src/notify/message.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { RunStore } from "../../src/store/types.js";
import { createRedactor } from "../../src/util/redact.js";
import { loadTestConfig, recordRun } from "../notify/fixtures.js";
import { makeTempDir } from "../helpers/tmp.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date(Date.UTC(2026, 11, 2, 12, 0, 0));
const iso = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();

const stores: Array<[string, () => RunStore]> = [
  ["memory", () => createMemoryStore()],
  ["sqlite", () => createSqliteStore({ path: path.join(makeTempDir("holdfast-clock-"), "history.db") })],
];

function config() {
  return loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-clock-unused
jobs:
  j:
    max_age: 26h
    steps: [{ name: hello, type: exec, command: [echo, hi] }]
`);
}

describe.each(stores)("freshness with a wrong clock (%s store)", (_name, makeStore) => {
  it("a success recorded 400 days ahead is not fresh: stale, and said to be recorded in the future", async () => {
    const store = makeStore();
    await recordRun(store, "j", "succeeded", { startedAt: iso(400 * DAY) });
    const [status] = await computeJobStatuses(config(), store, now);
    expect(status).toMatchObject({ state: "stale", stale: true, stale_for_ms: null });
    expect(status?.clock_warning).toMatch(/last success is recorded in the future .*, 400d\S* ahead/);

    const [fresh] = await checkFreshness({ config: config(), store, redactor: createRedactor() }, now);
    expect(fresh).toMatchObject({ stale: true, notice: "no_notifiers" });
    expect(fresh?.clock_warning).toMatch(/recorded in the future/);
    await store.close();
  });

  it("a later success with a correct clock makes the job fresh again", async () => {
    const store = makeStore();
    await recordRun(store, "j", "succeeded", { startedAt: iso(400 * DAY) });
    await recordRun(store, "j", "succeeded", { startedAt: iso(-HOUR) });
    const [status] = await computeJobStatuses(config(), store, now);
    expect(status).toMatchObject({ state: "ok", stale: false, clock_warning: null });
    await store.close();
  });

  it("a failure recorded with a clock a day behind is the last run: failed, not hidden by the success", async () => {
    const store = makeStore();
    await recordRun(store, "j", "succeeded", { startedAt: iso(-HOUR) });
    const failure = await recordRun(store, "j", "failed", { startedAt: iso(-DAY - HOUR) });
    const [status] = await computeJobStatuses(config(), store, now);
    expect(status?.state).toBe("failed");
    expect(status?.last_run?.id).toBe(failure.id);
    expect(status?.steps[0]).toMatchObject({ run_id: failure.id, status: "failed" });
    await store.close();
  });

  it("a success recorded before the clock stepped back an hour is stale until the next success", async () => {
    const store = makeStore();
    // Recorded at the true time; the clock then stepped back, so "now" is an hour before it.
    await recordRun(store, "j", "succeeded", { startedAt: iso(HOUR) });
    const [status] = await computeJobStatuses(config(), store, now);
    expect(status).toMatchObject({ state: "stale", stale: true });
    await recordRun(store, "j", "succeeded", { startedAt: iso(0) });
    expect((await computeJobStatuses(config(), store, now))[0]).toMatchObject({ state: "ok", stale: false });
    await store.close();
  });

  it("a run a few minutes ahead (within the tolerance) is not a clock problem", async () => {
    const store = makeStore();
    await recordRun(store, "j", "succeeded", { startedAt: iso(2 * 60_000) });
    expect((await computeJobStatuses(config(), store, now))[0]).toMatchObject({
      state: "ok",
      stale: false,
      clock_warning: null,
    });
    await store.close();
  });
});

it("the stale notification says the last success is recorded in the future", () => {
  const message = createNotifyMessage(
    {
      event: "stale",
      job: "j",
      host: "h",
      run: null,
      details: {
        max_age_ms: DAY,
        stale_for_ms: null,
        clock: "the last success is recorded in the future (…)",
      },
      at: now,
    },
    createRedactor(),
  );
  expect(message.title).toMatch(/STALE on h: its last success is recorded in the future/);
  expect(message.text).toMatch(/counts as stale because the last success is recorded in the future/);
});
