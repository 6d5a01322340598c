// sources.NAME.adopt (issue 17 item 2), with real restic (both passes): snapshots made by plain
// restic with another tool's tags belong to the source — `holdfast adopt` lists them first, then
// they are thinned by the next forget together with holdfast's own (one group per source and host,
// whichever job or tags made a snapshot), they are the shrink guard's baseline, `snapshots --source`
// and `restore --source` find them. Snapshots nothing adopts are never touched.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { restic, resticInit, resticSnapshots, writePassword } from "../helpers/restic-backends.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";

const HOST = "adopt-host";

function setup(extraSource = "", jobs?: string) {
  const dir = makeTempDir("holdfast-adopt-");
  const repo = {
    repo: path.join(dir, "repo"),
    passwordFile: writePassword(path.join(dir, "pass"), "pw-adopt-7d1e"),
  };
  resticInit(repo);
  const docs = path.join(dir, "docs");
  writeTree(docs, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.txt`, `file ${i}\n`])));
  const config = writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
host: ${HOST}
repositories:
  local: { url: ${repo.repo}, password_file: ${repo.passwordFile} }
sources:
  docs:
    paths: [${docs}]
${extraSource}
jobs:
${
  jobs ??
  `  nightly:
    steps:
      - { name: backup, type: backup, source: docs, repos: [local] }
      - { name: retention, type: forget, repos: [local], keep: { last: 2 } }`
}
`,
  );
  /** A snapshot as another tool makes it: plain restic, its own tags. */
  const oldTool = (tags: string[], paths = [docs]) => {
    const r = restic(repo, ["backup", "--host", HOST, ...tags.flatMap((t) => ["--tag", t]), ...paths]);
    expect(r.code, r.stderr).toBe(0);
  };
  const cli = (args: string[]) => runCli(["--config", config, ...args]);
  return { dir, repo, docs, config, oldTool, cli };
}

