// Which repositories a run wrote (the holdfast-meta snapshot goes only there), and the document's
// history without the old machine's log paths.
import { describe, expect, test } from "vitest";
import type { RunRecord, StepRecord, TargetRecord } from "../store/types.js";
import { buildMetaDocument, repositoriesWritten } from "./meta-snapshot.js";
import type { Config } from "../config/types.js";

function step(type: string, targets: Array<Partial<TargetRecord> & { repo: string }>): StepRecord {
  return {
    index: 0,
    name: type,
    type,
    status: "succeeded",
    started_at: null,
    finished_at: null,
    duration_ms: null,
    exit_code: 0,
    attempts: 1,
    error: null,
    summary: null,
    log_path: "/old/machine/logs/step.log.gz",
    targets: targets.map((t) => ({ status: "succeeded", duration_ms: 1, error: null, ...t })),
  };
}

function run(steps: StepRecord[]): RunRecord {
  return {
    id: "01J0000000000000000000000",
    job: "nightly",
    host: "h",
    trigger: "manual",
    status: "succeeded",
    exit_code: 0,
    started_at: "2026-12-04T00:00:00.000Z",
    finished_at: "2026-12-04T00:00:01.000Z",
    duration_ms: 1000,
    pid: 1,
    error: null,
    steps,
    notifications: [],
  };
}

describe("repositoriesWritten", () => {
  test("a new snapshot (backup, dump) or a copied one counts; unchanged, failed, forget and check do not", () => {
    const record = run([
      step("backup", [
        { repo: "a", snapshot_id: "a1" },
        { repo: "b", snapshot_id: "b1", skipped_unchanged: true },
        { repo: "c", status: "failed", snapshot_id: null },
        { repo: "w", status: "warning", snapshot_id: "w1" },
      ]),
      step("dump", [{ repo: "d", snapshot_id: "d1" }]),
      step("copy", [
        { repo: "e", snapshot_ids: ["x"] },
        { repo: "f", snapshot_ids: [] },
      ]),
      step("forget", [{ repo: "g" }]),
      step("check", [{ repo: "h" }]),
    ]);
    expect(repositoriesWritten(record).sort()).toEqual(["a", "d", "e", "w"]);
  });

  test("the exported history leaves the log paths on the old machine", () => {
    const config = {
      host: "h",
      file: "/etc/holdfast.yaml",
      state_dir: "/var/lib/holdfast",
      repositories: {},
      jobs: {},
      notifications: {},
      server: {},
      fleet: null,
    } as unknown as Config;
    const doc = buildMetaDocument(
      config,
      "version: 1\n",
      [run([step("backup", [{ repo: "a", snapshot_id: "a1" }])])],
      "0.1.0",
      new Date("2026-12-04T00:00:00Z"),
    );
    expect(doc.runs[0]!.steps[0]!.log_path).toBeNull();
    expect(doc).toMatchObject({
      format: 2,
      host: "h",
      config: "version: 1\n",
      config_path: "/etc/holdfast.yaml",
    });
  });
});
