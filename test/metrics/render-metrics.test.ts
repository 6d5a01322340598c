import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { stepError } from "../../src/errors.js";
import type { TargetRecord } from "../../src/store/types.js";
import { renderMetrics } from "../../src/metrics/render-metrics.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { loadTestConfig, recordRun } from "../notify/fixtures.js";

const config = loadTestConfig(`
version: 1
state_dir: /tmp/holdfast-metrics-test
repositories:
  local: { url: /tmp/holdfast-metrics-test/repo, password_file: /tmp/holdfast-metrics-test/pass }
  b2: { url: /tmp/holdfast-metrics-test/repo2, password_file: /tmp/holdfast-metrics-test/pass, offsite: true }
sources:
  home: { paths: [/srv/home] }
jobs:
  nightly:
    max_age: 26h
    schedule: "*-*-* 03:00:00"
    steps:
      - { name: hello, type: exec, command: [echo, hi] }
      - { name: snap, type: backup, source: home, repos: [local, b2] }
      - { name: drill, type: verify, source: home, repos: [local], sample: 5 }
  idle:
    steps: [{ name: hello, type: exec, command: [echo, hi] }]
`);

const target = (
  repo: string,
  status: "succeeded" | "failed",
  added: number,
  durationMs: number,
): TargetRecord => ({
  repo,
  status,
  duration_ms: durationMs,
  error: status === "failed" ? stepError("network", "down", null) : null,
  snapshot_id: status === "failed" ? null : `snap-${repo}-${added}`,
  files_new: 7,
  files_changed: 3,
  files_unmodified: 90,
  data_added: added,
  total_files_processed: 100,
  total_bytes_processed: 123_456_789,
});

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{${labels}} `) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("renderMetrics", () => {
  it("exposes jobs, steps, backup targets and repository × source figures from the history", async () => {
    const store = createMemoryStore();
    const t1 = "2026-11-20T03:00:00.000Z";
    await recordRun(store, "nightly", "succeeded", {
      startedAt: t1,
      steps: [
        { name: "hello", type: "exec", status: "succeeded" },
        {
          name: "snap",
          type: "backup",
          status: "succeeded",
          targets: [target("local", "succeeded", 1000, 5_000), target("b2", "succeeded", 2000, 9_000)],
        },
        { name: "drill", type: "verify", status: "succeeded" },
      ],
    });
    await store.setState("drill:local:home", "2026-11-20T03:05:00.000Z");
    // The next run: b2 fails, so the step fails; local still made a snapshot.
    const t2 = "2026-11-21T03:00:00.000Z";
    await recordRun(store, "nightly", "failed", {
      startedAt: t2,
      steps: [
        { name: "hello", type: "exec", status: "succeeded" },
        {
          name: "snap",
          type: "backup",
          status: "failed",
          targets: [target("local", "succeeded", 3000, 4_000), target("b2", "failed", 0, 1_000)],
        },
        { name: "drill", type: "verify", status: "skipped" },
      ],
    });
    const now = new Date("2026-11-21T04:00:00.000Z");
    const text = await renderMetrics(config, store, now);

    expect(sample(text, "holdfast_job_last_run_status", 'job="nightly",status="failed"')).toBe(1);
    expect(sample(text, "holdfast_job_last_run_status", 'job="nightly",status="succeeded"')).toBe(0);
    expect(sample(text, "holdfast_job_last_run_status", 'job="idle",status="succeeded"')).toBe(0);
    expect(sample(text, "holdfast_job_state", 'job="nightly",state="failed"')).toBe(1);
    expect(sample(text, "holdfast_job_state", 'job="idle",state="never"')).toBe(1);
    expect(sample(text, "holdfast_job_last_run_start_timestamp_seconds", 'job="nightly"')).toBe(
      Date.parse(t2) / 1000,
    );
    expect(sample(text, "holdfast_job_last_run_duration_seconds", 'job="nightly"')).toBe(60);
    expect(sample(text, "holdfast_job_last_success_timestamp_seconds", 'job="nightly"')).toBe(
      Date.parse(t1) / 1000 + 60,
    );
    expect(sample(text, "holdfast_job_stale", 'job="nightly"')).toBe(0);
    expect(sample(text, "holdfast_job_running", 'job="nightly"')).toBe(0);
    expect(sample(text, "holdfast_job_max_age_seconds", 'job="nightly"')).toBe(26 * 3600);
    expect(sample(text, "holdfast_job_next_run_timestamp_seconds", 'job="nightly"')).toBeGreaterThan(
      now.getTime() / 1000,
    );

    expect(sample(text, "holdfast_step_info", 'job="nightly",step="snap",type="backup"')).toBe(1);
    expect(sample(text, "holdfast_step_last_status", 'job="nightly",step="snap",status="failed"')).toBe(1);
    expect(sample(text, "holdfast_step_last_status", 'job="nightly",step="drill",status="skipped"')).toBe(1);
    expect(sample(text, "holdfast_step_last_duration_seconds", 'job="nightly",step="hello"')).toBe(60);

    // local: from the newer (failed-as-a-whole) run; b2: from the last successful step record.
    expect(sample(text, "holdfast_backup_data_added_bytes", 'job="nightly",step="snap",repo="local"')).toBe(
      3000,
    );
    expect(sample(text, "holdfast_backup_data_added_bytes", 'job="nightly",step="snap",repo="b2"')).toBe(
      2000,
    );
    expect(sample(text, "holdfast_backup_files_new", 'job="nightly",step="snap",repo="b2"')).toBe(7);
    expect(sample(text, "holdfast_backup_files_changed", 'job="nightly",step="snap",repo="b2"')).toBe(3);
    expect(sample(text, "holdfast_backup_processed_bytes", 'job="nightly",step="snap",repo="b2"')).toBe(
      123_456_789,
    );
    expect(
      sample(
        text,
        "holdfast_backup_last_snapshot_timestamp_seconds",
        'job="nightly",step="snap",repo="local"',
      ),
    ).toBe(Date.parse(t2) / 1000 + 4);
    expect(
      sample(text, "holdfast_backup_last_snapshot_timestamp_seconds", 'job="nightly",step="snap",repo="b2"'),
    ).toBe(Date.parse(t1) / 1000 + 9);

    expect(
      sample(text, "holdfast_repository_latest_snapshot_timestamp_seconds", 'repo="local",source="home"'),
    ).toBe(Date.parse(t2) / 1000 + 4);
    expect(
      sample(text, "holdfast_repository_latest_snapshot_timestamp_seconds", 'repo="b2",source="home"'),
    ).toBe(Date.parse(t1) / 1000 + 9);
    expect(
      sample(text, "holdfast_repository_last_drill_timestamp_seconds", 'repo="local",source="home"'),
    ).toBe(Date.parse("2026-11-20T03:05:00.000Z") / 1000);
    expect(
      sample(text, "holdfast_repository_last_drill_timestamp_seconds", 'repo="b2",source="home"'),
    ).toBeUndefined();
    expect(sample(text, "holdfast_repository_offsite", 'repo="b2"')).toBe(1);
    expect(sample(text, "holdfast_metrics_generated_timestamp_seconds", "")).toBe(now.getTime() / 1000);

    expect(text).not.toMatch(/01TESTRUN/); // no run ids as labels
    expect(execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })).toBe("");
  });

  it("marks a job stale once max_age has passed since its last success", async () => {
    const store = createMemoryStore();
    await recordRun(store, "nightly", "succeeded", {
      startedAt: "2026-11-01T03:00:00.000Z",
      steps: [{ name: "hello", type: "exec", status: "succeeded" }],
    });
    const text = await renderMetrics(config, store, new Date("2026-11-03T03:00:00.000Z"));
    expect(sample(text, "holdfast_job_stale", 'job="nightly"')).toBe(1);
    expect(sample(text, "holdfast_job_state", 'job="nightly",state="stale"')).toBe(1);
    expect(sample(text, "holdfast_job_stale_seconds", 'job="nightly"')).toBe(2 * 86_400 - 60);
    expect(execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })).toBe("");
  });

  it("shows a run in progress", async () => {
    const store = createMemoryStore();
    await recordRun(store, "nightly", "running", {
      steps: [{ name: "hello", type: "exec", status: "running" }],
    });
    const text = await renderMetrics(config, store, new Date("2026-11-01T03:00:00.000Z"));
    expect(sample(text, "holdfast_job_running", 'job="nightly"')).toBe(1);
    expect(sample(text, "holdfast_job_last_run_status", 'job="nightly",status="running"')).toBe(1);
    expect(sample(text, "holdfast_job_last_run_duration_seconds", 'job="nightly"')).toBeUndefined();
  });
});
