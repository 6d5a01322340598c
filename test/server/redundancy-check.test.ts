// The 3-2-1 matrix shows, per cell, the last passed `check` of the cell's repository (a failed check
// after it changes nothing) beside the last passed restore drill.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore, StepStatus } from "../../src/store/types.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

async function checkRun(store: RunStore, id: string, at: string, status: StepStatus): Promise<void> {
  await store.createRun({
    id,
    job: "weekly",
    host: "h",
    trigger: "schedule",
    pid: 1,
    started_at: at,
    steps: [{ name: "check", type: "check" }],
  });
  await store.updateStep(id, 0, { status: "running", started_at: at });
  await store.updateStep(id, 0, {
    status,
    finished_at: at,
    duration_ms: 1000,
    targets: [{ repo: "local", status, duration_ms: 1000, error: null }],
  });
  await store.finishRun(id, {
    status: status === "succeeded" ? "succeeded" : "failed",
    exit_code: status === "succeeded" ? 0 : 1,
    finished_at: at,
    duration_ms: 1000,
  });
}

describe("the matrix's last passed check", () => {
  it("is the newest passed check of the repository, in every source's cell of it", async () => {
    const dir = makeTempDir("holdfast-matrix-check-");
    const config = loadConfigFile(
      writeConfig(
        dir,
        `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${path.join(dir, "repo")}, password_file: ${path.join(dir, "pw")} }
  other: { url: ${path.join(dir, "repo2")}, password_file: ${path.join(dir, "pw")} }
sources:
  a: { paths: [${dir}/a] }
  b: { paths: [${dir}/b] }
jobs:
  nightly:
    steps:
      - { name: a, type: backup, source: a, repos: [local, other] }
      - { name: b, type: backup, source: b, repos: [local] }
  weekly:
    steps:
      - { name: check, type: check, repos: [local] }
`,
      ),
    );
    const store = createMemoryStore();
    await checkRun(store, "01M8Z000000000000000000001", "2026-11-20T03:00:00.000Z", "succeeded");
    await checkRun(store, "01M8Z000000000000000000002", "2026-11-25T03:00:00.000Z", "succeeded");
    await checkRun(store, "01M8Z000000000000000000003", "2026-11-26T03:00:00.000Z", "failed");
    const m = await computeRedundancy(config, store, new Date("2026-11-26T12:00:00Z"));
    const cell = (source: string, repo: string) =>
      m.sources.find((s) => s.source === source)?.cells.find((c) => c.repo === repo);
    expect(cell("a", "local")?.last_check_at).toBe("2026-11-25T03:00:00.000Z");
    expect(cell("b", "local")?.last_check_at).toBe("2026-11-25T03:00:00.000Z");
    expect(cell("a", "other")?.last_check_at).toBeNull();
    expect(cell("a", "local")?.last_verified_at).toBeNull();
    await store.close();
  });
});
