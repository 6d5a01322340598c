import { describe, expect, it } from "vitest";
import { compileExcludes } from "./glob.js";

const matches = (patterns: string[], path: string) => compileExcludes(patterns)(path);

describe("compileExcludes (restic exclude semantics)", () => {
  it("anchors patterns that start with /", () => {
    expect(matches(["/home/sig/.cache"], "/home/sig/.cache")).toBe(true);
    expect(matches(["/home/sig/.cache"], "/home/sig/.cache/x/y")).toBe(true);
    expect(matches(["/home/sig/.cache"], "/other/home/sig/.cache")).toBe(false);
    expect(matches(["/home/sig/.cache"], "/home/sig/.cachex")).toBe(false);
  });

  it("matches relative patterns at any depth, whole components only", () => {
    expect(matches(["node_modules"], "/a/b/node_modules")).toBe(true);
    expect(matches(["node_modules"], "/a/node_modules/pkg/x.js")).toBe(true);
    expect(matches(["node_modules"], "/a/my_node_modules")).toBe(false);
    expect(matches(["b/c"], "/a/b/c/d")).toBe(true);
    expect(matches(["b/c"], "/a/bb/c")).toBe(false);
  });

  it("supports *, ?, character classes and **", () => {
    expect(matches(["*.tmp"], "/x/y/file.tmp")).toBe(true);
    expect(matches(["*.tmp"], "/x/y/file.tmpx")).toBe(false);
    expect(matches(["file?.log"], "/x/file1.log")).toBe(true);
    expect(matches(["file?.log"], "/x/file12.log")).toBe(false);
    expect(matches(["[ab].txt"], "/x/a.txt")).toBe(true);
    expect(matches(["[!ab].txt"], "/x/a.txt")).toBe(false);
    expect(matches(["[!ab].txt"], "/x/c.txt")).toBe(true);
    expect(matches(["**/node_modules"], "/home/sig/p/node_modules")).toBe(true);
    expect(matches(["**/node_modules"], "/node_modules")).toBe(true);
    expect(matches(["/home/**/cache"], "/home/a/b/cache/x")).toBe(true);
    expect(matches(["/home/**/cache"], "/home/cache")).toBe(true);
    expect(matches(["/home/**/cache"], "/var/cache")).toBe(false);
    expect(matches(["/data/**"], "/data/x")).toBe(true);
  });

  it("treats regex metacharacters literally and ignores blanks and comments", () => {
    expect(matches(["a+b (1).txt"], "/x/a+b (1).txt")).toBe(true);
    expect(matches(["a.b"], "/x/aXb")).toBe(false);
    expect(matches(["", "  ", "# comment"], "/x")).toBe(false);
    expect(matches([], "/x")).toBe(false);
  });
});
