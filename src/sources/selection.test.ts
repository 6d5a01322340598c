import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, writeTree } from "../../test/helpers/tmp.js";
import { EXIT, HoldfastError } from "../errors.js";
import {
  cleanLikeGo,
  compilePatterns,
  countSelection,
  expandLikeGo,
  patternProblem,
  readExcludeFile,
  SelectionError,
  sourceSelection,
  walkSelection,
} from "./selection.js";

const matches = (patterns: string[], p: string) => compilePatterns(patterns)(p);

describe("compilePatterns (restic's filter.List)", () => {
  it("anchors patterns that start with /", () => {
    expect(matches(["/home/sig/.cache"], "/home/sig/.cache")).toBe(true);
    expect(matches(["/home/sig/.cache"], "/home/sig/.cache/x/y")).toBe(true);
    expect(matches(["/home/sig/.cache"], "/other/home/sig/.cache")).toBe(false);
    expect(matches(["/home/sig/.cache"], "/home/sig/.cachex")).toBe(false);
  });

  it("matches other patterns on any run of whole components", () => {
    expect(matches(["node_modules"], "/a/b/node_modules")).toBe(true);
    expect(matches(["node_modules"], "/a/node_modules/pkg/x.js")).toBe(true);
    expect(matches(["node_modules"], "/a/my_node_modules")).toBe(false);
    expect(matches(["b/c"], "/a/b/c/d")).toBe(true);
    expect(matches(["b/c"], "/a/bb/c")).toBe(false);
  });

  it("has Go's filepath.Match per component and ** across components", () => {
    expect(matches(["*.tmp"], "/x/y/file.tmp")).toBe(true);
    expect(matches(["*.tmp"], "/x/y/file.tmpx")).toBe(false);
    expect(matches(["file?.log"], "/x/file1.log")).toBe(true);
    expect(matches(["file?.log"], "/x/file12.log")).toBe(false);
    expect(matches(["[ab].txt"], "/x/a.txt")).toBe(true);
    expect(matches(["[^ab].txt"], "/x/a.txt")).toBe(false);
    expect(matches(["[^ab].txt"], "/x/c.txt")).toBe(true);
    // Go has no [!…]: the ! is one of the class's characters.
    expect(matches(["[!ab].txt"], "/x/a.txt")).toBe(true);
    expect(matches(["[!ab].txt"], "/x/!.txt")).toBe(true);
    expect(matches(["[!ab].txt"], "/x/c.txt")).toBe(false);
    expect(matches(["[a-c]x"], "/bx")).toBe(true);
    expect(matches(["\\*"], "/*")).toBe(true);
    expect(matches(["\\*"], "/a")).toBe(false);
    expect(matches(["**/node_modules"], "/home/sig/p/node_modules")).toBe(true);
    expect(matches(["**/node_modules"], "/node_modules")).toBe(true);
    expect(matches(["/home/**/cache"], "/home/a/b/cache/x")).toBe(true);
    expect(matches(["/home/**/cache"], "/home/cache")).toBe(true);
    expect(matches(["/home/**/cache"], "/var/cache")).toBe(false);
    // "a/**" also matches a itself (the ** may be empty).
    expect(matches(["/data/**"], "/data")).toBe(true);
    expect(matches(["**"], "/anything")).toBe(true);
  });

  it("cleans patterns and takes metacharacters of regular expressions literally", () => {
    expect(matches(["a//b/"], "/x/a/b")).toBe(true);
    expect(matches(["/x/./y/../z"], "/x/z")).toBe(true);
    expect(matches(["a+b (1).txt"], "/x/a+b (1).txt")).toBe(true);
    expect(matches(["a.b"], "/x/aXb")).toBe(false);
    expect(matches([""], "/x")).toBe(false);
    expect(matches([], "/x")).toBe(false);
    // Outside an exclude file a # is a character like any other.
    expect(matches(["#x"], "/a/#x")).toBe(true);
  });

  it("lets the last matching pattern decide, with ! to re-include", () => {
    const m = compilePatterns(["/home/*", "!/home/work", "*.o"]);
    expect(m("/home/music")).toBe(true);
    expect(m("/home/work")).toBe(false);
    expect(m("/home/work/a.c")).toBe(false);
    expect(m("/home/work/a.o")).toBe(true);
    expect(compilePatterns(["!*.c", "*"])("/a.c")).toBe(true);
  });

  it("names the patterns restic refuses", () => {
    expect(patternProblem("[abc")).toMatch(/closing|class/);
    expect(patternProblem("x\\")).toMatch(/\\/);
    expect(patternProblem("[]a]")).toMatch(/class/);
    expect(patternProblem("ok/*.txt")).toBeNull();
  });
});

