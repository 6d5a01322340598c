// The fleet view's judgement on the hub's clock (src/fleet/fleet-view.ts), with made-up rows: skew,
// freshness that a host's clock cannot fake, missing after expected run + grace, worst first, lag.
import { describe, expect, it } from "vitest";
import { computeFleetView, type HostRow, type JobLatestRow } from "../../src/fleet/fleet-view.js";

const T = Date.parse("2026-12-03T12:00:00.000Z");
const at = (ms: number) => new Date(T + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;

const ms = (offset: number) => T + offset;

function host(id: string, over: Partial<HostRow> = {}): HostRow {
  return {
    host_id: id,
    display_name: id,
    first_seen_ms: ms(-30 * 24 * HOUR),
    last_received_ms: ms(-MIN),
    conflict: false,
    hb_received_ms: ms(-MIN),
    skew_ms: 0,
    holdfast_version: "0.1.0",
    restic_version: "0.18.0",
    jobs: [],
    pending: 0,
    oldest_pending_ms: null,
    report_every_ms: null,
    ...over,
  };
}

function latest(hostId: string, job: string, over: Partial<JobLatestRow> = {}): JobLatestRow {
  return {
    host_id: hostId,
    job,
    last_run_id: `${hostId}-${job}`,
    last_status: "succeeded",
    last_started_ms: ms(-2 * MIN),
    last_finished_ms: ms(-MIN),
    last_success_ms: ms(-MIN),
    last_success_received_ms: ms(-MIN),
    ...over,
  };
}

const job = (name: string, nextRunAt: number | null, maxAge: number | null = null) => ({
  job: name,
  schedule: nextRunAt === null ? null : "daily",
  next_run_at: nextRunAt === null ? null : new Date(nextRunAt).toISOString(),
  randomized_delay_ms: 0,
  max_age_ms: maxAge,
});

describe("fleet view on the hub's clock", () => {
  it("calls a host missing only after its earliest expected run plus the grace, by the hub's clock", () => {
    const rows = [
      // Expected 70 min ago, silent since: past the 1 h grace.
      host("gone", {
        last_received_ms: ms(-2 * HOUR),
        hb_received_ms: ms(-2 * HOUR),
        jobs: [job("n", T - 70 * MIN)],
      }),
      // Expected 50 min ago: within the grace.
      host("late", {
        last_received_ms: ms(-2 * HOUR),
        hb_received_ms: ms(-2 * HOUR),
        jobs: [job("n", T - 50 * MIN)],
      }),
      // Its clock is 2 h ahead: it expected its run at 12:50 by its clock, which is 10:50 here.
      host("ahead", {
        skew_ms: 2 * HOUR,
        last_received_ms: ms(-3 * HOUR),
        hb_received_ms: ms(-3 * HOUR),
        jobs: [job("n", T + 50 * MIN)],
      }),
    ];
    const view = computeFleetView(T, rows, [], HOUR);
    const state = Object.fromEntries(view.hosts.map((h) => [h.host, h.state]));
    expect(state).toEqual({ gone: "missing", late: "ok", ahead: "missing" });
    const gone = view.hosts.find((h) => h.host === "gone")!;
    expect(gone.missing_since).toBe(at(-10 * MIN).toISOString());
    expect(view.hosts.find((h) => h.host === "ahead")!.next_expected_at).toBe(at(-70 * MIN).toISOString());
    expect(view.hosts.find((h) => h.host === "ahead")!.clock_warning).toMatch(/2\.0 h ahead of/);
    // A missing host's jobs are missing, whatever they last said.
    expect(view.cells.find((c) => c.host === "gone")).toMatchObject({
      state: "missing",
      reported_state: "never",
    });
    expect(view.summary.missing_hosts).toBe(2);
  });

  it("calls a host with nothing scheduled missing once its heartbeats stop (report interval + grace)", () => {
    const rows = [
      // Nothing scheduled, silent for 26 h: past the default daily report + 1 h grace.
      host("manual-gone", {
        last_received_ms: ms(-26 * HOUR),
        hb_received_ms: ms(-26 * HOUR),
        jobs: [job("n", null)],
      }),
      // No jobs at all, silent for 24.5 h: within the grace.
      host("manual-late", { last_received_ms: ms(-24.5 * HOUR), hb_received_ms: ms(-24.5 * HOUR), jobs: [] }),
      // It promised a report every 10 min (fleet.report_every) and was silent for 75 min.
      host("promised", {
        last_received_ms: ms(-75 * MIN),
        hb_received_ms: ms(-75 * MIN),
        report_every_ms: 10 * MIN,
        jobs: [job("n", null)],
      }),
      // The same promise, silent for 65 min: within it + grace.
      host("promised-ok", {
        last_received_ms: ms(-65 * MIN),
        hb_received_ms: ms(-65 * MIN),
        report_every_ms: 10 * MIN,
        jobs: [],
      }),
      // A promise also holds a host with a far-off schedule to it.
      host("weekly", {
        last_received_ms: ms(-3 * HOUR),
        hb_received_ms: ms(-3 * HOUR),
        report_every_ms: HOUR,
        jobs: [job("n", T + 5 * 24 * HOUR)],
      }),
      // Without a promise, a scheduled host is judged by its next run only (silent 30 h, run in 2 days).
      host("weekly-quiet", {
        last_received_ms: ms(-30 * HOUR),
        hb_received_ms: ms(-30 * HOUR),
        jobs: [job("n", T + 2 * 24 * HOUR)],
      }),
    ];
    const view = computeFleetView(T, rows, [], HOUR);
    const h = (name: string) => view.hosts.find((x) => x.host === name)!;
    expect(Object.fromEntries(view.hosts.map((x) => [x.host, x.state]))).toEqual({
      "manual-gone": "missing",
      "manual-late": "ok",
      promised: "missing",
      "promised-ok": "ok",
      weekly: "missing",
      "weekly-quiet": "ok",
    });
    expect(h("manual-gone")).toMatchObject({
      report_every_ms: 24 * HOUR,
      next_expected_at: at(-2 * HOUR).toISOString(),
      missing_since: at(-HOUR).toISOString(),
    });
    expect(h("promised").missing_since).toBe(at(-5 * MIN).toISOString());
    expect(h("weekly-quiet").report_every_ms).toBeNull();
    expect(view.cells.find((c) => c.host === "manual-gone")).toMatchObject({ state: "missing" });
    expect(view.summary.missing_hosts).toBe(3);
  });

  it("judges freshness on the hub's clock: a success counts no later than the hub received it", () => {
    const rows = [
      host("future", { jobs: [job("n", T + HOUR, 24 * HOUR)] }),
      host("honest", { jobs: [job("n", T + HOUR, 24 * HOUR)] }),
      host("slow", { skew_ms: -3 * HOUR, jobs: [job("n", T + HOUR, 2 * HOUR)] }),
    ];
    const view = computeFleetView(
      T,
      rows,
      [
        // Recorded while its clock said next year; the hub got it 3 days ago: stale.
        latest("future", "n", {
          last_success_ms: ms(365 * 24 * HOUR),
          last_success_received_ms: ms(-72 * HOUR),
        }),
        latest("honest", "n", { last_success_ms: ms(-HOUR), last_success_received_ms: ms(-HOUR + 1000) }),
        // Its clock is 3 h behind: a success at (its) 09:30 is 12:30 here... received 11:00 — 1 h ago.
        latest("slow", "n", { last_success_ms: ms(-150 * MIN), last_success_received_ms: ms(-HOUR) }),
      ],
      HOUR,
    );
    const cell = (h: string) => view.cells.find((c) => c.host === h)!;
    expect(cell("future")).toMatchObject({ state: "stale", stale: true, stale_for_ms: 48 * HOUR });
    expect(cell("future").last_success_at).toBe(at(-72 * HOUR).toISOString());
    expect(cell("honest")).toMatchObject({ state: "ok", stale: false });
    expect(cell("slow")).toMatchObject({ state: "ok", last_success_at: at(-HOUR).toISOString() });
  });

  it("orders hosts and cells worst first and lists jobs that never ran", () => {
    const rows = [
      host("a-ok", { jobs: [job("n", T + HOUR)] }),
      host("b-failed", { jobs: [job("n", T + HOUR), job("weekly", T + 24 * HOUR)] }),
      host("c-gone", {
        last_received_ms: ms(-5 * HOUR),
        hb_received_ms: ms(-5 * HOUR),
        jobs: [job("n", T - 3 * HOUR)],
      }),
    ];
    const view = computeFleetView(
      T,
      rows,
      [latest("a-ok", "n"), latest("b-failed", "n", { last_status: "failed" }), latest("c-gone", "n")],
      HOUR,
    );
    expect(view.hosts.map((h) => h.host)).toEqual(["c-gone", "b-failed", "a-ok"]);
    expect(view.cells.map((c) => `${c.host}/${c.job}:${c.state}`)).toEqual([
      "c-gone/n:missing",
      "b-failed/n:failed",
      "b-failed/weekly:never",
      "a-ok/n:ok",
    ]);
  });

  it("shows the replication lag a host last reported, on the hub's clock, and no lag when in sync", () => {
    const view = computeFleetView(
      T,
      [
        host("behind", { skew_ms: 10 * MIN, pending: 12, oldest_pending_ms: ms(-20 * MIN) }),
        host("synced"),
        host("new", { hb_received_ms: null, skew_ms: null, pending: null }),
      ],
      [],
      HOUR,
    );
    const h = (name: string) => view.hosts.find((x) => x.host === name)!;
    // Queued at (its) 11:40, i.e. 11:30 here: 30 min behind.
    expect(h("behind").replication).toEqual({
      pending: 12,
      oldest_pending_at: at(-30 * MIN).toISOString(),
      lag_seconds: 1800,
    });
    expect(h("synced").replication).toEqual({ pending: 0, oldest_pending_at: null, lag_seconds: 0 });
    expect(h("new")).toMatchObject({ state: "unknown", replication: null, skew_ms: null });
    expect(h("synced").clock_warning).toBeNull();
  });
});