describe("adopt", () => {
  it("plain restic snapshots with the old tool's tag: listed by `adopt`, then thinned by the next forget with holdfast's", async () => {
    const t = setup("    adopt: { tags: [ar:location:docs] }");
    t.oldTool(["ar:location:docs"]);
    t.oldTool(["ar:cron", "ar:location:docs"]);
    t.oldTool(["ar:location:docs"]);
    t.oldTool(["something-else"]);
    t.oldTool([]);

    const listed = await t.cli(["adopt", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const repo = parseJson<{
      repositories: Array<{
        holdfast: number;
        sources: Array<{ source: string; snapshots: unknown[] }>;
        not_adopted: unknown[];
      }>;
    }>(listed).repositories[0]!;
    expect(repo.holdfast).toBe(0);
    expect(repo.sources.map((s) => [s.source, s.snapshots.length])).toEqual([["docs", 3]]);
    expect(repo.not_adopted).toHaveLength(2);
    const text = await t.cli(["adopt"]);
    expect(text.stdout).toContain("5 snapshots: 0 made by holdfast, 3 adopted, 2 that no source adopts");

    const run = await t.cli(["run", "nightly"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // The group says what it is: the source, the host, holdfast's and the adopted ones.
    expect(run.stdout + run.stderr).toContain(
      `local: source docs on ${HOST}: 1 of holdfast's + 3 adopted (tags ar:location:docs): keep 2, remove 2`,
    );
    const left = resticSnapshots(t.repo);
    expect(left.map((s) => [...(s.tags ?? [])].sort().join(",")).sort()).toEqual(
      ["", "ar:location:docs", "holdfast,job:nightly,source:docs", "something-else"].sort(),
    );
    const show = parseJson<{ steps: Array<{ name: string; targets: Array<Record<string, unknown>> }> }>(
      await t.cli(["show", "latest", "--json"]),
    );
    expect(show.steps.find((s) => s.name === "retention")!.targets[0]).toMatchObject({
      snapshots_kept: 2,
      snapshots_removed: 2,
      adopted_removed: 2,
    });
  });

  it("without adopt the old tool's snapshots stay out of retention (the behaviour before)", async () => {
    const t = setup();
    t.oldTool(["ar:location:docs"]);
    t.oldTool(["ar:location:docs"]);
    t.oldTool(["ar:location:docs"]);
    const run = await t.cli(["run", "nightly"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(resticSnapshots(t.repo)).toHaveLength(4);
  });

  it("tags: [] with paths adopts untagged snapshots of those paths only", async () => {
    const t = setup();
    fs.writeFileSync(
      t.config,
      fs
        .readFileSync(t.config, "utf8")
        .replace(`paths: [${t.docs}]\n`, `paths: [${t.docs}]\n    adopt: { tags: [], paths: [${t.docs}] }\n`),
    );
    const other = path.join(t.dir, "other");
    writeTree(other, { "x.txt": "x\n" });
    t.oldTool([]);
    t.oldTool([]);
    t.oldTool([]);
    t.oldTool([], [other]);
    t.oldTool(["tagged"]);
    const run = await t.cli(["run", "nightly"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout + run.stderr).toContain("1 of holdfast's + 3 adopted (no tags, paths");
    const left = resticSnapshots(t.repo);
    // holdfast's, the newest untagged one of docs, the one of another path, the tagged one.
    expect(left).toHaveLength(4);
    expect(left.filter((s) => s.paths[0] === other)).toHaveLength(1);
    expect(left.filter((s) => (s.tags ?? []).includes("tagged"))).toHaveLength(1);
  });

  it("adopt.paths outside the source's paths is a config error with its position", async () => {
    const t = setup("    adopt: { tags: [x], paths: [/elsewhere] }");
    const v = await t.cli(["config", "validate"]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(
      /holdfast\.yaml:\d+:\d+ +sources\.docs\.adopt\.paths\[0\] +\/elsewhere is not one of this source's paths/,
    );
  });

  it("the shrink guard compares with an adopted snapshot when holdfast has none yet", async () => {
    const t = setup("    adopt: { tags: [ar:location:docs] }\n    guard: { max_shrink: 30% }");
    t.oldTool(["ar:location:docs"]);
    for (let i = 0; i < 8; i++) fs.rmSync(path.join(t.docs, `f${i}.txt`));
    const run = await t.cli(["run", "nightly"]);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/shr[ua]nk/);
    expect(resticSnapshots(t.repo)).toHaveLength(1);
  });

  it("snapshots --source and restore --source find the adopted snapshots", async () => {
    const t = setup("    adopt: { tags: [ar:location:docs] }");
    t.oldTool(["ar:location:docs"]);
    t.oldTool(["unrelated"]);
    const list = await t.cli(["snapshots", "--source", "docs", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const snaps = parseJson<{
      repositories: Array<{ snapshots: Array<{ source: string; adopted: boolean }> }>;
    }>(list).repositories[0]!.snapshots;
    expect(snaps).toEqual([expect.objectContaining({ source: "docs", adopted: true })]);
    const table = await t.cli(["snapshots"]);
    expect(table.stdout).toContain("docs (adopted)");
    const target = path.join(t.dir, "restored");
    const restore = await t.cli(["restore", "local", "--source", "docs", "--target", target, "--json"]);
    expect(restore.code, restore.stderr).toBe(0);
    expect(fs.readFileSync(path.join(target, t.docs, "f3.txt"), "utf8")).toBe("file 3\n");
  });

  it("retention is one group per source and host: two jobs with other tags share one `keep: last`", async () => {
    const t = setup(
      "",
      `  a:
    steps:
      - { name: backup, type: backup, source: docs, repos: [local], tags: [from-a] }
  b:
    steps:
      - { name: backup, type: backup, source: docs, repos: [local], tags: [from-b] }
  retention:
    steps:
      - { name: forget, type: forget, repos: [local], sources: [docs], keep: { last: 1 } }`,
    );
    for (const job of ["a", "b", "a"]) {
      const r = await t.cli(["run", job]);
      expect(r.code, r.stderr).toBe(0);
    }
    const forget = await t.cli(["run", "retention"]);
    expect(forget.code, forget.stdout + forget.stderr).toBe(0);
    expect(forget.stdout + forget.stderr).toContain(
      `local: source docs on ${HOST}: 3 snapshots: keep 1, remove 2`,
    );
    const left = resticSnapshots(t.repo);
    expect(left).toHaveLength(1);
    expect(left[0]!.tags).toContain("job:a");
  });
});
