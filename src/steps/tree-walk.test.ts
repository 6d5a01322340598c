import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { comparePaths, LineCursor, parseEntry, pathField } from "./manifest-format.js";
import { defaultWorkerCount, walkTrees, type WalkRoot } from "./tree-walk.js";
import { EMPTY_RULES, type SelectionRules } from "../sources/selection.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-walk-"));
  dirs.push(root);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return root;
}

function lines(blocks: string[]): string[] {
  const out: string[] = [];
  const cursor = new LineCursor(blocks);
  for (let l = cursor.current(); l !== null; cursor.advance(), l = cursor.current()) out.push(l);
  return out;
}

const root = (p: string, more: Partial<SelectionRules> = {}): WalkRoot => ({
  path: p,
  rules: { ...EMPTY_RULES, ...more },
});

describe("walkTrees", () => {
  it("lists every entry once, in manifest order, with metadata and hashes", async () => {
    const r = tree({ "a/x.txt": "hello", "a/y.txt": "", "b/c/d.bin": "deep", "top.md": "# t", "a-b/z": "z" });
    fs.symlinkSync("a/x.txt", path.join(r, "link"));
    fs.chmodSync(path.join(r, "top.md"), 0o600);
    const result = await walkTrees([root(r)], { hash: true, workers: 0 });
    const all = lines(result.blocks);
    const paths = all.map((l) => pathField(l));
    expect(paths).toEqual([...paths].sort(comparePaths));
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.map((p) => path.relative(r, p) || ".").sort()).toEqual(
      [".", "a", "a-b", "a-b/z", "a/x.txt", "a/y.txt", "b", "b/c", "b/c/d.bin", "link", "top.md"].sort(),
    );
    const byPath = new Map(all.map((l) => [pathField(l), parseEntry(l)!]));
    const x = byPath.get(path.join(r, "a/x.txt"))!;
    expect(x).toMatchObject({
      type: "f",
      size: 5,
      mode: 0o644,
      extra: createHash("sha256").update("hello").digest("hex"),
    });
    expect(x.mtimeMs).toBe(Math.trunc(fs.statSync(path.join(r, "a/x.txt")).mtimeMs));
    expect(byPath.get(path.join(r, "top.md"))!.mode).toBe(0o600);
    expect(byPath.get(path.join(r, "link"))).toMatchObject({ type: "l", extra: "->a/x.txt" });
    expect(byPath.get(path.join(r, "b"))).toMatchObject({ type: "d", size: 0 });
    expect(result).toMatchObject({
      files: 6,
      dirs: 5,
      bytes: 5 + 0 + 4 + 3 + 1,
      entries: 11,
      problemCount: 0,
    });
  });

  it("honours restic's excludes and exclude_if_present (the tag file itself stays, as in the snapshot)", async () => {
    const r = tree({
      "keep.txt": "k",
      "cache/big": "x",
      "p/node_modules/m.js": "m",
      "p/src/a.tmp": "t",
      "p/src/a.ts": "a",
      "skipme/.nobackup": "",
      "skipme/secret": "s",
    });
    const result = await walkTrees(
      [root(r, { patternLists: [[`${r}/cache`, "node_modules", "*.tmp"]], tagFiles: [".nobackup"] })],
      { hash: false, workers: 0 },
    );
    const rel = lines(result.blocks).map((l) => path.relative(r, pathField(l)) || ".");
    expect(rel.sort()).toEqual(
      [".", "keep.txt", "p", "p/src", "p/src/a.ts", "skipme", "skipme/.nobackup"].sort(),
    );
  });

  it("escapes awkward names and keeps them in order", async () => {
    const r = tree({ "tab\there": "1", "new\nline": "2", "back\\slash": "3", plain: "4" });
    const result = await walkTrees([root(r)], { hash: false, workers: 0 });
    const all = lines(result.blocks);
    const paths = all.map((l) => pathField(l));
    expect(paths).toEqual([...paths].sort(comparePaths));
    expect(all.map((l) => parseEntry(l)!.path).sort()).toEqual(
      [r, ...["tab\there", "new\nline", "back\\slash", "plain"].map((n) => path.join(r, n))].sort(),
    );
    for (const l of all) expect(l).not.toContain("\n");
  });

  it("lists overlapping roots once and reports missing ones", async () => {
    const r = tree({ "a/b/c.txt": "c", "a/d.txt": "d" });
    const result = await walkTrees(
      [root(path.join(r, "a")), root(path.join(r, "a/b")), root(path.join(r, "nope"))],
      {
        hash: false,
        workers: 0,
      },
    );
    const paths = lines(result.blocks).map((l) => pathField(l));
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.length).toBe(4);
    expect(result.missingRoots).toEqual([{ path: path.join(r, "nope"), message: "does not exist" }]);
  });

  // root reads everything: permissions cannot make a directory unreadable for it.
  it.skipIf(process.getuid?.() === 0)("reports unreadable directories as problems", async () => {
    const r = tree({ "locked/x": "x" });
    fs.chmodSync(path.join(r, "locked"), 0o000);
    const result = await walkTrees([root(r)], { hash: false, workers: 0 });
    fs.chmodSync(path.join(r, "locked"), 0o755);
    expect(result.problemCount).toBe(1);
  });
});

describe("defaultWorkerCount", () => {
  it("uses idle cores only, and always one worker for hashing", () => {
    expect(defaultWorkerCount(false, 2, 0.1)).toBe(1);
    expect(defaultWorkerCount(false, 2, 1.2)).toBe(1);
    expect(defaultWorkerCount(false, 2, 1.6)).toBe(0);
    expect(defaultWorkerCount(true, 2, 1.2)).toBe(2);
    expect(defaultWorkerCount(false, 2, 9)).toBe(0);
    expect(defaultWorkerCount(false, 16, 0)).toBe(7);
    expect(defaultWorkerCount(true, 2, 0.1)).toBe(2);
    expect(defaultWorkerCount(true, 2, 9)).toBe(1);
    expect(defaultWorkerCount(true, 1, 0)).toBe(1);
    expect(defaultWorkerCount(true, 16, 0)).toBe(8);
  });
});
