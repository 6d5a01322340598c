// Imported configs run for real (restic 0.14 and 0.18 passes) against a local repository and a REST
// server (rclone serve restic on 127.0.0.1): the snapshots holdfast makes hold the paths, tags and
// excludes the original file asked for, and the snapshots the old tool made (plain restic with its
// tags) are adopted and thinned by the imported retention. The originals are the projects' own
// examples (test/fixtures/import/NOTICE.md), copied into a temp dir because their paths are relative
// to the file; the only edit is the resticprofile repository URL (/Volumes/RAMDisk/… on the example's
// author's Mac), pointed at a temp repository.
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
  startRestServer,
  writePassword,
  type RestServer,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeTree } from "../helpers/tmp.js";

const FIXTURES = path.join(REPO_ROOT, "test/fixtures/import");
const PASSWORD = "pw-import-run-5b1f0c2e";

let dir: string;
let rest: RestServer;
beforeAll(async () => {
  dir = makeSharedDir("holdfast-import-run-");
  rest = await startRestServer(dir);
});
afterAll(async () => {
  await rest.stop();
  removeDir(dir);
});

/** Where each describe's repository is: a directory, or a repository on the REST server. */
const BACKENDS: Array<[string, (name: string) => string]> = [
  ["local", (name) => path.join(dir, name)],
  ["REST", (name) => `${rest.base}${name}`],
];

function cli(config: string, args: string[]) {
  return runCli(["--config", config, ...args], { env: { XDG_STATE_HOME: path.join(dir, "state") } });
}

describe.each(BACKENDS)(
  "autorestic aliases.yml (hooks and a forget policy shared through merge keys), %s repository",
  (kind, urlOf) => {
    let cfg: string;
    let out: string;
    let repo: { repo: string; passwordFile: string };

    beforeAll(async () => {
      cfg = path.join(dir, `ar-${kind}`);
      fs.mkdirSync(cfg, { recursive: true });
      fs.copyFileSync(path.join(FIXTURES, "autorestic/aliases.yml"), path.join(cfg, ".autorestic.yml"));
      writeTree(cfg, { "data/b/notes.txt": "b's notes\n", "data/b/sub/more.txt": "more\n" });
      out = path.join(dir, `ar-${kind}-holdfast.yaml`);
      const secrets = path.join(dir, `ar-${kind}-secrets`);
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
        repo: urlOf(`ar-${kind}-repo`),
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
  },
);

describe.each(BACKENDS)(
  "resticprofile v2.yaml, profile root (inherit, templates, exclude files, retention), %s repository",
  (kind, urlOf) => {
    let cfg: string;
    let out: string;
    let repo: { repo: string; passwordFile: string };

    beforeAll(async () => {
      cfg = path.join(dir, `rp-${kind}`);
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
      out = path.join(dir, `rp-${kind}-holdfast.yaml`);
      const imp = await runCli([
        "import",
        "resticprofile",
        path.join(cfg, "profiles.yaml"),
        "-o",
        out,
        "--secrets-dir",
        path.join(dir, `rp-${kind}-secrets`),
      ]);
      expect(imp.code, imp.stderr).toBe(0);
      repo = { repo: urlOf(`rp-${kind}-repo`), passwordFile: path.join(cfg, "key") };
      const text = fs.readFileSync(out, "utf8");
      expect(text).toContain("url: /Volumes/RAMDisk/root\n");
      fs.writeFileSync(out, text.replace("url: /Volumes/RAMDisk/root\n", `url: ${repo.repo}\n`));
      resticInit(repo);
    });

    it("backs up the profile's source with its tags and exclude files, then applies its retention to the old snapshots too", async () => {
      // Four snapshots resticprofile made before the move (`restic backup --tag dev --tag root .` under
      // the machine's host name), last year: beyond the profile's keep-within 3h.
      const made = [
        "2025-01-01 01:00:00",
        "2025-01-02 01:00:00",
        "2025-02-01 01:00:00",
        "2025-06-01 01:00:00",
      ];
      for (const time of made) {
        const r = restic(repo, ["backup", "--time", time, "--tag", "dev", "--tag", "root", cfg]);
        expect(r.code, r.stderr).toBe(0);
      }
      const run = await cli(out, ["run", "root"]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      // keep-last 3 and one of each hour, day, week, month and year (the newest each time): 3 stay.
      expect(run.stdout + run.stderr).toContain(
        "1 of holdfast's + 4 adopted (tags dev,root): keep 3, remove 2",
      );
      const left = resticSnapshots(repo);
      expect(left.map((s) => s.time.slice(0, 10))).toEqual(["2025-02-01", "2025-06-01", expect.any(String)]);
      const snaps = left.filter((s) => s.tags?.includes("holdfast"));
      expect(snaps).toHaveLength(1);
      expect(snaps[0]!.paths).toEqual([cfg]);
      // tag: [dev, "{{ .Profile.Name }}"] in the original.
      expect(snaps[0]!.tags).toEqual(expect.arrayContaining(["dev", "root", "holdfast", "source:root"]));
      const ls = restic(repo, ["ls", snaps[0]!.id]);
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
  },
);
