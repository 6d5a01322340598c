// Backup-target and repository × source metrics from real restic backups into two local repositories.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

const hasRestic = (() => {
  try {
    execFileSync("restic", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const value = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe.skipIf(!hasRestic)("metrics of real backups", () => {
  it("expose each repository's figures and snapshot time, and nothing secret", async () => {
    const dir = makeTempDir("holdfast-metrics-restic-");
    const password = `REPOPASS-${process.pid}-metrics-secret`;
    fs.writeFileSync(path.join(dir, "pass"), `${password}\n`, { mode: 0o600 });
    fs.mkdirSync(path.join(dir, "data"));
    for (let i = 0; i < 5; i++)
      fs.writeFileSync(path.join(dir, "data", `f${i}.txt`), `file ${i}\n`.repeat(1000));
    for (const repo of ["r1", "r2"]) {
      execFileSync("restic", ["init", "-q", "-r", path.join(dir, repo)], {
        env: { ...process.env, RESTIC_PASSWORD_FILE: path.join(dir, "pass") },
      });
    }
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${dir}/r1, password_file: ${dir}/pass }
  far: { url: ${dir}/r2, password_file: ${dir}/pass, offsite: true }
sources:
  data: { paths: [${dir}/data] }
jobs:
  nightly:
    max_age: 1h
    steps:
      - { name: snap, type: backup, source: data, repos: [local, far] }
`,
    );
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(0);
    const run = parseJson(result);
    const targets = run.steps[0].targets as Array<Record<string, any>>;
    const metrics = await runCli(["--config", config, "metrics"]);
    expect(metrics.code).toBe(0);
    const text = metrics.stdout;
    expect(execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })).toBe("");

    for (const repo of ["local", "far"]) {
      const t = targets.find((x) => x.repo === repo)!;
      const l = `{job="nightly",step="snap",repo="${repo}"}`;
      expect(value(text, `holdfast_backup_data_added_bytes${l}`)).toBe(t.data_added);
      expect(value(text, `holdfast_backup_files_new${l}`)).toBe(5);
      expect(value(text, `holdfast_backup_processed_files${l}`)).toBe(5);
      expect(value(text, `holdfast_backup_processed_bytes${l}`)).toBe(t.total_bytes_processed);
      const snapshotAt = value(text, `holdfast_backup_last_snapshot_timestamp_seconds${l}`)!;
      expect(snapshotAt).toBeGreaterThanOrEqual(Date.parse(run.steps[0].started_at) / 1000);
      expect(snapshotAt).toBeLessThanOrEqual(Date.parse(run.steps[0].finished_at) / 1000);
      expect(
        value(text, `holdfast_repository_latest_snapshot_timestamp_seconds{repo="${repo}",source="data"}`),
      ).toBe(snapshotAt);
    }
    expect(value(text, `holdfast_repository_offsite{repo="far"}`)).toBe(1);
    expect(value(text, `holdfast_job_state{job="nightly",state="ok"}`)).toBe(1);
    expect(text).not.toContain(password);
    expect(text).not.toContain(run.id);
    expect(text).not.toContain(targets[0]!.snapshot_id);
  });
});
