// The RunStore contract: every store (memory, SQLite, and any future driver) runs this one suite, so
// they cannot disagree on ordering, merging, "latest" or interruption semantics.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import type {
  NewRun,
  NotificationRecord,
  RunRecord,
  RunStatus,
  RunStore,
  StepRecord,
  TargetRecord,
} from "../../src/store/types.js";

export interface StoreHandle {
  store: RunStore;
  cleanup(): Promise<void>;
}

/** 2026-11-26T03:00:00Z plus the given minutes, as the engine writes it (toISOString). */
export function at(minutes: number): string {
  return new Date(Date.UTC(2026, 10, 26, 3, 0, 0) + minutes * 60_000).toISOString();
}

export function newRun(id: string, job: string, startedAt: string, steps = ["hello", "local"]): NewRun {
  return {
    id,
    job,
    host: "vm",
    trigger: "manual",
    pid: 4242,
    started_at: startedAt,
    steps: steps.map((name) => ({ name, type: name === "local" ? "backup" : "exec" })),
  };
}

function pendingStep(index: number, name: string, type: string): StepRecord {
  return {
    index,
    name,
    type,
    status: "pending",
    started_at: null,
    finished_at: null,
    duration_ms: null,
    exit_code: null,
    attempts: 0,
    error: null,
    summary: null,
    targets: [],
    log_path: null,
  };
}

const target: TargetRecord = {
  repo: "local",
  status: "succeeded",
  duration_ms: 41230,
  error: null,
  snapshot_id: "c6075084",
  files_new: 215,
  data_added: 296536447,
};

