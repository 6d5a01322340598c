// The daemon's decisions against a fake clock: when it starts runs, when it skips, how it catches up.
// test/scheduler/daemon-cli.test.ts checks the same promises with the real CLI and real time.
import { describe, expect, it } from "vitest";
import { parseSchedule } from "../../src/scheduler/calendar.js";
import {
  createDaemon,
  MAX_SLEEP_MS,
  type ChildExit,
  type ChildHandle,
  type DaemonPlan,
  type StopMode,
} from "../../src/scheduler/daemon.js";

interface FakeChild extends ChildHandle {
  job: string | null;
  at: string;
  finish(exit?: Partial<ChildExit>): void;
  signals: string[];
}

function createHarness(options: {
  start: string;
  plan: DaemonPlan;
  state?: Record<string, string>;
  watch?: boolean;
  random?: () => number;
}) {
  let clock = new Date(options.start);
  // The monotonic clock: moves with the wall clock, except across a step (h.step).
  let mono = 1_000_000;
  const state = new Map(Object.entries(options.state ?? {}));
  const logs: string[] = [];
  const children: FakeChild[] = [];
  const timers: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  let plan: DaemonPlan | Error = options.plan;
  const daemon = createDaemon({
    loadPlan: () => {
      if (plan instanceof Error) throw plan;
      return plan;
    },
    launch: (job) => {
      let resolve: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((r) => (resolve = r));
      const child: FakeChild = {
        job,
        at: clock.toISOString(),
        pid: 1000 + children.length,
        exited,
        signals: [],
        terminate: () => child.signals.push("SIGTERM"),
        kill: () => child.signals.push("SIGKILL"),
        finish: (exit = {}) => resolve({ code: 0, signal: null, run: null, ...exit }),
      };
      children.push(child);
      return child;
    },
    state: {
      getState: (key) => Promise.resolve(state.get(key) ?? null),
      setState: (key, value) => {
        if (value === null) state.delete(key);
        else state.set(key, value);
        return Promise.resolve();
      },
    },
    log: (line) => logs.push(line),
    now: () => clock,
    monotonic: () => mono,
    timers: {
      set: (fn, ms) => {
        const timer = { fn, ms, cleared: false };
        timers.push(timer);
        return timer;
      },
      clear: (handle) => {
        (handle as { cleared: boolean }).cleared = true;
      },
    },
    watch: options.watch ?? true,
    ...(options.random ? { random: options.random } : {}),
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return {
    daemon,
    state,
    logs,
    children,
    runsOf: (job: string) => children.filter((c) => c.job === job),
    setPlan: (next: DaemonPlan | Error) => (plan = next),
    /** Moves the clock and lets the daemon act, as its timer would. */
    async at(iso: string) {
      mono += Date.parse(iso) - clock.getTime();
      clock = new Date(iso);
      daemon.tick();
      await flush();
    },
    /** The wall clock is set to `iso` while `elapsedMs` pass on the monotonic clock; then a wake-up. */
    async step(iso: string, elapsedMs: number) {
      mono += elapsedMs;
      clock = new Date(iso);
      daemon.tick();
      await flush();
    },
    pendingTimers: () => timers.filter((t) => !t.cleared),
    flush,
    stop: (mode: StopMode, waitMs?: number) => daemon.stop(mode, waitMs),
  };
}

const plan = (jobs: Record<string, string>, killGraceMs = 15_000): DaemonPlan => ({
  jobs: Object.entries(jobs).map(([name, expr]) => ({
    name,
    schedule: parseSchedule(`${expr} UTC`),
    randomizedDelayMs: 0,
  })),
  killGraceMs,
});

describe("daemon scheduling", () => {
  it("runs a job at each due time, once, and never sleeps longer than MAX_SLEEP_MS", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ job: "*:*:00" }) });
    await h.daemon.start();
    expect(h.children).toHaveLength(0);
    expect(h.state.get("daemon:last_trigger:job")).toBe("2026-03-01T10:00:30.000Z");
    expect(Math.max(...h.pendingTimers().map((t) => t.ms))).toBeLessThanOrEqual(MAX_SLEEP_MS);
    await h.at("2026-03-01T10:00:59.999Z");
    expect(h.children).toHaveLength(0);
    await h.at("2026-03-01T10:01:00.000Z");
    await h.at("2026-03-01T10:01:00.500Z");
    expect(h.runsOf("job").map((c) => c.at)).toEqual(["2026-03-01T10:01:00.000Z"]);
    h.children[0]!.finish();
    await h.flush();
    await h.at("2026-03-01T10:02:00.100Z");
    expect(h.runsOf("job")).toHaveLength(2);
    expect(h.state.get("daemon:last_trigger:job")).toBe("2026-03-01T10:02:00.100Z");
    expect(
      h.logs.some((l) => /^job job: started \(due at 2026-03-01T10:01:00.000Z, pid 1000\)$/.test(l)),
    ).toBe(true);
    expect(h.logs.some((l) => /^job job: succeeded \(exit 0\) after /.test(l))).toBe(true);
  });

  it("skips a due time while the previous run of the job is still going", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ slow: "*:*:00" }) });
    await h.daemon.start();
    await h.at("2026-03-01T10:01:00Z");
    await h.at("2026-03-01T10:02:00Z");
    await h.at("2026-03-01T10:03:00Z");
    expect(h.runsOf("slow")).toHaveLength(1);
    expect(h.logs.filter((l) => l.includes("still going") && l.includes("skipped"))).toHaveLength(2);
    h.children[0]!.finish();
    await h.flush();
    await h.at("2026-03-01T10:04:00Z");
    expect(h.runsOf("slow")).toHaveLength(2);
  });

  it("delays each run by a random part of randomized_delay, like RandomizedDelaySec=", async () => {
    const delayed = plan({ job: "*-*-* 03:00:00" });
    delayed.jobs[0]!.randomizedDelayMs = 600_000;
    const h = createHarness({ start: "2026-03-01T02:00:00Z", plan: delayed, random: () => 0.5 });
    await h.daemon.start();
    await h.at("2026-03-01T03:04:59.999Z");
    expect(h.runsOf("job")).toHaveLength(0);
    await h.at("2026-03-01T03:05:00Z");
    expect(h.runsOf("job").map((c) => c.at)).toEqual(["2026-03-01T03:05:00.000Z"]);
    expect(h.logs.filter((l) => l.startsWith("job job: started"))).toEqual([
      expect.stringMatching(/^job job: started \(due at 2026-03-01T03:05:00\.000Z, pid \d+\)$/),
    ]);
  });

  it("after a suspend (the clock jumps hours ahead) runs once, not once per missed elapse", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ job: "*:0/5" }) });
    await h.daemon.start();
    await h.at("2026-03-01T15:42:10Z");
    expect(h.runsOf("job")).toHaveLength(1);
    await h.at("2026-03-01T15:44:59Z");
    expect(h.runsOf("job")).toHaveLength(1);
    h.children[0]!.finish();
    await h.flush();
    await h.at("2026-03-01T15:45:00Z");
    expect(h.runsOf("job")).toHaveLength(2);
  });
});

