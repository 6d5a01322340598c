import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SourceConfig } from "../config/types.js";
import { ancestorCount, checkSourcePresence, countEntries, parseMaxShrink, shrinkFailure } from "./guard.js";
import { combineTargets } from "./targets.js";
import { EMPTY_RULES, sourceSelection } from "../sources/selection.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-guard-"));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, "a", "b"), { recursive: true });
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, "a", `f${i}`), "x");
  fs.writeFileSync(path.join(dir, "a", "b", "g"), "y");
  fs.symlinkSync("a", path.join(dir, "link"));
  return dir;
}

function source(paths: string[], guard: Partial<SourceConfig["guard"]> = {}): SourceConfig {
  return {
    name: "home",
    paths,
    exclude: [],
    exclude_if_present: [],
    exclude_file: [],
    one_file_system: false,
    guard: { exists: [], ...guard },
  };
}

describe("countEntries", () => {
  it("counts the path and everything below it, like restic stats --mode restore-size", async () => {
    const dir = tree();
    // dir, a, a/f0..f4, a/b, a/b/g, link
    expect(await countEntries([dir], EMPTY_RULES)).toBe(10);
  });

  it("stops once stopAt is reached", async () => {
    const dir = tree();
    expect(await countEntries([dir], EMPTY_RULES, { stopAt: 3 })).toBe(3);
  });

  it("counts a missing path as nothing", async () => {
    expect(await countEntries(["/nonexistent/holdfast"], EMPTY_RULES)).toBe(0);
  });

  it("leaves out what the source excludes", async () => {
    const dir = tree();
    const rules = sourceSelection({ ...source([dir]), exclude: ["b", "f[0-2]"] }, { env: {} });
    // dir, a, a/f3, a/f4, link
    expect(await countEntries([dir], rules)).toBe(5);
  });
});

describe("checkSourcePresence", () => {
  it("passes a healthy source", async () => {
    const dir = tree();
    expect(
      await checkSourcePresence(
        source([dir], { min_files: 5, exists: [path.join(dir, "a", "f0")] }),
        EMPTY_RULES,
      ),
    ).toBeNull();
  });

  it("fails with kind guard: missing path, missing sentinel, too few files", async () => {
    const dir = tree();
    const missing = await checkSourcePresence(source([path.join(dir, "gone")]), EMPTY_RULES);
    expect(missing).toMatchObject({ kind: "guard" });
    expect(missing?.message).toMatch(/does not exist/);
    expect(missing?.hint).toMatch(/mounted/);
    const sentinel = await checkSourcePresence(
      source([dir], { exists: [path.join(dir, ".mounted")] }),
      EMPTY_RULES,
    );
    expect(sentinel?.message).toMatch(/sentinel .*\.mounted is missing/);
    const few = await checkSourcePresence(source([dir], { min_files: 1000 }), EMPTY_RULES);
    expect(few?.message).toMatch(/holds 10 entries outside its excludes, fewer than min_files 1000/);
  });
});

describe("max_shrink", () => {
  it("parses percentages and refuses others as config errors", () => {
    expect(parseMaxShrink(source(["/x"], { max_shrink: "30%" }))).toBeCloseTo(0.3);
    expect(parseMaxShrink(source(["/x"]))).toBeNull();
    expect(parseMaxShrink(source(["/x"], { max_shrink: "thirty" }))).toMatchObject({ kind: "config" });
  });

  it("fails beyond the limit only", () => {
    const s = source(["/x"]);
    expect(shrinkFailure(s, "local", 0.3, 1000, 800)).toBeNull();
    const failure = shrinkFailure(s, "local", 0.3, 1000, 600);
    expect(failure).toMatchObject({ kind: "guard" });
    expect(failure?.message).toMatch(
      /shrank by 40\.0% since the last snapshot in local \(1000 → 600 entries backed up, excludes left out\)/,
    );
    expect(shrinkFailure(s, "local", 0.3, 0, 0)).toBeNull();
  });

  it("ancestorCount: the parent directories restic stores with absolute paths", () => {
    expect(ancestorCount(["/srv/data"])).toBe(1);
    expect(ancestorCount(["/home/sig", "/home/other"])).toBe(1);
    expect(ancestorCount(["/a/b/c", "/a/x"])).toBe(2);
  });
});

describe("combineTargets", () => {
  const ok = { repo: "a", status: "succeeded" as const, duration_ms: 1, error: null, exit_code: 0 };
  it("fails when any repository failed, after all ran; warns on a warning", () => {
    const failed = {
      repo: "b",
      status: "failed" as const,
      duration_ms: 1,
      error: { kind: "network" as const, message: "down", hint: "h" },
      exit_code: 1,
    };
    expect(combineTargets([ok, failed])).toMatchObject({
      status: "failed",
      exitCode: 1,
      error: { kind: "network", message: "b: down" },
    });
    const warned = {
      repo: "b",
      status: "warning" as const,
      duration_ms: 1,
      error: { kind: "partial" as const, message: "x", hint: null },
      exit_code: 3,
    };
    expect(combineTargets([ok, warned])).toMatchObject({ status: "warning", exitCode: 3 });
    expect(combineTargets([ok])).toMatchObject({ status: "succeeded", exitCode: 0, error: null });
  });
});
