// Compression figures of a backup step (issue 11): restic 0.17+ reports `data_added_packed` (what
// the added data took in the repository after compression) beside `data_added`; holdfast records
// both on the repository's target and sums them in the step summary, shown by `show` and in
// `history --json`. restic 0.14 – 0.16 report no packed size: the figure is absent, never estimated.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let cfg: TestConfig;

type Target = Record<string, unknown> & { repo: string; status: string };
type Step = { name: string; status: string; targets: Target[]; summary: Record<string, unknown> };
type Run = { id: string; steps: Step[] };

beforeAll(() => {
  root = makeSharedDir("holdfast-compression-");
  const src = path.join(root, "src");
  fs.mkdirSync(src);
  // 2 MB of text that compresses well.
  fs.writeFileSync(
    path.join(src, "log.txt"),
    "2026-12-03 backup line that repeats and compresses\n".repeat(40_000),
  );
  const repos: Record<string, unknown> = {};
  for (const name of ["one", "two"]) {
    const t = {
      repo: path.join(root, name),
      passwordFile: writePassword(path.join(root, `${name}.pw`), `pw-${name}`),
    };
    resticInit(t);
    repos[name] = { url: t.repo, password_file: t.passwordFile };
  }
  cfg = writeTestConfig(root, {
    repositories: repos,
    sources: { s: { paths: [src] } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["one", "two"] }] } },
  });
});

afterAll(() => removeDir(root));

describe(`compression figures of a backup, under ${resticUnderTest.label}`, () => {
  it("data_added and (0.17+) data_added_packed per repository and summed in the step summary; absent where restic gives none", async () => {
    const result = await cfg.run(["run", "j", "--json"]);
    expectExit(result, 0);
    const run = parseJson<Run>(result);
    const step = run.steps[0] as Step;
    const [one, two] = step.targets as [Target, Target];
    for (const t of [one, two]) {
      expect(t.status).toBe("succeeded");
      expect(t.data_added).toBeGreaterThan(2_000_000);
    }
    expect(step.summary.data_added).toBe((one.data_added as number) + (two.data_added as number));
    if (resticUnderTest.has("dataAddedPacked")) {
      for (const t of [one, two]) {
        // Compressed text: far smaller than what was added.
        expect(t.data_added_packed).toBeGreaterThan(0);
        expect(t.data_added_packed as number).toBeLessThan((t.data_added as number) / 5);
      }
      expect(step.summary.data_added_packed).toBe(
        (one.data_added_packed as number) + (two.data_added_packed as number),
      );
    } else {
      for (const t of [one, two]) expect(t).not.toHaveProperty("data_added_packed");
      expect(step.summary).not.toHaveProperty("data_added_packed");
    }

    // The history holds the same figures, and `show` prints them as sizes.
    const history = parseJson<{ runs: Run[] }>(await cfg.run(["history", "--json"]));
    const recorded = history.runs.find((r) => r.id === run.id)?.steps[0] as Step;
    expect(recorded.targets.map((t) => [t.data_added, t.data_added_packed])).toEqual(
      [one, two].map((t) => [t.data_added, t.data_added_packed]),
    );
    expect(recorded.summary).toEqual(step.summary);
    const shown = await cfg.run(["show", run.id]);
    expectExit(shown, 0);
    expect(shown.stdout).toMatch(/one: \S*succeeded\S* .*data_added=[\d.]+ MiB/);
    if (resticUnderTest.has("dataAddedPacked")) expect(shown.stdout).toMatch(/data_added_packed=[\d.]+ KiB/);
    else expect(shown.stdout).not.toContain("data_added_packed");
  });
});
