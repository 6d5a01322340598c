// The source selection (src/sources/selection.ts) against restic itself: a tricky tree is backed up
// by the restic under test with holdfast's own backup arguments, and what `restic ls --json latest`
// lists below the source must be exactly what walkSelection walks — nested and anchored patterns,
// `**`, negation across `exclude` and `exclude_file`, `$VAR` in an exclude file, character classes,
// exclude_if_present with and without a header, case, restic's cache inside the source, a symlink
// and a name that is not UTF-8. Both restic projects run it (0.14 and 0.18).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupArgs } from "../../src/restic/args.js";
import { ancestorCount } from "../../src/steps/guard.js";
import { countSelection, sourceSelection, walkSelection } from "../../src/sources/selection.js";
import { makeSharedDir, removeDir, restic, resticInit, writePassword } from "../helpers/restic-backends.js";

const CACHEDIR_HEADER = "Signature: 8a477f597d28d172789f06886806bc55";

let root: string;
let mounted = false;
let src: string;
let target: { repo: string; passwordFile: string; env: Record<string, string> };
let source: {
  name: string;
  paths: string[];
  exclude: string[];
  exclude_file: string[];
  exclude_if_present: string[];
  one_file_system: boolean;
};

function put(rel: string, content: string | Buffer = "x\n"): void {
  const file = path.join(src, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

beforeAll(() => {
  root = makeSharedDir("holdfast-selection-");
  src = path.join(root, "src");
  for (const rel of [
    "a.txt",
    "b.log",
    "keep.log",
    "B.LOG",
    "cache/x",
    "Cache/x",
    "deep/cache/y",
    "anch/x",
    "deep/anch/x",
    "proj/node_modules/m.js",
    "proj/a/b/node_modules/n.js",
    "proj/build/a.o",
    "proj/build/a.c",
    "proj/x/y/build/b.o",
    "tagged/f",
    "tagged/sub/g",
    "classes/a.tmp",
    "classes/b.tmp",
    "classes/c.tmp",
    "classes/a.bak",
    "classes/c.bak",
    "classes/c.txt2",
    "classes/d.txt2",
    "classes/!.txt2",
    "fromfile/x",
    "price$tag",
    "neg/in/x",
    "neg/out/x",
    "neg/loose.txt",
    "nested/one/two",
    "keepnested/one/two",
    "lists/x.iso",
  ])
    put(rel);
  put("tagged/.nobackup", "");
  put("cachedir/CACHEDIR.TAG", `${CACHEDIR_HEADER}\n# a cache\n`);
  put("cachedir/data/blob");
  put("fakecache/CACHEDIR.TAG", "not a cache\n");
  put("fakecache/data/blob");
  put("short/CACHEDIR.TAG", "Sig");
  put("short/f");
  put("both/.nobackup", "");
  put("both/CACHEDIR.TAG", CACHEDIR_HEADER);
  put("both/f");
  put("empty-dir/.keep", "");
  fs.symlinkSync("a.txt", path.join(src, "link"));
  // one_file_system: a tmpfs mounted inside the source (where this machine lets us mount).
  fs.mkdirSync(path.join(src, "mnt"));
  mounted =
    spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "holdfast-test", path.join(src, "mnt")]).status === 0;
  if (mounted) put("mnt/inner/file");
  fs.writeFileSync(
    Buffer.concat([Buffer.from(`${src}/weird-`), Buffer.from([0xff, 0xfe]), Buffer.from(".bin")]),
    "w\n",
  );

  const excludeFile = path.join(root, "excludes.txt");
  fs.writeFileSync(
    excludeFile,
    [
      "\uFEFF# patterns from a file: comments, blanks and $VAR",
      "",
      "   ${SELECTION_ROOT}/src/fromfile   ",
      "price$$tag",
      "!keep.log",
      "$SELECTION_NOT_SET*.iso",
    ].join("\n"),
  );
  source = {
    name: "tricky",
    paths: [src],
    exclude: [
      "*.log",
      "cache",
      `${src}/anch`,
      "node_modules",
      "**/build/*.o",
      "[ab].tmp",
      "[^c].bak",
      "[!c].txt2",
      "neg/*",
      "!neg/in",
      "nested/**",
    ],
    exclude_file: [excludeFile],
    exclude_if_present: [".nobackup", `CACHEDIR.TAG:${CACHEDIR_HEADER}`],
    one_file_system: true,
  };
  target = {
    repo: path.join(root, "repo"),
    passwordFile: writePassword(path.join(root, "pw"), "selection-pw"),
    // restic's cache inside the source: restic leaves it out on its own.
    env: { RESTIC_CACHE_DIR: path.join(src, ".restic-cache"), SELECTION_ROOT: root },
  };
  resticInit(target);
  const args = backupArgs({
    paths: source.paths,
    tags: ["holdfast"],
    host: "conformance",
    exclude: source.exclude,
    excludeIfPresent: source.exclude_if_present,
    excludeFile: source.exclude_file,
    oneFileSystem: source.one_file_system,
  });
  const backup = restic(target, args);
  expect(backup.code, backup.stderr).toBe(0);
});

