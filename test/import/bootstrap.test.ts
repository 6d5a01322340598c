// Starting over (issue 17 item 7), real restic (both passes) and a REST server (rclone serve restic,
// with credentials, the URL in a url_file) on 127.0.0.1: a config with no `recovery:` at all stores
// the config and history as holdfast-meta snapshots (the default); after the config dir and the state
// dir are gone, `holdfast bootstrap` brings the config back where it was, `history` shows the old
// runs, the next run succeeds; `recovery-sheet` names every file and command and holds no secret.
// Several hosts in one repository: bootstrap asks which one (--host).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
  writeSampleTree,
  type RestServer,
} from "../helpers/restic-backends.js";
import { writeTree } from "../helpers/tmp.js";

const PASSWORD = "pw-bootstrap-61c0a9e4";
const REST_PASSWORD = "restpw-bootstrap-2f8b7d13";

let dir: string;
let rest: RestServer;
let repo: { repo: string; passwordFile: string };
let config: string;
let urlFile: string;

beforeAll(async () => {
  dir = makeSharedDir("holdfast-bootstrap-");
  rest = await startRestServer(dir, { htpasswd: { user: "ann", password: REST_PASSWORD } });
  const passwordFile = writePassword(path.join(dir, "secrets/offsite.pass"), PASSWORD);
  urlFile = path.join(dir, "secrets/offsite.url");
  writeTree(dir, { "secrets/offsite.url": `${rest.base}offsite\n` });
  fs.chmodSync(urlFile, 0o600);
  repo = { repo: `${rest.base}offsite`, passwordFile };
  resticInit(repo);
  writeSampleTree(path.join(dir, "home"));
  config = path.join(dir, "etc/holdfast.yaml");
  writeTree(dir, {
    "etc/holdfast.yaml": `version: 1
state_dir: ${dir}/state
host: old-machine
repositories:
  offsite: { url_file: ${urlFile}, password_file: ${passwordFile}, offsite: true }
sources:
  home: { paths: [${dir}/home] }
jobs:
  nightly:
    steps:
      - { name: home, type: backup, source: home, repos: [offsite] }
`,
  });
});

afterAll(async () => {
  await rest.stop();
  removeDir(dir);
});