describe("clock steps (issue 12 item 16)", () => {
  it("a step back of an hour: an every-minute job goes on every minute, not an hour later", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ job: "*:*:00" }) });
    await h.daemon.start();
    await h.at("2026-03-01T10:01:00Z");
    expect(h.runsOf("job")).toHaveLength(1);
    h.children[0]!.finish();
    await h.flush();
    // 10 s later the clock is set back an hour (the daemon wakes at most MAX_SLEEP_MS apart).
    await h.step("2026-03-01T09:01:10Z", 10_000);
    expect(h.logs.some((l) => /^clock: the wall clock moved back by 1h/.test(l))).toBe(true);
    expect(
      h.logs.some((l) =>
        /next runs recomputed.*job 2026-03-01T10:02:00.000Z -> 2026-03-01T09:02:00.000Z/.test(l),
      ),
    ).toBe(true);
    await h.at("2026-03-01T09:02:00Z");
    expect(h.runsOf("job").map((c) => c.at)).toEqual([
      "2026-03-01T10:01:00.000Z",
      "2026-03-01T09:02:00.000Z",
    ]);
    h.children[1]!.finish();
    await h.flush();
    await h.at("2026-03-01T09:03:00Z");
    expect(h.runsOf("job")).toHaveLength(3);
  });

  it("a step forward: what fell due runs once, then the schedule goes on from the new time", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ job: "*:0/5" }) });
    await h.daemon.start();
    await h.step("2027-04-05T10:00:40Z", 10_000);
    expect(h.logs.some((l) => /^clock: the wall clock moved forward by 400d/.test(l))).toBe(true);
    expect(h.runsOf("job")).toHaveLength(1);
    h.children[0]!.finish();
    await h.flush();
    await h.at("2027-04-05T10:04:59Z");
    expect(h.runsOf("job")).toHaveLength(1);
    await h.at("2027-04-05T10:05:00Z");
    expect(h.runsOf("job")).toHaveLength(2);
  });

  it("timers that fire late move both clocks alike: no step is seen", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ job: "*:*:00" }) });
    await h.daemon.start();
    await h.step("2026-03-01T10:00:31.500Z", 0);
    await h.at("2026-03-01T10:02:00Z");
    expect(h.logs.filter((l) => l.startsWith("clock:"))).toEqual([]);
  });
});

