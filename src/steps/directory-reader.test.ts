import { execFileSync } from "node:child_process";
import { EMPTY_RULES } from "../sources/selection.js";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  defaultReaderKind,
  directoryReader,
  readDirectoryWithNode,
  STAT_FIELDS,
  type DirectoryListing,
} from "../sources/directory-reader.js";
import { walkTrees } from "./tree-walk.js";
import { createWalkState, manifestOrder, walkBatch } from "./tree-walk-worker.js";

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-reader-"));
  temps.push(dir);
  return dir;
}

// Names that sort differently by bytes (UTF-8) and by UTF-16 code units, need escaping, or look alike.
const TRICKY_NAMES = [
  "b",
  "a-b",
  "A",
  "ü",
  "\u{1F600}",
  "\uFF5E",
  "tab\there",
  "new\nline",
  "back\\slash",
  " ",
];

function plantTree(): string {
  const root = tempDir();
  for (const name of TRICKY_NAMES) fs.writeFileSync(path.join(root, name), name);
  fs.mkdirSync(path.join(root, "sub"));
  fs.writeFileSync(path.join(root, "sub", "big.bin"), Buffer.alloc(70_000, 7));
  fs.symlinkSync("sub/big.bin", path.join(root, "link"));
  execFileSync("mkfifo", [path.join(root, "fifo")]);
  fs.utimesSync(path.join(root, "b"), new Date(1_700_000_000_123), new Date(1_700_000_000_987.654));
  return root;
}

/** name → the entry's four numbers, so two readers compare whatever their order. */
function byName(listing: DirectoryListing): Map<string, number[]> {
  return new Map(
    listing.names.map((name, i) => [
      name,
      [...listing.stats.subarray(i * STAT_FIELDS, (i + 1) * STAT_FIELDS)],
    ]),
  );
}