export function describeRunStoreContract(name: string, makeStore: () => Promise<StoreHandle>): void {
  describe(`RunStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: RunStore;

    beforeEach(async () => {
      handle = await makeStore();
      store = handle.store;
    });

    afterEach(async () => {
      await handle.cleanup();
    });

    /** A finished run: every step succeeded (or as given), in one call per state change like the engine. */
    async function recordRun(
      id: string,
      job: string,
      startMinute: number,
      status: RunStatus = "succeeded",
      steps = ["hello", "local"],
    ): Promise<void> {
      await store.createRun(newRun(id, job, at(startMinute), steps));
      const stepStatus = status === "warning" ? "warning" : status === "failed" ? "failed" : "succeeded";
      for (const [index] of steps.entries()) {
        await store.updateStep(id, index, {
          status: "running",
          started_at: at(startMinute + index),
          attempts: 1,
        });
        await store.updateStep(id, index, {
          status: stepStatus,
          finished_at: at(startMinute + index + 0.5),
          duration_ms: 30_000,
          exit_code: stepStatus === "failed" ? 1 : 0,
        });
      }
      await store.finishRun(id, {
        status,
        exit_code: status === "succeeded" ? 0 : status === "warning" ? 3 : 1,
        finished_at: at(startMinute + steps.length),
        duration_ms: steps.length * 60_000,
      });
    }

    describe("createRun and getRun", () => {
      it("records a running run with every step pending", async () => {
        await store.createRun(newRun("01A", "backup-job", at(0)));
        const run = await store.getRun("01A");
        expect(run).toEqual<RunRecord>({
          id: "01A",
          job: "backup-job",
          host: "vm",
          trigger: "manual",
          status: "running",
          exit_code: null,
          started_at: at(0),
          finished_at: null,
          duration_ms: null,
          pid: 4242,
          error: null,
          steps: [pendingStep(0, "hello", "exec"), pendingStep(1, "local", "backup")],
          notifications: [],
        });
      });

      it("returns null for an unknown run", async () => {
        expect(await store.getRun("nope")).toBeNull();
      });

      it("refuses a second run with the same id and keeps the first", async () => {
        await store.createRun(newRun("01A", "backup-job", at(0)));
        await expect(store.createRun(newRun("01A", "other", at(5), ["x"]))).rejects.toBeInstanceOf(
          StoreError,
        );
        const run = await store.getRun("01A");
        expect(run?.job).toBe("backup-job");
        expect(run?.steps).toHaveLength(2);
      });

      it("refuses a start time that is not an ISO time, recording nothing", async () => {
        await expect(store.createRun(newRun("01A", "j", "yesterday"))).rejects.toBeInstanceOf(StoreError);
        expect(await store.getRun("01A")).toBeNull();
        expect(await store.countRuns()).toBe(0);
      });

      it("records a run without steps", async () => {
        await store.createRun(newRun("01A", "j", at(0), []));
        expect((await store.getRun("01A"))?.steps).toEqual([]);
      });
    });

    describe("updateStep", () => {
      it("merges each patch into the step, keeping fields the patch leaves out", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await store.updateStep("01A", 1, {
          status: "running",
          started_at: at(1),
          attempts: 1,
          log_path: "/l/1.log",
        });
        await store.updateStep("01A", 1, {
          status: "succeeded",
          finished_at: at(2),
          duration_ms: 60_000,
          exit_code: 0,
          summary: { files_new: 3, note: "ok" },
          targets: [target],
          log_path: "/l/1.log.gz",
        });
        const run = await store.getRun("01A");
        expect(run?.steps[1]).toEqual<StepRecord>({
          index: 1,
          name: "local",
          type: "backup",
          status: "succeeded",
          started_at: at(1),
          finished_at: at(2),
          duration_ms: 60_000,
          exit_code: 0,
          attempts: 1,
          error: null,
          summary: { files_new: 3, note: "ok" },
          targets: [target],
          log_path: "/l/1.log.gz",
        });
        expect(run?.steps[0]).toEqual(pendingStep(0, "hello", "exec"));
        expect(run?.status).toBe("running");
      });

      it("replaces summary and targets whole, and sets error back to null when asked", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await store.updateStep("01A", 0, {
          status: "failed",
          error: { kind: "network", message: "unreachable", hint: null },
          summary: { a: 1, b: 2 },
          targets: [target, { ...target, repo: "b2" }],
        });
        await store.updateStep("01A", 0, { status: "running", error: null, summary: { c: 3 }, targets: [] });
        const step = (await store.getRun("01A"))?.steps[0];
        expect(step?.error).toBeNull();
        expect(step?.summary).toEqual({ c: 3 });
        expect(step?.targets).toEqual([]);
      });

      it("ignores fields a JS caller passes as undefined, and never changes index, name or type", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await store.updateStep("01A", 0, { status: "running", started_at: at(0), attempts: 2 });
        const sneaky = { status: undefined, attempts: undefined, name: "renamed", index: 7, type: "git" };
        await store.updateStep("01A", 0, sneaky as unknown as Parameters<RunStore["updateStep"]>[2]);
        const step = (await store.getRun("01A"))?.steps[0];
        expect(step).toMatchObject({ index: 0, name: "hello", type: "exec", status: "running", attempts: 2 });
      });

      it("fails with a StoreError for an unknown run or step", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await expect(store.updateStep("nope", 0, { status: "running" })).rejects.toBeInstanceOf(StoreError);
        await expect(store.updateStep("01A", 2, { status: "running" })).rejects.toBeInstanceOf(StoreError);
      });

      it("refuses a started_at that is not an ISO time and leaves the step unchanged", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await expect(
          store.updateStep("01A", 0, { status: "running", started_at: "soon" }),
        ).rejects.toBeInstanceOf(StoreError);
        expect((await store.getRun("01A"))?.steps[0]?.status).toBe("pending");
      });
    });

    describe("finishRun", () => {
      it("sets status, exit code, end and duration, keeping the run error unless one is given", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        await store.finishRun("01A", {
          status: "failed",
          exit_code: 1,
          finished_at: at(3),
          duration_ms: 180_000,
          error: { kind: "internal", message: "bug", hint: "see the trace" },
        });
        await store.finishRun("01A", {
          status: "failed",
          exit_code: 1,
          finished_at: at(4),
          duration_ms: 240_000,
        });
        let run = await store.getRun("01A");
        expect(run).toMatchObject({
          status: "failed",
          exit_code: 1,
          finished_at: at(4),
          duration_ms: 240_000,
        });
        expect(run?.error).toEqual({ kind: "internal", message: "bug", hint: "see the trace" });

        await store.finishRun("01A", {
          status: "failed",
          exit_code: 1,
          finished_at: at(4),
          duration_ms: 1,
          error: null,
        });
        run = await store.getRun("01A");
        expect(run?.error).toBeNull();
      });

      it("fails with a StoreError for an unknown run", async () => {
        await expect(
          store.finishRun("nope", { status: "succeeded", exit_code: 0, finished_at: at(1), duration_ms: 1 }),
        ).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe("addNotification", () => {
      it("appends notifications in order", async () => {
        await store.createRun(newRun("01A", "j", at(0)));
        const first: NotificationRecord = {
          notifier: "ntfy",
          event: "failure",
          ok: true,
          at: at(1),
          attempts: 1,
          error: null,
        };
        const second: NotificationRecord = {
          notifier: "mail",
          event: "failure",
          ok: false,
          at: at(2),
          attempts: 3,
          error: "connection refused",
        };
        await store.addNotification("01A", first);
        await store.addNotification("01A", second);
        expect((await store.getRun("01A"))?.notifications).toEqual([first, second]);
      });

      it("fails with a StoreError for an unknown run", async () => {
        await expect(
          store.addNotification("nope", {
            notifier: "n",
            event: "e",
            ok: true,
            at: at(0),
            attempts: 1,
            error: null,
          }),
        ).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe("listRuns", () => {
      beforeEach(async () => {
        // Started out of id order, so that sorting by id alone would give the wrong answer.
        await recordRun("r1", "a", 10, "succeeded");
        await recordRun("r5", "b", 20, "failed");
        await recordRun("r2", "a", 30, "warning");
        await recordRun("r4", "b", 40, "succeeded");
        await recordRun("r3", "a", 50, "failed");
        await store.createRun(newRun("r6", "a", at(60)));
      });

      const ids = (runs: RunRecord[]) => runs.map((r) => r.id);

      it("lists newest first, with steps and notifications", async () => {
        const runs = await store.listRuns({ limit: 100 });
        expect(ids(runs)).toEqual(["r6", "r3", "r4", "r2", "r5", "r1"]);
        expect(runs[1]?.steps.map((s) => s.status)).toEqual(["failed", "failed"]);
        expect(runs[0]?.steps.map((s) => s.status)).toEqual(["pending", "pending"]);
        expect(runs.every((r) => Array.isArray(r.notifications))).toBe(true);
      });

      it("stops at the limit", async () => {
        expect(ids(await store.listRuns({ limit: 2 }))).toEqual(["r6", "r3"]);
        expect(await store.listRuns({ limit: 0 })).toEqual([]);
        expect(await store.listRuns({ limit: -1 })).toEqual([]);
      });

      it("filters by job, by status, and by both", async () => {
        expect(ids(await store.listRuns({ job: "a", limit: 10 }))).toEqual(["r6", "r3", "r2", "r1"]);
        expect(ids(await store.listRuns({ job: "b", limit: 10 }))).toEqual(["r4", "r5"]);
        expect(ids(await store.listRuns({ status: "failed", limit: 10 }))).toEqual(["r3", "r5"]);
        expect(ids(await store.listRuns({ job: "a", status: "failed", limit: 10 }))).toEqual(["r3"]);
        expect(ids(await store.listRuns({ job: "a", status: "running", limit: 10 }))).toEqual(["r6"]);
        expect(await store.listRuns({ job: "nobody", limit: 10 })).toEqual([]);
      });

      it("pages with the `before` cursor, exclusive, combined with the filters", async () => {
        expect(ids(await store.listRuns({ before: at(40), limit: 10 }))).toEqual(["r2", "r5", "r1"]);
        expect(ids(await store.listRuns({ before: at(40), job: "a", limit: 10 }))).toEqual(["r2", "r1"]);
        expect(ids(await store.listRuns({ before: at(60), status: "failed", job: "a", limit: 10 }))).toEqual([
          "r3",
        ]);

        expect(ids(await store.listRuns({ before_run: "r4", limit: 10 }))).toEqual(["r2", "r5", "r1"]);
        expect(ids(await store.listRuns({ before_run: "r4", job: "a", limit: 10 }))).toEqual(["r2", "r1"]);

        const seen: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.listRuns(
            cursor === undefined ? { limit: 4 } : { limit: 4, before_run: cursor },
          );
          if (page.length === 0) break;
          seen.push(...ids(page));
          cursor = page[page.length - 1]?.id;
        }
        expect(seen).toEqual(["r6", "r3", "r4", "r2", "r5", "r1"]);
      });

      it("refuses a time filter that is not a time and a cursor that is no run", async () => {
        await expect(store.listRuns({ before: "last week", limit: 1 })).rejects.toBeInstanceOf(StoreError);
        await expect(store.listRuns({ before_run: "nope", limit: 1 })).rejects.toBeInstanceOf(StoreError);
      });
    });

    // Issue 12 item 9: clocks step and drift, so "newest" is the order of recording (createRun calls),
    // never the order of started_at. Every driver keeps its own monotonic sequence for it.
    describe("ordering by recording, not by clock time", () => {
      it("lists runs in the reverse order they were recorded, whatever their dates", async () => {
        await store.createRun(newRun("x1", "j", "2026-11-26T03:00:00Z"));
        // A clock 400 days ahead, then one an hour behind the first.
        await store.createRun(newRun("x2", "j", "2027-12-31T03:00:00.500Z"));
        await store.createRun(newRun("x3", "j", "2026-11-26T04:00:00+03:00"));
        expect((await store.listRuns({ limit: 10 })).map((r) => r.id)).toEqual(["x3", "x2", "x1"]);
        expect((await store.listRuns({ job: "j", limit: 1 })).map((r) => r.id)).toEqual(["x3"]);
        expect((await store.jobSummaries(["j"]))[0]?.last_run?.id).toBe("x3");
        expect(await store.findRunIds("x", 10)).toEqual(["x3", "x2", "x1"]);
        expect((await store.runningRuns()).map((r) => r.id)).toEqual(["x3", "x2", "x1"]);
      });

      it("orders runs with the same start time as recorded", async () => {
        await store.createRun(newRun("01B", "j", at(0)));
        await store.createRun(newRun("01C", "j", at(0)));
        await store.createRun(newRun("01A", "j", at(0)));
        expect((await store.listRuns({ limit: 10 })).map((r) => r.id)).toEqual(["01A", "01C", "01B"]);
        expect(await store.findRunIds("01", 10)).toEqual(["01A", "01C", "01B"]);
      });

      it("does not let a failure recorded with a clock behind hide behind the earlier success", async () => {
        await recordRun("ok", "a", 60, "succeeded");
        await recordRun("bad", "a", 0, "failed");
        const [a] = await store.jobSummaries(["a"]);
        expect(a?.last_run?.id).toBe("bad");
        expect(a?.last_failure_at).toBe(at(2));
        expect(a?.last_success_at).toBe(at(62));
        expect(a?.steps.map((st) => [st.name, st.run_id, st.status])).toEqual([
          ["hello", "bad", "failed"],
          ["local", "bad", "failed"],
        ]);
        expect((await store.listRuns({ status: "failed", limit: 1 })).map((r) => r.id)).toEqual(["bad"]);
      });

      it("lets a later success replace one dated 400 days ahead", async () => {
        await recordRun("ahead", "a", 400 * 24 * 60, "succeeded");
        await recordRun("now", "a", 10, "warning");
        const [a] = await store.jobSummaries(["a"]);
        expect(a?.last_run?.id).toBe("now");
        expect(a?.last_success_at).toBe(at(12));
        expect((await store.stepHistory("a", "local", 10)).map((st) => st.started_at)).toEqual([
          at(11),
          at(400 * 24 * 60 + 1),
        ]);
      });
    });

    describe("findRunIds and countRuns", () => {
      beforeEach(async () => {
        await store.createRun(newRun("01J8AAA", "a", at(0)));
        await store.createRun(newRun("01J8AAB", "b", at(2)));
        await store.createRun(newRun("01J8B", "a", at(1)));
        await store.createRun(newRun("01K0", "a", at(3)));
        await store.createRun(newRun("01J8%", "a", at(4)));
      });

      it("finds ids by prefix, newest first, at most `limit`", async () => {
        expect(await store.findRunIds("01J8A", 10)).toEqual(["01J8AAB", "01J8AAA"]);
        expect(await store.findRunIds("01J8", 10)).toEqual(["01J8%", "01J8B", "01J8AAB", "01J8AAA"]);
        expect(await store.findRunIds("01J8", 2)).toEqual(["01J8%", "01J8B"]);
        expect(await store.findRunIds("01J8AAA", 10)).toEqual(["01J8AAA"]);
        expect(await store.findRunIds("02", 10)).toEqual([]);
      });

      it("takes the prefix literally (no LIKE wildcards)", async () => {
        expect(await store.findRunIds("01J8%", 10)).toEqual(["01J8%"]);
        expect(await store.findRunIds("01J_", 10)).toEqual([]);
      });

      it("counts all runs or one job's", async () => {
        expect(await store.countRuns()).toBe(5);
        expect(await store.countRuns("a")).toBe(4);
        expect(await store.countRuns("b")).toBe(1);
        expect(await store.countRuns("c")).toBe(0);
      });
    });

    describe("jobSummaries", () => {
      it("gives an empty summary for a job without runs, one summary per job asked, in order", async () => {
        await recordRun("r1", "a", 0);
        const summaries = await store.jobSummaries(["never", "a"]);
        expect(summaries.map((s) => s.job)).toEqual(["never", "a"]);
        expect(summaries[0]).toEqual({
          job: "never",
          last_run: null,
          last_success_at: null,
          last_failure_at: null,
          steps: [],
        });
      });

      it("gives the last run with its steps, the last success (succeeded or warning) and the last failure", async () => {
        await recordRun("r1", "a", 0, "succeeded");
        await recordRun("r2", "a", 10, "failed");
        await recordRun("r3", "a", 20, "warning");
        await recordRun("r4", "a", 30, "cancelled");
        await recordRun("b1", "b", 40, "succeeded");
        await store.createRun(newRun("r5", "a", at(50)));
        await store.markInterrupted("r5", at(51));

        const [a, b] = await store.jobSummaries(["a", "b"]);
        expect(a?.last_run?.id).toBe("r5");
        expect(a?.last_run?.status).toBe("interrupted");
        expect(a?.last_run?.steps).toHaveLength(2);
        // finished_at of the run: r3 (warning) finished at minute 22, r2 (failed) at minute 12.
        expect(a?.last_success_at).toBe(at(22));
        expect(a?.last_failure_at).toBe(at(12));
        expect(b?.last_success_at).toBe(at(42));
        expect(b?.last_failure_at).toBeNull();
        expect(b?.last_run).toEqual(await store.getRun("b1"));
      });

      it("counts a succeeded run as the last success when it is newer than a warning", async () => {
        await recordRun("r1", "a", 0, "warning");
        await recordRun("r2", "a", 10, "succeeded");
        await recordRun("r3", "a", 20, "failed");
        const [a] = await store.jobSummaries(["a"]);
        expect(a?.last_success_at).toBe(at(12));
        expect(a?.last_failure_at).toBe(at(22));
      });

      it("takes the later recorded of a success and a warning with the same start, like listRuns", async () => {
        await recordRun("s2", "a", 0, "warning", ["hello"]);
        await recordRun("s1", "a", 0, "succeeded", ["hello", "local"]);
        const [a] = await store.jobSummaries(["a"]);
        expect(a?.last_run?.id).toBe("s1");
        expect(a?.last_success_at).toBe(at(2));
      });

      it("keeps per step name the latest started record across runs; pending never hides a result", async () => {
        await recordRun("r1", "a", 0, "succeeded", ["hello", "local"]);
        await store.createRun(newRun("r2", "a", at(10), ["hello", "local"]));
        // A pending step may be patched (its log path, an attempt count) before it has a result.
        await store.updateStep("r2", 1, { log_path: "/logs/r2/local.log", attempts: 0 });
        let [a] = await store.jobSummaries(["a"]);
        // r2's steps are pending: the results of r1 still stand.
        expect(a?.steps.map((s) => [s.name, s.run_id, s.status])).toEqual([
          ["hello", "r1", "succeeded"],
          ["local", "r1", "succeeded"],
        ]);

        await store.updateStep("r2", 0, { status: "running", started_at: at(10) });
        [a] = await store.jobSummaries(["a"]);
        expect(a?.steps[0]).toMatchObject({
          name: "hello",
          run_id: "r2",
          status: "running",
          started_at: at(10),
        });
        expect(a?.steps[1]).toMatchObject({ name: "local", run_id: "r1", status: "succeeded" });

        await store.updateStep("r2", 0, {
          status: "failed",
          finished_at: at(11),
          duration_ms: 60_000,
          error: { kind: "exit_code", message: "exit 1", hint: null },
        });
        await store.updateStep("r2", 1, { status: "skipped" });
        [a] = await store.jobSummaries(["a"]);
        expect(a?.steps).toEqual([
          {
            name: "hello",
            type: "exec",
            run_id: "r2",
            status: "failed",
            started_at: at(10),
            finished_at: at(11),
            duration_ms: 60_000,
            error: { kind: "exit_code", message: "exit 1", hint: null },
          },
          {
            name: "local",
            type: "backup",
            run_id: "r2",
            status: "skipped",
            started_at: null,
            finished_at: null,
            duration_ms: null,
            error: null,
          },
        ]);
      });

      it("does not let a run recorded earlier replace the step results of a later one", async () => {
        // An older run finishing (or being cleaned up) after a newer one must not become "latest".
        await store.createRun(newRun("old", "a", at(0), ["hello"]));
        await recordRun("new", "a", 20, "succeeded", ["hello"]);
        await store.updateStep("old", 0, { status: "running", started_at: at(0) });
        await store.updateStep("old", 0, { status: "failed", finished_at: at(1) });
        const [a] = await store.jobSummaries(["a"]);
        expect(a?.steps).toHaveLength(1);
        expect(a?.steps[0]).toMatchObject({ run_id: "new", status: "succeeded" });
        expect(a?.last_run?.id).toBe("new");
      });

      it("keeps steps of other names and other jobs apart", async () => {
        await recordRun("r1", "a", 0, "succeeded", ["hello", "old-name"]);
        await recordRun("r2", "a", 10, "succeeded", ["hello", "local"]);
        await recordRun("b1", "b", 20, "failed", ["hello"]);
        const [a, b] = await store.jobSummaries(["a", "b"]);
        expect(a?.steps.map((s) => [s.name, s.run_id])).toEqual([
          ["hello", "r2"],
          ["local", "r2"],
          ["old-name", "r1"],
        ]);
        expect(b?.steps.map((s) => [s.name, s.run_id, s.status])).toEqual([["hello", "b1", "failed"]]);
      });
    });

    describe("runningRuns", () => {
      it("lists only runs still running, with their owner", async () => {
        await recordRun("done", "a", 0);
        await store.createRun({ ...newRun("live", "b", at(5)), pid: 77, host: "nas" });
        expect(await store.runningRuns()).toEqual([
          { id: "live", job: "b", host: "nas", pid: 77, started_at: at(5) },
        ]);
        await store.markInterrupted("live", at(6));
        expect(await store.runningRuns()).toEqual([]);
      });
    });

    describe("markInterrupted", () => {
      beforeEach(async () => {
        await store.createRun(newRun("r1", "a", at(0), ["hello", "local", "forget"]));
        await store.updateStep("r1", 0, { status: "running", started_at: at(0) });
        await store.updateStep("r1", 0, { status: "succeeded", finished_at: at(1), duration_ms: 60_000 });
        await store.updateStep("r1", 1, {
          status: "running",
          started_at: at(1),
          attempts: 1,
          targets: [
            { ...target, status: "succeeded" },
            { repo: "b2", status: "running", duration_ms: null, error: null },
            { repo: "c", status: "pending", duration_ms: null, error: null },
          ],
        });
      });

      it("ends the run interrupted: the running step cancelled with the reason, pending steps skipped", async () => {
        await store.markInterrupted("r1", at(5));
        const run = await store.getRun("r1");
        expect(run).toMatchObject({
          status: "interrupted",
          exit_code: null,
          finished_at: at(5),
          duration_ms: 300_000,
        });
        expect(run?.error?.kind).toBe("cancelled");
        expect(run?.error?.message).toMatch(/4242/);

        const [hello, local, forget] = run?.steps ?? [];
        expect(hello).toMatchObject({ status: "succeeded", finished_at: at(1), error: null });
        expect(local).toMatchObject({
          status: "cancelled",
          started_at: at(1),
          finished_at: at(5),
          duration_ms: 240_000,
        });
        expect(local?.error).toEqual({
          kind: "cancelled",
          message: "holdfast was killed while this step ran",
          hint: expect.stringMatching(/unlock/) as unknown,
        });
        expect(local?.targets.map((t) => t.status)).toEqual(["succeeded", "cancelled", "skipped"]);
        expect(local?.targets[1]?.error?.kind).toBe("cancelled");
        expect(forget).toMatchObject({ status: "skipped", started_at: null, finished_at: null, error: null });

        const [summary] = await store.jobSummaries(["a"]);
        expect(summary?.steps.map((s) => [s.name, s.status])).toEqual([
          ["hello", "succeeded"],
          ["local", "cancelled"],
          ["forget", "skipped"],
        ]);
        expect(summary?.last_failure_at).toBeNull();
        expect(summary?.last_success_at).toBeNull();
      });

      it("changes nothing on a second call or on a finished run", async () => {
        await store.markInterrupted("r1", at(5));
        const first = await store.getRun("r1");
        await store.markInterrupted("r1", at(9));
        expect(await store.getRun("r1")).toEqual(first);

        await recordRun("r2", "a", 20);
        const finished = await store.getRun("r2");
        await store.markInterrupted("r2", at(30));
        expect(await store.getRun("r2")).toEqual(finished);
      });

      it("keeps a run error already recorded", async () => {
        await store.createRun(newRun("r3", "a", at(10), []));
        await store.finishRun("r3", {
          status: "running",
          exit_code: null,
          finished_at: at(10),
          duration_ms: 0,
          error: { kind: "internal", message: "first", hint: null },
        });
        await store.markInterrupted("r3", at(12));
        expect((await store.getRun("r3"))?.error).toEqual({ kind: "internal", message: "first", hint: null });
      });

      it("does not let an old run's cleanup replace newer step results", async () => {
        await recordRun("r2", "a", 20, "succeeded", ["hello", "local", "forget"]);
        await store.markInterrupted("r1", at(30));
        const [summary] = await store.jobSummaries(["a"]);
        expect(summary?.steps.map((s) => [s.name, s.run_id, s.status])).toEqual([
          ["hello", "r2", "succeeded"],
          ["local", "r2", "succeeded"],
          ["forget", "r2", "succeeded"],
        ]);
      });

      it("fails with a StoreError for an unknown run", async () => {
        await expect(store.markInterrupted("nope", at(1))).rejects.toBeInstanceOf(StoreError);
      });
    });

    describe("stepHistory", () => {
      it("gives only succeeded and warning records of that job and step, newest first", async () => {
        await recordRun("r1", "a", 0, "succeeded");
        await recordRun("r2", "a", 10, "failed");
        await recordRun("r3", "a", 20, "warning");
        await recordRun("b1", "b", 30, "succeeded");
        await recordRun("r4", "a", 40, "succeeded");
        await store.createRun(newRun("r5", "a", at(50)));
        await store.updateStep("r5", 1, { status: "running", started_at: at(50) });

        const history = await store.stepHistory("a", "local", 10);
        expect(history.map((s) => [s.started_at, s.status])).toEqual([
          [at(41), "succeeded"],
          [at(21), "warning"],
          [at(1), "succeeded"],
        ]);
        expect(history[0]).toMatchObject({ index: 1, name: "local", type: "backup", duration_ms: 30_000 });
        expect((await store.stepHistory("a", "local", 2)).map((s) => s.started_at)).toEqual([at(41), at(21)]);
        expect(await store.stepHistory("a", "nothing", 10)).toEqual([]);
        expect(await store.stepHistory("c", "local", 10)).toEqual([]);
      });
    });

    describe("state", () => {
      it("gets, sets, overwrites and deletes (null) values", async () => {
        expect(await store.getState("stale:a")).toBeNull();
        await store.setState("stale:a", "2026-11-26T03:00:00.000Z");
        await store.setState("drill:a", "x");
        expect(await store.getState("stale:a")).toBe("2026-11-26T03:00:00.000Z");
        await store.setState("stale:a", "");
        expect(await store.getState("stale:a")).toBe("");
        await store.setState("stale:a", null);
        expect(await store.getState("stale:a")).toBeNull();
        expect(await store.getState("drill:a")).toBe("x");
        await store.setState("never-set", null);
        expect(await store.getState("never-set")).toBeNull();
      });
    });

    describe("isolation", () => {
      it("keeps no reference to what callers pass in", async () => {
        const input = newRun("r1", "a", at(0));
        await store.createRun(input);
        input.steps.push({ name: "evil", type: "exec" });
        input.job = "changed";

        const targets: TargetRecord[] = [{ ...target }];
        const summary: Record<string, unknown> = { nested: { n: 1 } };
        const error = { kind: "network" as const, message: "m", hint: null };
        await store.updateStep("r1", 1, { status: "failed", targets, summary, error });
        targets.push({ ...target, repo: "extra" });
        (targets[0] as TargetRecord).repo = "mutated";
        (summary.nested as { n: number }).n = 2;
        error.message = "mutated";

        const notification: NotificationRecord = {
          notifier: "n",
          event: "e",
          ok: true,
          at: at(1),
          attempts: 1,
          error: null,
        };
        await store.addNotification("r1", notification);
        notification.ok = false;

        const run = await store.getRun("r1");
        expect(run?.job).toBe("a");
        expect(run?.steps).toHaveLength(2);
        expect(run?.steps[1]?.targets).toEqual([target]);
        expect(run?.steps[1]?.summary).toEqual({ nested: { n: 1 } });
        expect(run?.steps[1]?.error?.message).toBe("m");
        expect(run?.notifications[0]?.ok).toBe(true);
      });

      it("hands out copies that callers may change freely", async () => {
        await recordRun("r1", "a", 0);
        await store.addNotification("r1", {
          notifier: "n",
          event: "e",
          ok: true,
          at: at(1),
          attempts: 1,
          error: null,
        });
        const pristine = await store.getRun("r1");

        const got = await store.getRun("r1");
        got!.status = "failed";
        got!.steps[0]!.status = "failed";
        got!.steps[0]!.targets.push(target);
        got!.notifications[0]!.ok = false;
        const listed = await store.listRuns({ limit: 1 });
        listed[0]!.steps.pop();
        const [summary] = await store.jobSummaries(["a"]);
        summary!.last_run!.steps.length = 0;
        summary!.steps[0]!.status = "failed";
        const history = await store.stepHistory("a", "hello", 1);
        history[0]!.duration_ms = -1;

        expect(await store.getRun("r1")).toEqual(pristine);
        const [again] = await store.jobSummaries(["a"]);
        expect(again?.steps[0]?.status).toBe("succeeded");
        expect(again?.last_run).toEqual(pristine);
        expect((await store.stepHistory("a", "hello", 1))[0]?.duration_ms).toBe(30_000);
      });
    });

    describe("close", () => {
      it("rejects calls after close with a StoreError", async () => {
        await store.close();
        await expect(store.getRun("x")).rejects.toBeInstanceOf(StoreError);
        await expect(store.createRun(newRun("x", "a", at(0)))).rejects.toBeInstanceOf(StoreError);
        await store.close();
      });
    });
  });
}
