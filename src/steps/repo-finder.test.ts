import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findRepositories } from "./repo-finder.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Fakes the on-disk shape of repositories (no git needed to find them). */
function layout(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-repos-"));
  dirs.push(root);
  const mk = (rel: string) => fs.mkdirSync(path.join(root, rel), { recursive: true });
  mk("work/.git/objects");
  mk("work/sub/nested/.git");
  mk("worktree");
  fs.writeFileSync(path.join(root, "worktree/.git"), "gitdir: /elsewhere\n");
  mk("srv/p.git/objects");
  mk("srv/p.git/refs");
  fs.writeFileSync(path.join(root, "srv/p.git/HEAD"), "ref: refs/heads/main\n");
  // Looks bare inside, but is below a bare repository: never reached.
  mk("srv/p.git/refs/x/.git");
  mk("a/b/c/deep/.git");
  mk("node_modules/pkg/.git");
  fs.symlinkSync(root, path.join(root, "work/sub/loop"));
  return root;
}

describe("findRepositories", () => {
  it("finds work trees, worktrees and bare repositories, never inside .git or a bare repository", async () => {
    const root = layout();
    const found = await findRepositories([root], { exclude: ["node_modules"], maxDepth: 3 });
    expect(found.repositories.map((r) => [path.relative(root, r.path), r.bare])).toEqual([
      ["srv/p.git", true],
      ["work", false],
      ["work/sub/nested", false],
      ["worktree", false],
    ]);
    expect(found.missingRoots).toEqual([]);
  });

  it("goes as deep as max_depth and no deeper", async () => {
    const root = layout();
    const shallow = await findRepositories([root], { exclude: [], maxDepth: 1 });
    expect(shallow.repositories.map((r) => path.relative(root, r.path))).toEqual(["work", "worktree"]);
    const two = await findRepositories([root], { exclude: [], maxDepth: 2 });
    expect(two.repositories.map((r) => path.relative(root, r.path))).toEqual([
      "node_modules/pkg",
      "srv/p.git",
      "work",
      "worktree",
    ]);
    const deep = await findRepositories([root], { exclude: [], maxDepth: 4 });
    expect(deep.repositories.map((r) => path.relative(root, r.path))).toContain("a/b/c/deep");
  });

  it("reports a missing root and lists overlapping roots once", async () => {
    const root = layout();
    const found = await findRepositories([root, path.join(root, "work"), path.join(root, "nope")], {
      exclude: [],
      maxDepth: 3,
    });
    expect(found.repositories.filter((r) => r.path === path.join(root, "work"))).toHaveLength(1);
    expect(found.missingRoots).toEqual([{ path: path.join(root, "nope"), message: "does not exist" }]);
  });
});