describe("catch-up after downtime (Persistent=true)", () => {
  it("runs exactly one catch-up for a job whose due times passed while the daemon was stopped", async () => {
    const h = createHarness({
      start: "2026-03-04T12:00:00Z",
      plan: plan({ nightly: "*-*-* 03:00:00", fresh: "*-*-* 03:00:00", later: "*-*-* 18:00:00" }),
      // nightly last ran 3 days ago (3 missed elapses); later's next elapse after its last trigger is still ahead.
      state: {
        "daemon:last_trigger:nightly": "2026-03-01T03:00:05.000Z",
        "daemon:last_trigger:later": "2026-03-03T18:00:00.000Z",
      },
    });
    await h.daemon.start();
    expect(h.runsOf("nightly").map((c) => c.at)).toEqual(["2026-03-04T12:00:00.000Z"]);
    expect(h.logs).toContain(
      "job nightly: catching up the run due at 2026-03-02T03:00:00.000Z (missed while the daemon was not running)",
    );
    // A job seen for the first time has nothing to catch up.
    expect(h.runsOf("fresh")).toHaveLength(0);
    expect(h.runsOf("later")).toHaveLength(0);
    h.children[0]!.finish();
    await h.flush();
    await h.at("2026-03-04T12:00:20Z");
    await h.at("2026-03-04T17:59:59Z");
    expect(h.runsOf("nightly")).toHaveLength(1);
    await h.at("2026-03-04T18:00:00Z");
    expect(h.runsOf("later")).toHaveLength(1);
    await h.at("2026-03-05T03:00:00Z");
    expect(h.runsOf("nightly")).toHaveLength(2);
    expect(h.runsOf("fresh")).toHaveLength(1);
  });

  it("remembers the catch-up, so a restart right after it does not run the job again", async () => {
    const state = { "daemon:last_trigger:nightly": "2026-03-01T03:00:05.000Z" };
    const first = createHarness({
      start: "2026-03-04T12:00:00Z",
      plan: plan({ nightly: "*-*-* 03:00:00" }),
      state,
    });
    await first.daemon.start();
    expect(first.children).toHaveLength(1);
    const second = createHarness({
      start: "2026-03-04T12:05:00Z",
      plan: plan({ nightly: "*-*-* 03:00:00" }),
      state: Object.fromEntries(first.state),
    });
    await second.daemon.start();
    expect(second.children).toHaveLength(0);
  });
});

