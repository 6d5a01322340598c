import { describe, expect, it } from "vitest";
import {
  comparePaths,
  createChunkLineSplitter,
  createManifestDiffer,
  escapeBytes,
  escapePath,
  formatEntry,
  formatHeader,
  LineCursor,
  parseEntry,
  parseHeader,
  sortManifestLines,
  topDirectories,
  unescapePath,
  type DiffMark,
} from "./manifest-format.js";
import { seededRandom } from "../util/seeded-random.js";

const file = (p: string, size = 10, mtime = 1000, extra = "") =>
  formatEntry(p, "f", size, mtime, 0o644, extra);
const dir = (p: string, mtime = 1000) => formatEntry(p, "d", 0, mtime, 0o755, "");

function diff(previous: string[], next: string[], ignoreExtra = false) {
  const marks: Array<[DiffMark, string]> = [];
  const differ = createManifestDiffer(LineCursor.fromLines(sortManifestLines([...next])), {
    ignoreExtra,
    onDifference: (mark, line) => marks.push([mark, line.split("\t")[0] as string]),
  });
  differ.push(formatHeader({ created: "x", hash: null, roots: [] }));
  for (const line of sortManifestLines([...previous])) differ.push(line);
  return { ...differ.finish(), marks };
}

describe("manifest lines", () => {
  it("escapes every character that would break a line or a column, and back", () => {
    const nasty = "/a\tb\nc\\d\u0001e\u007ff ü";
    const escaped = escapePath(nasty);
    expect(escaped).toBe("/a\\tb\\nc\\\\d\\x01e\\x7ff ü");
    expect([...escaped].every((c) => c.charCodeAt(0) >= 0x20)).toBe(true);
    expect(unescapePath(escaped)).toBe(nasty);
    expect(escapePath("/plain/path")).toBe("/plain/path");
  });

  it("escapes the bytes of a name that is not UTF-8, keeping its valid characters", () => {
    const name = Buffer.concat([
      Buffer.from("aé"),
      Buffer.from([0xff]),
      Buffer.from("\t\\"),
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate: not UTF-8
      Buffer.from("€"),
      Buffer.from([0xc3]), // cut short
    ]);
    expect(escapeBytes(name)).toBe("aé\\xff\\t\\\\\\xed\\xa0\\x80€\\xc3");
    expect(escapeBytes(Buffer.from("plain ü"))).toBe("plain ü");
  });

  it("formats and parses an entry", () => {
    const line = formatEntry("/x/a\\tb", "f", 1234, 1732614947123.9, 0o100644, "abc");
    expect(line).toBe("/x/a\\tb\tf\t1234\t1732614947123\t644\tabc");
    expect(parseEntry(line)).toEqual({
      path: "/x/a\tb",
      type: "f",
      size: 1234,
      mtimeMs: 1732614947123,
      mode: 0o644,
      extra: "abc",
    });
  });

  it("round-trips the header", () => {
    const header = { created: "2026-11-26T03:00:00.000Z", hash: "sha256" as const, roots: ["/home/sig"] };
    expect(parseHeader(formatHeader(header))).toEqual(header);
    expect(parseHeader("/not/a/header\tf")).toBeNull();
  });

  it("orders by directory, then by name", () => {
    const paths = ["/a/b/c", "/a-b", "/a/b", "/a", "/a/z", "/a/b-c", "/b"];
    const sorted = [...paths].sort(comparePaths);
    expect(sorted).toEqual(["/a", "/a-b", "/b", "/a/b", "/a/b-c", "/a/z", "/a/b/c"]);
    expect(comparePaths("/a", "/a")).toBe(0);
  });

  it("drops repeated paths when sorting (overlapping roots)", () => {
    expect(sortManifestLines([file("/a/x"), dir("/a"), file("/a/x", 99)])).toEqual([dir("/a"), file("/a/x")]);
  });

  it("walks blocks with a cursor, matching in place", () => {
    const cursor = new LineCursor(["", "l1\nl2\n", "", "l3\n"]);
    const seen: string[] = [];
    for (let line = cursor.current(); line !== null; cursor.advance(), line = cursor.current()) {
      expect(cursor.matches(line)).toBe(true);
      expect(cursor.matches(line.slice(0, 1))).toBe(false);
      seen.push(line);
    }
    expect(seen).toEqual(["l1", "l2", "l3"]);
  });

  it("cuts decoded chunks into runs of whole lines across chunk borders", () => {
    const runs: string[] = [];
    const splitter = createChunkLineSplitter((text, start, end) => runs.push(text.slice(start, end)));
    for (const chunk of ["ab", "c\nd", "\n\ne", "f"]) splitter.push(chunk);
    splitter.end();
    expect(runs).toEqual(["abc\n", "d\n\n", "ef\n"]);
  });

  it("skips a run of equal lines across blocks, or leaves the cursor where it was", () => {
    const cursor = new LineCursor(["l1\nl2\n", "", "l3\nl4\n"]);
    const text = "xx\nl1\nl2\nl3\n";
    expect(cursor.skipRun(text, 3, text.length)).toBe(true);
    expect(cursor.current()).toBe("l4");
    expect(cursor.skipRun("l5\n", 0, 3)).toBe(false);
    expect(cursor.skipRun("l4\nl5\n", 0, 6)).toBe(false);
    expect(cursor.current()).toBe("l4");
    expect(cursor.skipRun("l4\n", 0, 3)).toBe(true);
    expect(cursor.current()).toBeNull();
  });
});

