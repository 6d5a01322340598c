// Every test file that runs restic is in the 0.18 pass of its suite (test/helpers/restic-projects.ts):
// a new restic test that nobody added there would silently run with 0.14 only.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";
import {
  MAIN_SUITE_RUNS_RESTIC,
  RELIABILITY_RUNS_RESTIC,
  SECURITY_RUNS_RESTIC,
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
  const suites = [
    { name: "main", dirs: ["test"], globs: MAIN_SUITE_RUNS_RESTIC, skip: /^test\/(reliability|security)\// },
    { name: "reliability", dirs: ["test/reliability"], globs: RELIABILITY_RUNS_RESTIC, skip: null },
    { name: "security", dirs: ["test/security"], globs: SECURITY_RUNS_RESTIC, skip: null },
  ];
  for (const suite of suites) {
    it(`${suite.name} suite`, () => {
      const patterns = suite.globs.map(globToRegExp);
      const files = suite.dirs.flatMap(testFiles).filter((f) => !suite.skip?.test(f));
      const restic = files.filter((f) => runsRestic(fs.readFileSync(path.join(REPO_ROOT, f), "utf8")));
      expect(restic.length).toBeGreaterThan(0);
      const missing = restic.filter((f) => !patterns.some((p) => p.test(f)));
      expect(missing, "add these files to the suite's list in test/helpers/restic-projects.ts").toEqual([]);
    });
  }
});