afterAll(() => {
  if (mounted) spawnSync("umount", [path.join(src, "mnt")]);
  removeDir(root);
});

function snapshotPaths(): string[] {
  return snapshotNodes().map((n) => n.path);
}

function snapshotNodes(): Array<{ path: string; type: string }> {
  const listing = restic(target, ["ls", "--json", "latest"]);
  expect(listing.code, listing.stderr).toBe(0);
  const nodes: Array<{ path: string; type: string }> = [];
  for (const line of listing.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const node = JSON.parse(line) as {
      struct_type?: string;
      message_type?: string;
      path?: string;
      type?: string;
    };
    // 0.14 marks nodes with struct_type only; 0.17+ adds message_type.
    if ((node.struct_type ?? node.message_type) !== "node" || node.path === undefined) continue;
    // The snapshot also holds the source's parent directories.
    if (node.path === src || node.path.startsWith(`${src}/`))
      nodes.push({ path: node.path, type: node.type ?? "" });
  }
  return nodes.sort((a, b) => (a.path < b.path ? -1 : 1));
}

describe("source selection = restic's selection", () => {
  it("walks exactly what restic backed up", async () => {
    const rules = sourceSelection(source, {
      env: { SELECTION_ROOT: root },
      resticCacheDir: target.env.RESTIC_CACHE_DIR as string,
    });
    const walked: string[] = [];
    await walkSelection(source.paths, rules, (entry) => {
      walked.push(entry.path);
    });
    const fromRestic = snapshotPaths();
    expect(walked.sort()).toEqual(fromRestic);
    // The tree really is tricky: each rule left something out and kept its look-alike.
    const rel = new Set(fromRestic.map((p) => path.relative(src, p)));
    for (const kept of [
      "keep.log",
      "B.LOG",
      "Cache/x",
      "deep/anch/x",
      "proj/build/a.c",
      "tagged",
      "tagged/.nobackup",
      "cachedir/CACHEDIR.TAG",
      "fakecache/data/blob",
      "short/f",
      "both",
      "classes/c.tmp",
      "classes/c.bak",
      "classes/d.txt2",
      "neg/in/x",
      "keepnested/one/two",
      "link",
    ])
      expect(rel, kept).toContain(kept);
    for (const left of [
      "b.log",
      "cache",
      "deep/cache",
      "anch",
      "proj/node_modules",
      "proj/a/b/node_modules",
      "proj/build/a.o",
      "proj/x/y/build/b.o",
      "tagged/f",
      "tagged/sub",
      "cachedir/data",
      "both/.nobackup",
      "both/CACHEDIR.TAG",
      "classes/a.tmp",
      "classes/a.bak",
      "classes/c.txt2",
      "classes/!.txt2",
      "fromfile",
      "price$tag",
      "neg/out",
      "neg/loose.txt",
      "nested",
      "lists/x.iso",
      ".restic-cache",
    ])
      expect(rel, left).not.toContain(left);
    // The mount point stays, empty.
    expect(rel).toContain("mnt");
    if (mounted) expect(rel).not.toContain("mnt/inner");
  });

  it("counts what restic's stats count", async () => {
    const rules = sourceSelection(source, {
      env: { SELECTION_ROOT: root },
      resticCacheDir: target.env.RESTIC_CACHE_DIR as string,
    });
    const count = await countSelection(source.paths, rules);
    const stats = restic(target, ["stats", "--json", "--mode", "restore-size", "latest"]);
    expect(stats.code, stats.stderr).toBe(0);
    const totals = JSON.parse(stats.stdout) as { total_file_count: number };
    // restic also counts the source's parent directories (/tmp, …), as the guard knows.
    expect(count.entries).toBe(totals.total_file_count - ancestorCount(source.paths));
    expect(count.regularFiles).toBe(snapshotNodes().filter((n) => n.type === "file").length);
  });
});
