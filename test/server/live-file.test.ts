// The run's side of the live view (engine/live-file.ts): STATE/live/RUN.json written at each state
// change and at most once a second for progress, removed at the end, and never a failure of the run
// when it cannot be written.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLiveFileReporter, parseLiveFile } from "../../src/engine/live-file.js";
import type { RunRecord, RunStore, StepRecord } from "../../src/store/types.js";
import { EventBus } from "../../src/server/events.js";
import { LiveRuns } from "../../src/server/live-runs.js";
import { newStepRecord } from "../../src/store/record-rules.js";
import { makeTempDir } from "../helpers/tmp.js";

function run(): RunRecord {
  return {
    id: "01M8Z00000000000000000000A",
    job: "nightly",
    host: "h",
    trigger: "schedule",
    status: "running",
    exit_code: null,
    started_at: "2026-11-26T03:00:00.000Z",
    finished_at: null,
    duration_ms: null,
    pid: process.pid,
    error: null,
    steps: [newStepRecord(0, "data", "backup")],
    notifications: [],
  };
}

describe("the live file of a run", () => {
  it("holds the run's state, progress at most once a second, and goes at the end", () => {
    const dir = makeTempDir("holdfast-live-");
    let now = 1_000_000;
    const live = createLiveFileReporter({ stateDir: dir, now: () => now });
    const r = run();
    const file = path.join(dir, "live", `${r.id}.json`);
    live.runStarted(r);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const step = r.steps[0] as StepRecord;
    step.status = "running";
    live.stepStarted(step);
    expect(parseLiveFile(fs.readFileSync(file, "utf8"))?.steps[0]?.status).toBe("running");
    // Within the second after the last write: kept for later, not written.
    now += 200;
    live.stepProgress(step, { percent: 0.1, bytesDone: 100, bytesTotal: 1000, filesDone: 1, filesTotal: 10 });
    expect(parseLiveFile(fs.readFileSync(file, "utf8"))?.progress).toBeNull();
    now += 1000;
    live.stepProgress(step, { percent: 0.5, bytesDone: 600, bytesTotal: 1000, currentFile: "/d/x" });
    const p = parseLiveFile(fs.readFileSync(file, "utf8"))?.progress;
    expect(p).toMatchObject({ fraction: 0.5, bytes_done: 600, current_file: "/d/x", step: "data" });
    expect(p?.rate_bps).toBe(500); // 500 bytes in the last second
    live.runFinished({ ...r, status: "succeeded" });
    expect(fs.existsSync(file)).toBe(false);
    live.dispose();
  });

  it("a state dir it cannot write loses the live view, never the run", () => {
    const dir = makeTempDir("holdfast-live-ro-");
    fs.writeFileSync(path.join(dir, "live"), "a file where the directory would be");
    const errors: unknown[] = [];
    const live = createLiveFileReporter({ stateDir: dir, onError: (e) => errors.push(e) });
    const r = run();
    expect(() => {
      live.runStarted(r);
      live.stepStarted(r.steps[0] as StepRecord);
      live.stepProgress(r.steps[0] as StepRecord, { percent: 0.5 });
      live.runFinished(r);
      live.dispose();
    }).not.toThrow();
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe("the server's side: a run that comes and goes between two looks", () => {
  it("is told from the history: its start and its end, once", async () => {
    const dir = makeTempDir("holdfast-live-short-");
    const bus = new EventBus();
    const seen: Array<{ event: string; status: string | undefined; run_id: string | undefined }> = [];
    bus.subscribe((e) => {
      const { status, run_id } = e.data as { status?: string; run_id?: string };
      seen.push({ event: e.name, status, run_id });
    });
    const r = run();
    const finished: RunRecord = {
      ...r,
      status: "succeeded",
      exit_code: 0,
      finished_at: "2026-11-26T03:00:00.020Z",
      duration_ms: 20,
      steps: [{ ...newStepRecord(0, "data", "backup"), status: "succeeded" }],
    };
    // Only what LiveRuns reads of the store: the run's record.
    const store = {
      getRun: (id: string) => Promise.resolve(id === r.id ? finished : null),
    } as unknown as RunStore;
    const runs = new LiveRuns({ stateDir: dir, events: bus, store, logError: () => undefined });
    runs.start();
    try {
      // The file is written and removed before the server's watcher reads it (a 20 ms run).
      const live = createLiveFileReporter({ stateDir: dir });
      live.runStarted(r);
      live.runFinished(finished);
      live.dispose();
      const deadline = Date.now() + 3_000;
      while (!seen.some((e) => e.event === "run" && e.status === "succeeded") && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const runEvents = seen.filter((e) => e.event === "run" && e.run_id === r.id).map((e) => e.status);
      expect(runEvents).toEqual(["running", "succeeded"]);
      expect(seen.some((e) => e.event === "step" && e.status === "succeeded")).toBe(true);
      // Later events about the same vanished file (the delete, a rescan) tell nothing more.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen.filter((e) => e.event === "run" && e.status === "succeeded")).toHaveLength(1);
    } finally {
      runs.stop();
    }
  });
});
