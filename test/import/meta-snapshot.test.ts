// The holdfast-meta snapshot is on by default (issue 17 item 7), with real restic (both passes) and a
// local repository: a config without any `recovery:` stores, after each run that backed up into a
// repository, one snapshot tagged holdfast-meta holding the config, the secret files' paths (never
// their contents) and the run history, and keeps the last recovery.keep (3) of them per host. It is
// skipped when the run wrote nothing there, off with recovery: { meta: false }, and a failure to
// store it is a warning that leaves the run's result alone. The user's snapshots are counted without
// them: a source's retention, `snapshots` (unless --meta), `adopt`, `doctor`.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { restic, resticInit, resticSnapshots, writePassword } from "../helpers/restic-backends.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";

const PASSWORD = "pw-meta-default-5e1c9b";

function setup(extra = "", moreSteps: (dir: string) => string = () => "") {
  const dir = makeTempDir("holdfast-meta-");
  const repo = {
    repo: path.join(dir, "repo"),
    passwordFile: writePassword(path.join(dir, "pass"), PASSWORD),
  };
  resticInit(repo);
  writeTree(path.join(dir, "home"), { "a.txt": "a\n", "sub/b.txt": "b\n" });
  const config = writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
host: meta-host
${extra}
repositories:
  local: { url: ${repo.repo}, password_file: ${repo.passwordFile} }
sources:
  home: { paths: [${dir}/home] }
jobs:
  nightly:
    steps:
      - { name: home, type: backup, source: home, repos: [local] }
      - { name: thin, type: forget, repos: [local], keep: { last: 2 } }
${moreSteps(dir)}
  hello:
    steps:
      - { name: hi, type: exec, command: [/bin/true] }
`,
  );
  const cli = (args: string[]) => runCli(["--config", config, ...args]);
  const meta = () => resticSnapshots(repo, { meta: true }).filter((s) => s.tags?.includes("holdfast-meta"));
  return { dir, repo, config, cli, meta };
}

describe("holdfast-meta by default", () => {
  it("a config without recovery: stores one per run that backed up, keeps the last 3 per host, holds no secret; not counted as the user's", async () => {
    const t = setup();
    for (let i = 0; i < 4; i++) {
      const run = await t.cli(["run", "nightly"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain("warning");
    }
    const metas = t.meta();
    expect(metas).toHaveLength(3);
    expect(metas.every((s) => s.hostname === "meta-host")).toBe(true);
    expect(metas.map((s) => s.paths)).toEqual([
      ["/holdfast-meta.json"],
      ["/holdfast-meta.json"],
      ["/holdfast-meta.json"],
    ]);
    // The source's retention (keep last 2) thinned its own snapshots only.
    expect(resticSnapshots(t.repo).filter((s) => s.tags?.includes("holdfast"))).toHaveLength(2);
    expect(resticSnapshots(t.repo)).toHaveLength(2);

    const dumped = restic(t.repo, ["dump", "latest", "/holdfast-meta.json", "--tag", "holdfast-meta"]);
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stdout).not.toContain(PASSWORD);
    const doc = JSON.parse(dumped.stdout) as {
      format: number;
      host: string;
      config: string;
      config_path: string;
      secrets: Array<{ where: string; path: string; kind: string }>;
      runs: Array<{ job: string; status: string; steps: Array<{ log_path: string | null }> }>;
    };
    expect(doc.format).toBe(2);
    expect(doc.host).toBe("meta-host");
    expect(doc.config_path).toBe(t.config);
    expect(doc.config).toBe(fs.readFileSync(t.config, "utf8"));
    expect(doc.secrets).toEqual([
      { where: "repositories.local.password_file", path: t.repo.passwordFile, kind: "file" },
    ]);
    // The export is taken after the run is recorded: the fourth run is in its own snapshot.
    expect(doc.runs.map((r) => [r.job, r.status])).toEqual(Array(4).fill(["nightly", "succeeded"]));
    expect(doc.runs.flatMap((r) => r.steps.map((s) => s.log_path))).toEqual(Array(8).fill(null));

    // The dry run says so, with the two commands, for the repositories the steps write.
    const dry = await t.cli(["run", "nightly", "--dry-run"]);
    expect(dry.stdout).toContain("then, into each repository a step wrote");
    expect(dry.stdout).toMatch(
      /restic backup --stdin --stdin-filename holdfast-meta\.json --tag holdfast-meta --host meta-host --quiet {3}# stdin: holdfast-meta\.json\n/,
    );
    expect(dry.stdout).toMatch(
      /restic forget --tag holdfast-meta --host meta-host --group-by host --keep-last 3 --quiet\n/,
    );
    expect((await t.cli(["run", "hello", "--dry-run"])).stdout).not.toContain("--tag holdfast-meta");

    // A run that backed nothing up stores nothing.
    const before = t.meta().map((s) => s.id);
    const hello = await t.cli(["run", "hello"]);
    expect(hello.code, hello.stdout + hello.stderr).toBe(0);
    expect(t.meta().map((s) => s.id)).toEqual(before);

    // The user's listings leave them out; --meta shows them.
    const listed = parseJson<{ repositories: Array<{ snapshots: Array<{ tags: string[] }> }> }>(
      await t.cli(["snapshots", "--json"]),
    );
    expect(listed.repositories[0]!.snapshots).toHaveLength(2);
    expect(listed.repositories[0]!.snapshots.every((s) => s.tags.includes("holdfast"))).toBe(true);
    const all = parseJson<{ repositories: Array<{ snapshots: Array<{ tags: string[] }> }> }>(
      await t.cli(["snapshots", "--meta", "--json"]),
    );
    expect(all.repositories[0]!.snapshots.filter((s) => s.tags.includes("holdfast-meta"))).toHaveLength(3);
    expect((await t.cli(["snapshots"])).stdout).toContain("local — 2 snapshots");
    const adopt = parseJson<{ repositories: Array<{ holdfast: number; not_adopted: unknown[] }> }>(
      await t.cli(["adopt", "--json"]),
    );
    expect(adopt.repositories[0]).toMatchObject({ holdfast: 2, not_adopted: [] });
    const doctor = await t.cli(["doctor"]);
    expect(doctor.stdout).toContain("2 snapshots (2 by holdfast) and 3 holdfast-meta");
  });

  it("recovery: { meta: false } stores none", async () => {
    const t = setup("recovery: { meta: false }");
    expect((await t.cli(["run", "nightly", "--dry-run"])).stdout).not.toContain("--tag holdfast-meta");
    const run = await t.cli(["run", "nightly"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(t.meta()).toHaveLength(0);
    expect(resticSnapshots(t.repo)).toHaveLength(1);
  });

  it("a failure to store it is a warning line; the run's result and exit code stay", async () => {
    // After the backup, the job hides the repository's keys: the backup succeeded, the holdfast-meta
    // snapshot cannot be stored (restic cannot open the repository).
    const t = setup(
      "",
      (dir) =>
        `      - { name: hide-keys, type: exec, command: [mv, ${dir}/repo/keys, ${dir}/repo/keys.away] }`,
    );
    const run = await t.cli(["run", "nightly"]);
    fs.renameSync(path.join(t.repo.repo, "keys.away"), path.join(t.repo.repo, "keys"));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /holdfast: warning: local: the holdfast-meta snapshot \(this config and history, for `holdfast bootstrap`\) was not stored: /,
    );
    expect(run.stdout).not.toContain(PASSWORD);
    const history = parseJson<{ runs: Array<{ status: string; exit_code: number }> }>(
      await t.cli(["history", "--json"]),
    );
    expect(history.runs.map((r) => [r.status, r.exit_code])).toEqual([["succeeded", 0]]);
    expect(t.meta()).toHaveLength(0);
    expect(resticSnapshots(t.repo)).toHaveLength(1);
  });

  it("another restic holding a lock (a job backing up at the same time): stored, its forget left to the next run, no warning", async () => {
    const t = setup();
    // A backup that waits on its stdin holds restic's shared lock for as long as it waits.
    const holder = spawn("restic", ["backup", "--stdin", "--stdin-filename", "held"], {
      env: { ...process.env, RESTIC_REPOSITORY: t.repo.repo, RESTIC_PASSWORD_FILE: t.repo.passwordFile },
      stdio: ["pipe", "ignore", "ignore"],
    });
    try {
      const locks = path.join(t.repo.repo, "locks");
      for (let i = 0; i < 300 && (!fs.existsSync(locks) || fs.readdirSync(locks).length === 0); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(fs.readdirSync(locks)).toHaveLength(1);
      const run = await t.cli(["run", "nightly", "--step", "home"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain("warning");
      expect(t.meta()).toHaveLength(1);
    } finally {
      holder.stdin.end();
      await new Promise((r) => holder.on("exit", r));
    }
  });

  it("adopt.tags cannot name holdfast's own tags", async () => {
    const dir = makeTempDir("holdfast-meta-adopt-");
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${dir}/repo, password_file: ${dir}/pass }
sources:
  home: { paths: [${dir}], adopt: { tags: [holdfast-meta] } }
jobs:
  nightly:
    steps:
      - { name: home, type: backup, source: home, repos: [local] }
`,
    );
    const r = await runCli(["--config", config, "config", "validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"holdfast-meta" is holdfast\'s own tag and cannot be adopted');
    expect(r.stderr).toContain("sources.home.adopt.tags[0]");
  });
});