describe("exclude files", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("expands $VAR and ${VAR} as Go's os.Expand does, $$ being a $", () => {
    const env = { HOME: "/home/sig", X: "x" };
    expect(expandLikeGo("$HOME/.cache", env)).toBe("/home/sig/.cache");
    expect(expandLikeGo("${HOME}x", env)).toBe("/home/sigx");
    expect(expandLikeGo("price$$tag", env)).toBe("price$tag");
    expect(expandLikeGo("$UNSET/a", env)).toBe("/a");
    expect(expandLikeGo("a$", env)).toBe("a$");
    expect(expandLikeGo("a$/b", env)).toBe("a$/b");
    expect(expandLikeGo("${}b", env)).toBe("b");
    expect(expandLikeGo("${Xb", env)).toBe("Xb");
  });

  it("reads patterns line by line: trimmed, no blanks, no comments, no BOM", () => {
    dir = makeTempDir();
    const file = path.join(dir, "ex");
    fs.writeFileSync(file, "\uFEFF# comment\r\n\n  *.tmp  \n$WHERE/x\n");
    expect(readExcludeFile(file, { WHERE: "/w" })).toEqual(["*.tmp", "/w/x"]);
  });

  it("names a missing exclude file and the source", () => {
    const missing = "/nonexistent/holdfast-excludes.txt";
    const read = () =>
      sourceSelection(
        {
          name: "home",
          exclude: [],
          exclude_file: [missing],
          exclude_if_present: [],
          one_file_system: false,
        },
        { env: {} },
      );
    expect(read).toThrow(SelectionError);
    expect(read).toThrow(`source home: exclude_file ${missing} does not exist`);
    try {
      read();
    } catch (err) {
      expect((err as SelectionError).hint).toMatch(/create the file/);
      expect((err as SelectionError).file).toBe(missing);
      // One error base: the CLI prints it as a user error with its hint (exit 2), not as a crash.
      expect(err).toBeInstanceOf(HoldfastError);
      expect((err as HoldfastError).kind).toBe("config");
      expect((err as HoldfastError).exitCode).toBe(EXIT.usage);
    }
    expect.assertions(7);
  });

  it("refuses an invalid pattern from a file", () => {
    dir = makeTempDir();
    const file = path.join(dir, "ex");
    fs.writeFileSync(file, "[oops\n");
    expect(() =>
      sourceSelection(
        { name: "s", exclude: [], exclude_file: [file], exclude_if_present: [], one_file_system: false },
        { env: {} },
      ),
    ).toThrow(/invalid exclude pattern "\[oops"/);
  });
});

describe("walkSelection", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("stops when asked and counts the roots themselves", async () => {
    dir = makeTempDir();
    writeTree(dir, { "a/1": "", "a/2": "", "b/3": "" });
    const rules = sourceSelection(
      { name: "s", exclude: ["b"], exclude_file: [], exclude_if_present: [], one_file_system: false },
      { env: {} },
    );
    expect((await countSelection([dir], rules)).entries).toBe(4);
    expect((await countSelection([dir], rules, { stopAt: 2 })).entries).toBe(2);
    const seen: string[] = [];
    await walkSelection([path.join(dir, "a", "1")], rules, (e) => {
      seen.push(e.path);
    });
    expect(seen).toEqual([path.join(dir, "a", "1")]);
  });

  it("cleans a path the way restic does", () => {
    expect(cleanLikeGo("a//b/./c/..")).toBe("a/b");
    expect(cleanLikeGo("/..")).toBe("/");
    expect(cleanLikeGo("")).toBe(".");
  });
});