/** The same diff fed through pushText in chunks of random sizes, as the manifest step reads a file. */
function diffInChunks(previous: string[], next: string[], random: () => number) {
  const marks: Array<[DiffMark, string]> = [];
  const differ = createManifestDiffer(LineCursor.fromLines(next), {
    onDifference: (mark, line) => marks.push([mark, line.split("\t")[0] as string]),
  });
  const text = `${[formatHeader({ created: "x", hash: null, roots: [] }), ...previous].join("\n")}\n`;
  const splitter = createChunkLineSplitter((t, start, end) => differ.pushText(t, start, end));
  for (let at = 0; at < text.length;) {
    const size = 1 + Math.floor(random() * 3000);
    splitter.push(text.slice(at, at + size));
    at += size;
  }
  splitter.end();
  return { ...differ.finish(), marks };
}

describe("manifest diff", () => {
  it("gives the same result in bulk (pushText, any chunking) as line by line", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = seededRandom(seed);
      const tree: string[] = [];
      for (let d = 0; d < 12; d++) {
        tree.push(dir(`/r/d${d}`));
        for (let f = 0; f < 40; f++) tree.push(file(`/r/d${d}/f${f}`, f));
      }
      // Rare or dense differences: removed, changed, added files and whole directories.
      const rate = seed % 2 === 0 ? 0.01 : 0.3;
      const next: string[] = [];
      for (const line of tree) {
        const roll = random();
        if (roll < rate / 3) continue;
        if (roll < (2 * rate) / 3) next.push(line.replace("\t1000\t", "\t2000\t"));
        else next.push(line);
        if (roll > 1 - rate / 3) next.push(file(`${line.split("\t")[0]}-new`, 3));
      }
      const previous = sortManifestLines(tree);
      const sortedNext = sortManifestLines(next);
      const expected = diff(previous, sortedNext);
      const bulk = diffInChunks(previous, sortedNext, random);
      expect(bulk.diff, `seed ${seed}`).toEqual(expected.diff);
      expect(bulk.marks, `seed ${seed}`).toEqual(expected.marks);
      expect(bulk.dirs, `seed ${seed}`).toEqual(expected.dirs);
    }
  });

  const previous = [
    dir("/r"),
    dir("/r/d"),
    file("/r/d/keep", 5),
    file("/r/d/gone", 7),
    file("/r/d/edit", 3),
    file("/r/top", 1),
  ];

  it("reports nothing for identical manifests", () => {
    const { diff: d, marks } = diff(previous, previous);
    expect(marks).toEqual([]);
    expect(d).toMatchObject({ previous_files: 4, files_added: 0, files_removed: 0, files_changed: 0 });
  });

  it("sees an unchanged entry right after an added one as unchanged", () => {
    const next = [...previous, dir("/r/a"), file("/r/d/aaa", 1)];
    const { diff: d, marks } = diff(previous, next);
    expect(marks).toEqual([
      ["A", "/r/a"],
      ["A", "/r/d/aaa"],
    ]);
    expect(d).toMatchObject({ files_changed: 0, files_added: 1, dirs_added: 1 });
  });

  it("reports added, removed and changed files with their bytes", () => {
    const next = [
      dir("/r"),
      dir("/r/d", 2000),
      file("/r/d/keep", 5),
      file("/r/d/edit", 30, 2000),
      file("/r/d/new", 11),
      file("/r/a-new", 4),
      file("/r/top", 1),
    ];
    const { diff: d, marks, dirs } = diff(previous, next);
    expect(d).toEqual({
      previous_files: 4,
      files_added: 2,
      files_removed: 1,
      files_changed: 1,
      bytes_added: 15,
      bytes_removed: 7,
      bytes_changed: 30,
      dirs_added: 0,
      dirs_removed: 0,
      files_unreadable: 0,
    });
    expect(marks.sort()).toEqual([
      ["A", "/r/a-new"],
      ["A", "/r/d/new"],
      ["C", "/r/d/edit"],
      ["R", "/r/d/gone"],
    ]);
    expect(topDirectories(dirs, "removed")).toEqual([{ dir: "/r/d", removed: 1, changed: 1, added: 1 }]);
  });

  it("counts a removed directory and everything below it", () => {
    const next = [dir("/r"), file("/r/top", 1)];
    const { diff: d } = diff(previous, next);
    expect(d).toMatchObject({ files_removed: 3, dirs_removed: 1, bytes_removed: 15, files_added: 0 });
  });

  it("handles an empty previous manifest and an empty new one", () => {
    expect(diff([], previous).diff).toMatchObject({ previous_files: 0, files_added: 4, dirs_added: 2 });
    expect(diff(previous, []).diff).toMatchObject({ previous_files: 4, files_removed: 4, dirs_removed: 2 });
  });

  it("compares a hashed manifest with an unhashed one on metadata only", () => {
    const hashed = previous.map((l) => (l.includes("\tf\t") ? `${l}e3b0c44298fc1c14` : l));
    expect(diff(previous, hashed).diff.files_changed).toBe(4);
    expect(diff(previous, hashed, true).diff.files_changed).toBe(0);
  });

  it("sees a file that became a directory as one removed and one added", () => {
    const next = [
      dir("/r"),
      dir("/r/d"),
      file("/r/d/keep", 5),
      file("/r/d/gone", 7),
      file("/r/d/edit", 3),
      dir("/r/top"),
    ];
    const { diff: d } = diff(previous, next);
    expect(d).toMatchObject({ files_removed: 1, dirs_added: 1, files_changed: 0 });
  });

  it("ranks the most affected directories", () => {
    const dirs = [
      { dir: "/a", removed: 1, changed: 0, added: 0 },
      { dir: "/b", removed: 9, changed: 2, added: 0 },
      { dir: "/c", removed: 0, changed: 5, added: 0 },
    ];
    expect(topDirectories(dirs, "removed").map((d) => d.dir)).toEqual(["/b", "/a"]);
    expect(topDirectories(dirs, "changed", 1).map((d) => d.dir)).toEqual(["/c"]);
  });
});
