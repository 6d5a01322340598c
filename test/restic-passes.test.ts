// Every test file that runs restic is in the 0.18 pass of its suite (test/helpers/restic-projects.ts):
// a new restic test that nobody added there would silently run with 0.14 only.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";
import {
  MAIN_SUITE_RUNS_RESTIC,
  RELIABILITY_RESTIC_FREE,
  SECURITY_RESTIC_FREE,
} from "./helpers/restic-projects.js";

// What starts restic in a test: the helpers of restic-backends.ts, restic spawned by name, or a
// config with a restic step type (JSON or YAML spelling) that the test runs (`holdfast run`).
const STARTS_RESTIC =
  /\bresticInit\(|\bresticSnapshots\(|\brestic\(\s*\w+\s*,\s*\[|start(RestServer|S3rver)\(|(spawn|spawnSync|execFileSync|execFile)\(\s*"restic"/;
const RESTIC_STEP = /type:\s*"?(backup|forget|copy|check|verify)\b/;
const RUNS_A_JOB = /\[\s*(?:"--config",\s*[\w.]+,\s*)?"run"/;
const runsRestic = (text: string) =>
  STARTS_RESTIC.test(text) || (RESTIC_STEP.test(text) && RUNS_A_JOB.test(text));

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...testFiles(rel));
    else if (entry.name.endsWith(".test.ts")) out.push(rel);
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split(/(\*\*\/|\*)/)
    .map((part) =>
      part === "**/" ? "(?:.*/)?" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${body}$`);
}

describe("the restic 0.18 pass covers every test file that runs restic", () => {
  const read = (f: string) => fs.readFileSync(path.join(REPO_ROOT, f), "utf8");

  it("main suite: every restic-running file is in MAIN_SUITE_RUNS_RESTIC", () => {
    const patterns = MAIN_SUITE_RUNS_RESTIC.map(globToRegExp);
    const files = testFiles("test").filter((f) => !/^test\/(reliability|security)\//.test(f));
    const restic = files.filter((f) => runsRestic(read(f)));
    expect(restic.length).toBeGreaterThan(0);
    const missing = restic.filter((f) => !patterns.some((p) => p.test(f)));
    expect(missing, "add these files to MAIN_SUITE_RUNS_RESTIC in test/helpers/restic-projects.ts").toEqual(
      [],
    );
  });

  for (const [suite, free] of [
    ["reliability", RELIABILITY_RESTIC_FREE],
    ["security", SECURITY_RESTIC_FREE],
  ] as const) {
    it(`${suite} suite: the files left out of the 0.18 pass never start restic`, () => {
      const files = new Set(testFiles(`test/${suite}`));
      for (const f of free) expect(files.has(f), `${f} is listed but does not exist`).toBe(true);
      const wrong = free.filter((f) => runsRestic(read(f)));
      expect(wrong, "these run restic: remove them from the restic-free list").toEqual([]);
      expect([...files].filter((f) => !free.includes(f)).length).toBeGreaterThan(0);
    });
  }
});
