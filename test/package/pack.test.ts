// What `npm pack` (and so `npm install -g` from the registry or a tarball) ships: the built CLI, the
// dashboard's bundle, the man page the units' Documentation= names, the docs — and no test, source
// map of a secret, or state. Runs on the tree `npm test` has just built (its pretest).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

describe("npm pack", () => {
  it("ships the CLI, the dashboard, the man page and the docs, and nothing of the tests", () => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const [packed] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
    const files = new Set(packed!.files.map((f) => f.path));
    for (const needed of [
      "package.json",
      "dist/cli/main.js",
      "web/dist/index.html",
      "man/holdfast.1",
      "docs/config.md",
      "docs/cli.md",
      "README.md",
    ]) {
      expect(files.has(needed), needed).toBe(true);
    }
    const stray = [...files].filter(
      (f) => /^(test|src|bench|scripts|\.ci)\//.test(f) || /\.db$|\.pass$/.test(f),
    );
    expect(stray).toEqual([]);
  });
});
