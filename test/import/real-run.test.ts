// Imported configs run for real (restic 0.14 and 0.18 passes) against local repositories: the
// snapshots holdfast makes hold the paths, tags and excludes the original file asked for. The
// originals are the projects' own examples (test/fixtures/import/NOTICE.md), copied into a temp dir
// because their paths are relative to the file; the only edit is the resticprofile repository URL
// (/Volumes/RAMDisk/… on the example's author's Mac), pointed at a temp repository.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli } from "../helpers/cli.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeTree } from "../helpers/tmp.js";

const FIXTURES = path.join(REPO_ROOT, "test/fixtures/import");
const PASSWORD = "pw-import-run-5b1f0c2e";

let dir: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-import-run-");
});
afterAll(() => removeDir(dir));

function cli(config: string, args: string[]) {
  return runCli(["--config", config, ...args], { env: { XDG_STATE_HOME: path.join(dir, "state") } });
}

describe("autorestic aliases.yml (hooks and a forget policy shared through merge keys)", () => {
  let cfg: string;
  let out: string;
  let repo: { repo: string; passwordFile: string };

  beforeAll(async () => {
    cfg = path.join(dir, "ar");
    fs.mkdirSync(cfg, { recursive: true });
    fs.copyFileSync(path.join(FIXTURES, "autorestic/aliases.yml"), path.join(cfg, ".autorestic.yml"));
    writeTree(cfg, { "data/b/notes.txt": "b's notes\n", "data/b/sub/more.txt": "more\n" });
    out = path.join(dir, "ar-holdfast.yaml");
    const secrets = path.join(dir, "ar-secrets");
    const imp = await runCli([
      "import",
      "autorestic",
      path.join(cfg, ".autorestic.yml"),
      "-o",
      out,
      "--secrets-dir",
      secrets,
    ]);
    expect(imp.code, imp.stderr).toBe(0);
    // What the report says to put in place: the backend "some" is only named in the example.
    repo = {
      repo: path.join(dir, "ar-repo"),
      passwordFile: writePassword(path.join(secrets, "some.pass"), PASSWORD),
    };
    writeTree(secrets, { "some.url": `${repo.repo}\n` });
    fs.chmodSync(path.join(secrets, "some.url"), 0o600);
    resticInit(repo);
    // Two snapshots autorestic made before the move: `restic backup --tag ar:location:b PATH`
    // (internal/location.go), under restic's default host name, as holdfast's.
    for (const extra of [[], ["--tag", "ar:cron"]]) {
      const r = restic(repo, ["backup", ...extra, "--tag", "ar:location:b", path.join(cfg, "data/b")]);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it("runs location b: its hooks in autorestic's order, one snapshot of data/b", async () => {
    const run = await cli(out, ["run", "b"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const log = await cli(out, ["logs", "latest"]);
    const order = ["Wake up!", "Hello", "kthxbye"].map((line) => log.stdout.indexOf(line));
    expect(
      order.every((i) => i >= 0),
      log.stdout,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const snaps = resticSnapshots(repo).filter((s) => s.tags?.includes("holdfast"));
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.paths).toEqual([path.join(cfg, "data/b")]);
    expect(snaps[0]!.tags).toEqual(expect.arrayContaining(["holdfast", "source:b"]));
  });

  it("the snapshots autorestic made are adopted (the importer's adopt:) and thinned by the location's policy", async () => {
    expect(resticSnapshots(repo)).toHaveLength(3);
    const forget = await cli(out, ["run", "b-forget"]);
    expect(forget.code, forget.stdout + forget.stderr).toBe(0);
    // keep-daily 14, keep-weekly 52, all made today: the newest (holdfast's) stays, and with restic
    // 0.16+ the oldest (adopted) too; the other adopted one goes.
    const keep = resticUnderTest.has("keepsOldestOfUnfilledBucket") ? 2 : 1;
    const line = `1 of holdfast's + 2 adopted (tags ar:location:b): keep ${keep}, remove ${3 - keep}`;
    expect(forget.stdout + forget.stderr).toContain(line);
    const left = resticSnapshots(repo);
    expect(left).toHaveLength(keep);
    expect(left.at(-1)!.tags).toContain("holdfast");
  });
});

describe("resticprofile v2.yaml, profile root (inherit, templates, exclude files, retention)", () => {
  let cfg: string;
  let out: string;
  let repo: { repo: string; passwordFile: string };

  beforeAll(async () => {
    cfg = path.join(dir, "rp");
    fs.mkdirSync(cfg, { recursive: true });
    fs.copyFileSync(path.join(FIXTURES, "resticprofile/v2.yaml"), path.join(cfg, "profiles.yaml"));
    // The files the example names beside it: the password file `key` and the two exclude files.
    writeTree(cfg, {
      "root-excludes": "*.tmp\n",
      excludes: "cache\n",
      "docs/a.txt": "kept\n",
      "docs/b.tmp": "excluded by root-excludes\n",
      "cache/c.txt": "excluded by excludes\n",
    });
    writePassword(path.join(cfg, "key"), PASSWORD);
    out = path.join(dir, "rp-holdfast.yaml");
    const imp = await runCli([
      "import",
      "resticprofile",
      path.join(cfg, "profiles.yaml"),
      "-o",
      out,
      "--secrets-dir",
      path.join(dir, "rp-secrets"),
    ]);
    expect(imp.code, imp.stderr).toBe(0);
    repo = { repo: path.join(dir, "rp-repo"), passwordFile: path.join(cfg, "key") };
    const text = fs.readFileSync(out, "utf8");
    expect(text).toContain("url: /Volumes/RAMDisk/root\n");
    fs.writeFileSync(out, text.replace("url: /Volumes/RAMDisk/root\n", `url: ${repo.repo}\n`));
    resticInit(repo);
  });

  it("backs up the profile's source with its tags and exclude files, then applies its retention", async () => {
    const run = await cli(out, ["run", "root"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const snaps = resticSnapshots(repo);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.paths).toEqual([cfg]);
    // tag: [dev, "{{ .Profile.Name }}"] in the original.
    expect(snaps[0]!.tags).toEqual(expect.arrayContaining(["dev", "root", "holdfast", "source:root"]));
    const ls = restic(repo, ["ls", "latest"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(path.join(cfg, "docs/a.txt"));
    expect(ls.stdout).not.toContain("b.tmp");
    expect(ls.stdout).not.toContain(path.join(cfg, "cache"));
    const show = await cli(out, ["show", "latest", "--json"]);
    const steps = (JSON.parse(show.stdout) as { steps: Array<{ name: string; status: string }> }).steps;
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["backup", "succeeded"],
      ["retention", "succeeded"],
    ]);
  });
});
