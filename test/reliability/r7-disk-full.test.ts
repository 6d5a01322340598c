// R7: the disk fills up while holdfast writes its history or its logs. The state dir lives on a
// small tmpfs (mounted here as root; skipped with a message where mounting is not allowed). What must
// hold: a clear error (no stack trace), the history DB stays readable, and the next run works once
// space is back. The manifest half of R7 is in test/steps (a full disk never replaces a good manifest).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

let mountPoint: string | null = null;
let canMount = true;

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

beforeEach(() => {
  mountPoint = null;
});

afterEach(() => {
  if (mountPoint) execFileSync("umount", ["-l", mountPoint], { stdio: "pipe" });
});

/** Fills the file system at dir up to the last few KB. */
function fillUp(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = fs.openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch {
    // ENOSPC: full.
  }
  try {
    for (;;) fs.writeSync(fd, chunk.subarray(0, 512));
  } catch {
    /* full to the last block */
  }
  fs.closeSync(fd);
  return filler;
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m;

describe("R7: disk full", () => {
  test("while writing a step's log: a clear error, the run is recorded, history stays readable", async (ctx) => {
    const dir = makeTempDir("holdfast-r7-");
    const state = path.join(dir, "state");
    fs.mkdirSync(state);
    if (!(canMount = mountTmpfs(state, "3m"))) return ctx.skip();
    mountPoint = state;
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  loud:
    steps:
      - { name: flood, type: exec, command: [sh, -c, "head -c 12000000 /dev/zero | tr '\\\\0' x | fold -w 100"] }
      - { name: after, type: exec, command: [echo, after] }
`,
    );
    const result = await runCli(["--config", config, "run", "--json", "--quiet"]);
    expect(result.stderr).not.toMatch(STACK);
    expect(result.stderr).toMatch(/cannot write the step log|no space left|disk is full/i);
    // The history is readable, and shows the run with both steps.
    const history = await runCli(["--config", config, "history", "--json"]);
    expect(history.code, history.stderr).toBe(0);
    const runs = parseJson(history).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0].steps.map((s: any) => s.name)).toEqual(["flood", "after"]);
  });

  test("while writing the history: a clear error naming the disk, the DB stays readable, the next run works", async (ctx) => {
    if (!canMount) return ctx.skip();
    const dir = makeTempDir("holdfast-r7-");
    const state = path.join(dir, "state");
    fs.mkdirSync(state);
    if (!mountTmpfs(state, "4m")) return ctx.skip();
    mountPoint = state;
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  j:
    steps:
      - { name: a, type: exec, command: [echo, a] }
`,
    );
    expect((await runCli(["--config", config, "run"])).code).toBe(0);
    const filler = fillUp(state);

    const full = await runCli(["--config", config, "run", "--json"]);
    expect(full.code).not.toBe(0);
    expect(full.stderr).not.toMatch(STACK);
    expect(full.stderr).toMatch(/disk|space|full/i);

    // Readable while full.
    const whileFull = await runCli(["--config", config, "history", "--json"]);
    expect(whileFull.code, whileFull.stderr).toBe(0);
    expect(parseJson(whileFull).runs.length).toBeGreaterThanOrEqual(1);

    fs.rmSync(filler);
    const next = await runCli(["--config", config, "run", "--json"]);
    expect(next.code, next.stderr).toBe(0);
    const after = parseJson(await runCli(["--config", config, "history", "--json"])).runs;
    expect(after[0].status).toBe("succeeded");
    // The first run is intact; a run cut off by the full disk is never left `running`.
    expect(after.at(-1).status).toBe("succeeded");
    expect(after.filter((r: any) => r.status === "running")).toEqual([]);
  });
});
