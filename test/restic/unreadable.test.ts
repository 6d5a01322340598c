// A file the backup user cannot read (behavior.md "Warnings"): restic exits 3 and still makes a
// snapshot; holdfast records the step as `warning` with the unreadable paths listed, and the run
// exits 3. Root reads everything, so holdfast runs as a non-root user here (created when missing).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, collect, parseJson } from "../helpers/cli.js";
import { writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";

const USER = "holdfast-test";
const isRoot = process.getuid?.() === 0;
let root: string;

function ensureUser(): boolean {
  if (spawnSync("id", ["-u", USER]).status === 0) return true;
  return (
    spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]).status === 0
  );
}

beforeAll(() => {
  root = makeSharedDir("holdfast-unreadable-");
});
afterAll(() => removeDir(root));

describe.runIf(isRoot)("unreadable files (as a non-root user)", () => {
  it("restic exit 3 → step warning listing the paths, snapshot made, run exit 3", async () => {
    expect(ensureUser()).toBe(true);
    fs.chmodSync(root, 0o755);
    const dir = path.join(root, "work");
    const src = path.join(dir, "src");
    fs.mkdirSync(path.join(src, "locked-dir"), { recursive: true });
    fs.writeFileSync(path.join(src, "ok.txt"), "readable\n");
    fs.writeFileSync(path.join(src, "secret.txt"), "not for you\n");
    fs.writeFileSync(path.join(src, "locked-dir", "inner.txt"), "hidden\n");
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "unreadable-pw"),
    };
    resticInit(target);
    const cfg = writeTestConfig(dir, {
      repositories: { local: { url: target.repo, password_file: target.passwordFile } },
      sources: { s: { paths: [src] } },
      jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["local"] }] } },
    });
    spawnSync("chown", ["-R", `${USER}:`, dir]);
    fs.chmodSync(path.join(src, "secret.txt"), 0o000);
    fs.chmodSync(path.join(src, "locked-dir"), 0o000);

    const child = spawn(
      "runuser",
      ["-u", USER, "--", process.execPath, CLI, "--config", cfg.file, "run", "--json"],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1", LANG: "C.UTF-8" },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const result = await collect(child, { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(3);
    const run = parseJson(result);
    expect(run.status).toBe("warning");
    const step = run.steps[0];
    expect(step.status).toBe("warning");
    expect(step.error.kind).toBe("partial");
    expect(step.error.message).toContain(path.join(src, "secret.txt"));
    expect(step.error.message).toContain(path.join(src, "locked-dir"));
    expect(step.error.hint).toMatch(/readable|exclude/);
    const t = step.targets[0];
    expect(t).toMatchObject({ repo: "local", status: "warning", exit_code: 3, unreadable_count: 2 });
    expect(t.unreadable_paths).toEqual(
      expect.arrayContaining([path.join(src, "secret.txt"), path.join(src, "locked-dir")]),
    );
    expect(step.summary.unreadable_paths).toEqual(expect.arrayContaining([path.join(src, "secret.txt")]));
    // The snapshot exists, and the run recorded it.
    const snaps = resticSnapshots(target);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.id.startsWith(t.snapshot_id)).toBe(true);
  });
});
