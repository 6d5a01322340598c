import { describe, expect, it } from "vitest";
import {
  collectRunAnomalies,
  DEFAULT_ANOMALY_OPTIONS,
  findStepAnomalies,
  judgeFigure,
  median,
} from "../../src/notify/anomaly.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { StepRecord, TargetRecord } from "../../src/store/types.js";

const MIN = 60_000;
const MiB = 1024 * 1024;

function step(partial: Partial<StepRecord> & { duration_ms: number }): StepRecord {
  return {
    index: 0,
    name: "local",
    type: "backup",
    status: "succeeded",
    started_at: "2026-11-01T03:00:00.000Z",
    finished_at: "2026-11-01T03:10:00.000Z",
    exit_code: 0,
    attempts: 1,
    error: null,
    summary: null,
    targets: [],
    log_path: null,
    ...partial,
  };
}

const target = (
  repo: string,
  data_added: number,
  status: TargetRecord["status"] = "succeeded",
): TargetRecord => ({
  repo,
  status,
  duration_ms: 1000,
  error: null,
  snapshot_id: "abc",
  data_added,
});

describe("median", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe("judgeFigure (median ± k·MAD with floors)", () => {
  const history = [10, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9].map((m) => m * MIN);

  it("flags a duration far above a noisy-but-stable history, with the figures", () => {
    const verdict = judgeFigure(60 * MIN, history, "duration_ms");
    expect(verdict).not.toBeNull();
    expect(verdict?.direction).toBe("high");
    expect(verdict?.median).toBe(10 * MIN);
    expect(verdict?.threshold).toBeGreaterThan(0);
    expect(60 * MIN - (verdict?.median ?? 0)).toBeGreaterThan(verdict?.threshold ?? Infinity);
  });

  it("flags a duration far below its history (a backend that returned nothing, a source gone)", () => {
    expect(judgeFigure(0.5 * MIN, history, "duration_ms")?.direction).toBe("low");
  });

  it("does not flag ordinary variation", () => {
    expect(judgeFigure(11 * MIN, history, "duration_ms")).toBeNull();
    expect(judgeFigure(9 * MIN, history, "duration_ms")).toBeNull();
  });

  it("gives no verdict on fewer than 5 records", () => {
    expect(judgeFigure(1000 * MIN, history.slice(0, 4), "duration_ms")).toBeNull();
    expect(judgeFigure(1000 * MIN, history.slice(0, 5), "duration_ms")).not.toBeNull();
  });

  it("does not turn a perfectly regular history (MAD 0) into alarms for small changes", () => {
    const flat = [10, 10, 10, 10, 10, 10].map((m) => m * MIN);
    expect(judgeFigure(12 * MIN, flat, "duration_ms")).toBeNull(); // within 50% of the median
    expect(judgeFigure(16 * MIN, flat, "duration_ms")).not.toBeNull();
  });

  it("never flags tiny figures: the absolute floor (1 min, 64 MiB) applies", () => {
    const tiny = [12, 11, 12, 13, 12, 12];
    expect(judgeFigure(900, tiny, "duration_ms")).toBeNull(); // 12 ms → 900 ms is noise for a backup
    expect(
      judgeFigure(
        40 * MiB,
        [1, 2, 1, 1, 3].map((b) => b * MiB),
        "data_added",
        DEFAULT_ANOMALY_OPTIONS,
        true,
      ),
    ).toBeNull();
  });

  it("flags bytes only upwards when asked (a quiet day adds nothing)", () => {
    const added = [500, 520, 480, 510, 490].map((b) => b * MiB);
    expect(judgeFigure(0, added, "data_added", DEFAULT_ANOMALY_OPTIONS, true)).toBeNull();
    expect(judgeFigure(0, added, "data_added", DEFAULT_ANOMALY_OPTIONS, false)?.direction).toBe("low");
    expect(judgeFigure(20_000 * MiB, added, "data_added", DEFAULT_ANOMALY_OPTIONS, true)?.direction).toBe(
      "high",
    );
  });

  it("is robust: one earlier outlier does not widen the baseline enough to hide the next", () => {
    const withOutlier = [10, 10.5, 9.5, 10.2, 9.8, 240].map((m) => m * MIN);
    expect(judgeFigure(60 * MIN, withOutlier, "duration_ms")).not.toBeNull();
  });

  it("uses only the newest maxHistory records", () => {
    const old = [...Array(5).fill(10 * MIN), ...Array(30).fill(100 * MIN)];
    expect(
      judgeFigure(100 * MIN, old, "duration_ms", { ...DEFAULT_ANOMALY_OPTIONS, maxHistory: 5 }),
    ).not.toBeNull();
  });
});

describe("findStepAnomalies", () => {
  const history = [10, 11, 9, 10, 10.5].map((m, i) =>
    step({ duration_ms: m * MIN, targets: [target("local", (100 + i) * MiB), target("b2", 100 * MiB)] }),
  );

  it("checks a backup step's duration and each repository's data_added", () => {
    const current = step({
      duration_ms: 10 * MIN,
      targets: [target("local", 50_000 * MiB), target("b2", 101 * MiB)],
    });
    const found = findStepAnomalies(current, history);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      step: "local",
      type: "backup",
      repo: "local",
      figure: "data_added",
      direction: "high",
      history: 5,
    });
  });

  it("checks a mirror step's transferred bytes from its rsync summary", () => {
    const mirrors = [1, 2, 1, 1, 2].map((g) =>
      step({
        type: "mirror",
        name: "logseq",
        duration_ms: MIN,
        summary: { bytes_transferred: g * 100 * MiB },
      }),
    );
    const current = step({
      type: "mirror",
      name: "logseq",
      duration_ms: MIN,
      summary: { bytes_transferred: 90_000 * MiB },
    });
    expect(findStepAnomalies(current, mirrors)).toMatchObject([
      { figure: "bytes_transferred", direction: "high" },
    ]);
  });

  it("ignores other step types, failed records, and failed history", () => {
    expect(findStepAnomalies(step({ type: "exec", duration_ms: 500 * MIN }), history)).toEqual([]);
    expect(findStepAnomalies(step({ status: "failed", duration_ms: 500 * MIN }), history)).toEqual([]);
    const failedHistory = history.map((h) => ({ ...h, status: "failed" as const }));
    expect(findStepAnomalies(step({ duration_ms: 500 * MIN }), failedHistory)).toEqual([]);
  });
});