describe("directory readers", () => {
  it("the native reader is built by npm run build", () => {
    expect(defaultReaderKind()).toBe("native");
  });

  it("native and Node readers see the same entries with the same lstat data", () => {
    const root = plantTree();
    const native = directoryReader("native")(root);
    const node = readDirectoryWithNode(root);
    expect(native.names.length).toBe(TRICKY_NAMES.length + 3);
    expect(byName(native)).toEqual(byName(node));
    const entry = byName(native);
    const st = fs.lstatSync(path.join(root, "link"));
    expect(entry.get("link")).toEqual([st.mode, st.size, st.mtimeMs, st.dev]);
    expect(entry.get("b")?.[2]).toBe(fs.lstatSync(path.join(root, "b")).mtimeMs);
    expect(entry.get("sub")?.[0]).toBe(fs.lstatSync(path.join(root, "sub")).mode);
  });

  it("lists names that are not UTF-8 by their bytes, escaped as \\xNN, files and directories alike", async () => {
    const root = tempDir();
    const bytes = (...parts: Array<string | number[]>) =>
      Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));
    fs.writeFileSync(path.join(root, "plain"), "p");
    // "café" in Latin-1, as old NAS shares have them; a directory of that kind with a file inside.
    fs.writeFileSync(bytes(root, "/caf", [0xe9]), "latin-1");
    fs.mkdirSync(bytes(root, "/dir-", [0xff, 0x41]));
    fs.writeFileSync(bytes(root, "/dir-", [0xff, 0x41], "/inner-", [0xe9]), "inner");
    fs.symlinkSync(bytes("caf", [0xe9]), bytes(root, "/link"));
    for (const kind of ["native", "node"] as const) {
      const listing = directoryReader(kind)(root);
      const cafe = listing.names.indexOf("caf\uFFFD");
      expect(listing.raw?.[cafe], kind).toEqual(bytes("caf", [0xe9]));
      expect(listing.raw?.[listing.names.indexOf("plain")], kind).toBeUndefined();
      expect(listing.stats[cafe * STAT_FIELDS + 1], kind).toBe(7);
      const walk = await walkTrees([{ path: root, rules: EMPTY_RULES }], {
        hash: true,
        workers: 0,
        reader: kind,
      });
      expect(walk.problems, kind).toEqual([]);
      expect(walk.vanished, kind).toBe(0);
      const text = walk.blocks.join("");
      const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
      expect(text, kind).toContain(`${root}/caf\\xe9\tf\t7\t`);
      expect(text, kind).toContain(`\t${sha("latin-1")}\n`);
      expect(text, kind).toContain(`${root}/dir-\\xffA\td\t0\t`);
      expect(text, kind).toContain(`${root}/dir-\\xffA/inner-\\xe9\tf\t5\t`);
      expect(text, kind).toContain(`\t${sha("inner")}\n`);
      expect(text, kind).toContain(`${root}/link\tl\t4\t`);
      expect(text, kind).toMatch(/->caf\\xe9\n/);
    }
  });

  it("walks a directory handed over by bytes, as another thread receives it (a Uint8Array)", () => {
    const root = tempDir();
    const latin1 = Buffer.concat([Buffer.from(`${root}/Fotos-`), Buffer.from([0xe9])]);
    fs.mkdirSync(latin1);
    fs.writeFileSync(Buffer.concat([latin1, Buffer.from("/a.txt")]), "a");
    const task = structuredClone({ dir: `${root}/Fotos-\uFFFD`, raw: latin1, group: 0, dev: 0 });
    expect(Buffer.isBuffer(task.raw)).toBe(false);
    for (const kind of ["native", "node"] as const) {
      const state = createWalkState([EMPTY_RULES], kind);
      const response = walkBatch(state, { tasks: [task], budget: 100, hash: true });
      expect(response.problems, kind).toEqual([]);
      expect(
        response.blocks.map((b) => b.key),
        kind,
      ).toEqual([`${root}/Fotos-\\xe9`]);
      expect(response.blocks[0]?.text, kind).toMatch(
        new RegExp(`^${root}/Fotos-\\\\xe9/a\\.txt\\tf\\t1\\t\\d+\\t644\\t[0-9a-f]{64}\\n$`),
      );
    }
  });

  it("reports a directory it cannot read with the errno's code", () => {
    const root = plantTree();
    for (const reader of [directoryReader("native"), readDirectoryWithNode]) {
      expect(() => reader(path.join(root, "missing"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
      expect(() => reader(path.join(root, "b"))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
    }
  });

  it("walks a tree to the same manifest with either reader", async () => {
    const root = plantTree();
    fs.mkdirSync(path.join(root, "sub", "deeper", "deepest"), { recursive: true });
    fs.writeFileSync(path.join(root, "sub", "deeper", "x"), "x");
    const walk = (reader: "native" | "node") =>
      walkTrees([{ path: root, rules: EMPTY_RULES }], {
        hash: true,
        workers: 0,
        reader,
      });
    const [native, node] = await Promise.all([walk("native"), walk("node")]);
    expect(native.entries).toBe(TRICKY_NAMES.length + 3 + 4 + 1);
    expect(native.blocks).toEqual(node.blocks);
  });
});

describe("manifestOrder", () => {
  it("keeps plain names in order as they are", () => {
    expect(manifestOrder(["a", "b", "c"])).toBeNull();
  });

  it("orders by UTF-16 code units, as the manifest compares, not by bytes", () => {
    // Byte order (the native reader's) puts U+FF5E before the emoji; JavaScript strings the other way.
    const names = ["\uFF5E", "\u{1F600}"];
    const order = manifestOrder(names);
    expect(order?.index.map((i) => names[i])).toEqual(["\u{1F600}", "\uFF5E"]);
  });

  it("orders by the escaped name when a name needs escaping", () => {
    const names = ["b", "a\tz", "a"];
    const order = manifestOrder(names);
    expect(order?.index.map((i) => order.escaped[i])).toEqual(["a", "a\\tz", "b"]);
  });
});