describe("holdfast-meta, bootstrap, recovery-sheet", () => {
  it("each run stores a holdfast-meta snapshot (config, secret paths, history; no secret) without any recovery config", async () => {
    for (let i = 0; i < 3; i++) {
      const run = await runCli(["--config", config, "run", "nightly"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).not.toContain("warning");
    }
    const snaps = resticSnapshots(repo, { meta: true });
    expect(snaps.filter((s) => s.tags?.includes("holdfast-meta"))).toHaveLength(3);
    expect(snaps.filter((s) => s.tags?.includes("holdfast"))).toHaveLength(3);
    const dumped = restic(repo, ["dump", "latest", "/holdfast-meta.json", "--tag", "holdfast-meta"]);
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stdout).not.toContain(PASSWORD);
    expect(dumped.stdout).not.toContain(REST_PASSWORD);
    const doc = JSON.parse(dumped.stdout) as { config: string; secrets: Array<{ where: string }> };
    expect(doc.config).toBe(fs.readFileSync(config, "utf8"));
    expect(doc.secrets.map((s) => s.where)).toEqual([
      "repositories.offsite.url_file",
      "repositories.offsite.password_file",
    ]);
  });

  it("recovery-sheet: the repositories, where their passwords live, the commands; no secret", async () => {
    const sheet = await runCli(["--config", config, "recovery-sheet"]);
    expect(sheet.code, sheet.stderr).toBe(0);
    expect(sheet.stdout).toMatch(/^<!doctype html>/);
    expect(sheet.stdout).toContain(`the URL in ${urlFile}`);
    expect(sheet.stdout).toContain(
      `holdfast bootstrap --repo-file ${urlFile} --password-file ${repo.passwordFile}`,
    );
    expect(sheet.stdout).toContain("restore latest --tag holdfast,source:home");
    expect(sheet.stdout).not.toContain(PASSWORD);
    expect(sheet.stdout).not.toContain(REST_PASSWORD);
  });

  it("bootstrap on an empty machine: the config comes back where it was, history shows the old runs, the next run succeeds", async () => {
    const before = parseJson<{ runs: Array<{ id: string }> }>(
      await runCli(["--config", config, "history", "--json"]),
    );
    expect(before.runs).toHaveLength(3);
    // The disk died: the config dir and the state dir are gone; the secrets are back from the safe.
    fs.rmSync(path.join(dir, "etc"), { recursive: true });
    fs.rmSync(path.join(dir, "state"), { recursive: true });
    const missing = await runCli(["bootstrap", "--repo-file", urlFile]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--password-file");

    const boot = await runCli([
      "bootstrap",
      "--repo-file",
      urlFile,
      "--password-file",
      repo.passwordFile,
      "--json",
    ]);
    expect(boot.code, boot.stderr).toBe(0);
    const result = parseJson<{
      config: string;
      runs_imported: number;
      secrets: Array<{ where: string; present: boolean }>;
    }>(boot);
    expect(result.config).toBe(config);
    // The export is taken after each run is recorded: the last run is in its own snapshot.
    expect(result.runs_imported).toBe(3);
    expect(result.secrets.map((s) => [s.where, s.present])).toEqual([
      ["repositories.offsite.url_file", true],
      ["repositories.offsite.password_file", true],
    ]);
    const valid = await runCli(["--config", config, "config", "validate"]);
    expect(valid.code, valid.stderr).toBe(0);
    const history = parseJson<{ runs: Array<{ id: string }> }>(
      await runCli(["--config", config, "history", "--json"]),
    );
    expect(history.runs.map((r) => r.id)).toEqual(before.runs.map((r) => r.id));
    const next = await runCli(["--config", config, "run", "nightly"]);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    // The new machine goes on where the old one stopped: its next export holds the old runs and its own,
    // and the last 3 holdfast-meta snapshots are kept.
    const latest = restic(repo, ["dump", "latest", "/holdfast-meta.json", "--tag", "holdfast-meta"]);
    expect((JSON.parse(latest.stdout) as { runs: unknown[] }).runs).toHaveLength(4);
    expect(
      resticSnapshots(repo, { meta: true }).filter((s) => s.tags?.includes("holdfast-meta")),
    ).toHaveLength(3);

    const again = await runCli(["bootstrap", "--repo-file", urlFile, "--password-file", repo.passwordFile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("exists");
    // A --dir that cannot be made (below a file): a clear error, exit 2, not an internal error.
    const blocked = path.join(dir, "a-file");
    fs.writeFileSync(blocked, "");
    const unwritable = await runCli([
      "bootstrap",
      "--repo-file",
      urlFile,
      "--password-file",
      repo.passwordFile,
      "--dir",
      path.join(blocked, "sub"),
    ]);
    expect(unwritable.code, unwritable.stderr).toBe(2);
    expect(unwritable.stderr).toContain(`cannot write ${path.join(blocked, "sub/holdfast.yaml")} (ENOTDIR)`);
    expect(unwritable.stderr).not.toContain("internal error");
  });

  it("a repository without a holdfast-meta snapshot: a clear error", async () => {
    const empty = { repo: `${rest.base}empty`, passwordFile: repo.passwordFile };
    resticInit(empty);
    const emptyUrl = path.join(dir, "secrets/empty.url");
    fs.writeFileSync(emptyUrl, `${empty.repo}\n`, { mode: 0o600 });
    const r = await runCli([
      "bootstrap",
      "--repo-file",
      emptyUrl,
      "--password-file",
      repo.passwordFile,
      "--dir",
      path.join(dir, "x"),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("holds no holdfast-meta snapshot");
    expect(r.stderr).toContain("recovery: { meta: false }");
  });
  it("several hosts store theirs in one repository: bootstrap asks which (--host), then restores that one", async () => {
    const shared = { repo: `${rest.base}shared`, passwordFile: repo.passwordFile };
    resticInit(shared);
    const sharedUrl = path.join(dir, "secrets/shared.url");
    fs.writeFileSync(sharedUrl, `${shared.repo}\n`, { mode: 0o600 });
    for (const host of ["alpha", "beta"]) {
      const cfg = path.join(dir, `${host}/holdfast.yaml`);
      writeTree(dir, {
        [`${host}/holdfast.yaml`]: `version: 1
state_dir: ${dir}/${host}/state
host: ${host}
repositories:
  shared: { url_file: ${sharedUrl}, password_file: ${repo.passwordFile} }
sources:
  home: { paths: [${dir}/home] }
jobs:
  nightly:
    steps:
      - { name: home, type: backup, source: home, repos: [shared] }
`,
      });
      const run = await runCli(["--config", cfg, "run", "nightly"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
    }
    const args = ["bootstrap", "--repo-file", sharedUrl, "--password-file", repo.passwordFile];
    const ask = await runCli([...args, "--dir", path.join(dir, "new")]);
    expect(ask.code).toBe(2);
    expect(ask.stderr).toContain("holdfast-meta snapshots of 2 hosts: alpha, beta");
    expect(ask.stderr).toContain("--host NAME");
    const unknown = await runCli([...args, "--dir", path.join(dir, "new"), "--host", "gamma"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no holdfast-meta snapshot of host gamma");
    fs.rmSync(path.join(dir, "beta/state"), { recursive: true });
    const beta = await runCli([...args, "--dir", path.join(dir, "new"), "--host", "beta", "--json"]);
    expect(beta.code, beta.stderr).toBe(0);
    expect(parseJson<{ host: string; runs_imported: number }>(beta)).toMatchObject({
      host: "beta",
      runs_imported: 1,
    });
    expect(fs.readFileSync(path.join(dir, "new/holdfast.yaml"), "utf8")).toContain("host: beta\n");
  });
});