describe("collectRunAnomalies", () => {
  it("compares each step with its own earlier successful records, not with itself", async () => {
    const store = createMemoryStore();
    const day = (d: number) => `2026-11-${String(d).padStart(2, "0")}T03:00:00.000Z`;
    for (let d = 1; d <= 7; d++) {
      const id = `run-${d}`;
      await store.createRun({
        id,
        job: "j",
        host: "h",
        trigger: "schedule",
        pid: 1,
        started_at: day(d),
        steps: [{ name: "local", type: "backup" }],
      });
      const duration = d === 7 ? 200 * MIN : (10 + (d % 2)) * MIN;
      await store.updateStep(id, 0, {
        status: "succeeded",
        started_at: day(d),
        finished_at: new Date(Date.parse(day(d)) + duration).toISOString(),
        duration_ms: duration,
        targets: [target("local", 100 * MiB)],
      });
      await store.finishRun(id, {
        status: "succeeded",
        exit_code: 0,
        finished_at: day(d),
        duration_ms: duration,
      });
    }
    const run = await store.getRun("run-7");
    const found = await collectRunAnomalies(store, run!);
    expect(found).toMatchObject([
      { step: "local", figure: "duration_ms", value: 200 * MIN, median: 10.5 * MIN, history: 6 },
    ]);
    const calm = await collectRunAnomalies(store, (await store.getRun("run-6"))!);
    expect(calm).toEqual([]);
  });
});
