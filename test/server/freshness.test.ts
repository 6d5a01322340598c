// The server's "is it safe?" per job (server/freshness.ts): late is judged from the job's own schedule
// and a grace of a tenth of its period, overdue from max_age, hung from a run longer than max_age.
import { describe, expect, it } from "vitest";
import { freshnessOf } from "../../src/server/freshness.js";
import type { JobStatus } from "../../src/engine/job-status.js";

const H = 3_600_000;
const at = (iso: string) => new Date(iso);

function status(
  over: Partial<JobStatus> & { started?: string; run?: "succeeded" | "failed" | "running" },
): JobStatus {
  const { started, run, ...rest } = over;
  return {
    name: "nightly",
    state: run === "failed" ? "failed" : run === "running" ? "running" : started ? "ok" : "never",
    last_run: started
      ? {
          id: "r",
          status: run ?? "succeeded",
          started_at: started,
          finished_at: null,
          duration_ms: null,
          exit_code: 0,
          trigger: "schedule",
        }
      : null,
    last_success_at: started && run !== "failed" ? started : null,
    last_failure_at: null,
    next_run_at: null,
    schedule: null,
    max_age_ms: 26 * H,
    stale: false,
    stale_for_ms: null,
    clock_warning: null,
    steps: [],
    ...rest,
  };
}

describe("freshness judged on the server", () => {
  const daily = { schedule: "*-*-* 03:00:00", max_age: 26 * H };
  const s = status({ started: "2026-11-25T03:00:00Z" });

  it("a daily job is ok until its next time plus 2.4 h, then late", () => {
    const ok = freshnessOf(daily, s, at("2026-11-26T05:00:00Z"));
    expect(ok).toEqual({ freshness: "ok", due_at: "2026-11-26T03:00:00.000Z", grace_ms: 2.4 * H });
    expect(freshnessOf(daily, s, at("2026-11-26T05:30:00Z")).freshness).toBe("late");
  });

  it("an hourly job has 6 minutes of grace", () => {
    const hourly = { schedule: "hourly", max_age: 3 * H };
    const h = status({ started: "2026-11-26T10:00:00Z", max_age_ms: 3 * H });
    expect(freshnessOf(hourly, h, at("2026-11-26T11:05:00Z")).freshness).toBe("ok");
    expect(freshnessOf(hourly, h, at("2026-11-26T11:07:00Z"))).toMatchObject({
      freshness: "late",
      grace_ms: 0.1 * H,
    });
  });

  it("overdue, failed, never, running and hung come first", () => {
    expect(
      freshnessOf(daily, { ...s, stale: true, stale_for_ms: 30 * H }, at("2026-11-26T09:00:00Z")).freshness,
    ).toBe("overdue");
    expect(
      freshnessOf(
        daily,
        status({ started: "2026-11-26T03:00:00Z", run: "failed" }),
        at("2026-11-26T04:00:00Z"),
      ).freshness,
    ).toBe("failed");
    expect(freshnessOf(daily, status({}), at("2026-11-26T04:00:00Z")).freshness).toBe("never");
    const running = status({ started: "2026-11-26T03:00:00Z", run: "running" });
    expect(freshnessOf(daily, running, at("2026-11-26T04:00:00Z")).freshness).toBe("running");
    expect(freshnessOf(daily, running, at("2026-11-27T06:00:00Z")).freshness).toBe("hung");
  });

  it("an unscheduled job with max_age is late in the last tenth of it", () => {
    const manual = { max_age: 26 * H };
    expect(freshnessOf(manual, s, at("2026-11-25T23:00:00Z")).freshness).toBe("ok");
    expect(freshnessOf(manual, s, at("2026-11-26T03:00:00Z"))).toMatchObject({
      freshness: "late",
      due_at: null,
    });
  });
});