describe("reload and stop", () => {
  it("applies a new config on reload and keeps the old one when the new one is broken", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ a: "*:*:00" }) });
    await h.daemon.start();
    h.setPlan(new Error("jobs.b.schedule: invalid schedule"));
    expect(h.daemon.reload()).toBe(false);
    expect(h.logs).toContain("reload failed; keeping the previous config:");
    h.setPlan(plan({ a: "*:*:00", b: "*:*:30" }));
    expect(h.daemon.reload()).toBe(true);
    await h.flush();
    await h.at("2026-03-01T10:00:30.000Z");
    expect(h.runsOf("b")).toHaveLength(0);
    await h.at("2026-03-01T10:00:30.001Z");
    await h.at("2026-03-01T10:01:00Z");
    await h.at("2026-03-01T10:01:30Z");
    expect(h.runsOf("a")).toHaveLength(1);
    expect(h.runsOf("b")).toHaveLength(1);
    h.setPlan(plan({ b: "*:*:30" }));
    h.daemon.reload();
    await h.flush();
    h.children[0]!.finish();
    await h.flush();
    await h.at("2026-03-01T10:02:00Z");
    expect(h.runsOf("a")).toHaveLength(1);
  });

  it("stop wait: waits for the running job, then cancels it when the wait is over", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ a: "*:*:00" }) });
    await h.daemon.start();
    await h.at("2026-03-01T10:01:00Z");
    let stopped = false;
    void h.stop("wait", 60_000).then(() => (stopped = true));
    await h.flush();
    expect(stopped).toBe(false);
    expect(h.children[0]!.signals).toEqual([]);
    await h.at("2026-03-01T10:02:00Z");
    expect(h.children).toHaveLength(1);
    const waitTimer = h.pendingTimers().find((t) => t.ms === 60_000)!;
    waitTimer.fn();
    expect(h.children[0]!.signals).toEqual(["SIGTERM"]);
    h.children[0]!.finish({ code: 143 });
    await h.flush();
    expect(stopped).toBe(true);
    expect(h.logs.at(-2)).toMatch(/^job a: cancelled \(exit 143\) after/);
    expect(h.logs.at(-1)).toBe("stopped");
  });

  it("stop cancel: SIGTERM to the running jobs at once, SIGKILL after the grace", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ a: "*:*:00" }, 1_000) });
    await h.daemon.start();
    await h.at("2026-03-01T10:01:00Z");
    void h.stop("cancel");
    expect(h.children[0]!.signals).toEqual(["SIGTERM"]);
    h.pendingTimers()
      .find((t) => t.ms === 31_000)!
      .fn();
    expect(h.children[0]!.signals).toEqual(["SIGTERM", "SIGKILL"]);
  });

  it("stops at once when nothing runs", async () => {
    const h = createHarness({ start: "2026-03-01T10:00:30Z", plan: plan({ a: "*:*:00" }) });
    await h.daemon.start();
    await h.stop("wait");
    expect(h.logs.at(-1)).toBe("stopped");
    await h.at("2026-03-01T10:01:00Z");
    expect(h.children).toHaveLength(0);
  });

  it("runs the freshness check hourly when the command exists, and says so once when it does not", async () => {
    const h = createHarness({ start: "2026-03-01T10:59:00Z", plan: plan({}) });
    await h.daemon.start();
    await h.at("2026-03-01T11:00:00Z");
    expect(h.children.map((c) => c.job)).toEqual([null]);
    h.children[0]!.finish({ code: 2 });
    await h.flush();
    expect(h.logs.at(-1)).toMatch(/^freshness check: a job is stale \(exit 2; see its lines above\) after /);
    const without = createHarness({ start: "2026-03-01T10:59:00Z", plan: plan({}), watch: false });
    await without.daemon.start();
    await without.at("2026-03-01T11:00:00Z");
    expect(without.children).toHaveLength(0);
    expect(without.logs.filter((l) => l.includes("freshness check"))).toHaveLength(1);
  });
});
