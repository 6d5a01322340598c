// keep.within (and within_hourly … within_yearly) take restic's own duration grammar — y, m (months),
// d, h — and what restic refuses is refused at config load with its position, not at run time after
// `config validate` said ok (issue 12 item 6). Driven through the built CLI against real restic 0.14
// and 0.18 (the suite's two restic passes).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { ISSUE_LINE } from "../helpers/config-corpus.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-within-");
});
afterAll(() => removeDir(root));

function configWith(dir: string, keep: Record<string, unknown>) {
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, "src");
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, "a.txt"), "a\n");
  const repo = { repo: path.join(dir, "repo"), passwordFile: writePassword(path.join(dir, "pw"), "pw") };
  return {
    repo,
    cfg: writeTestConfig(dir, {
      repositories: { local: { url: repo.repo, password_file: repo.passwordFile } },
      sources: { src: { paths: [src] } },
      jobs: {
        j: {
          steps: [
            { name: "b", type: "backup", source: "src", repos: ["local"] },
            { name: "f", type: "forget", repos: ["local"], keep },
          ],
        },
      },
    }),
  };
}

describe("keep.within: restic's duration grammar", () => {
  it(`accepts 1y6m, 2d3h and the within_* rules, and ${resticUnderTest.label} runs them`, async () => {
    const { cfg, repo } = configWith(path.join(root, "ok"), {
      within: "1y6m",
      within_daily: "2d3h",
      within_monthly: "6m",
      last: 1,
    });
    expectExit(await cfg.run(["config", "validate"]), 0);
    resticInit(repo);
    const result = await cfg.run(["run", "--json"]);
    expectExit(result, 0);
    const run = parseJson(result);
    expect(run.steps[1]).toMatchObject({ name: "f", status: "succeeded" });
    const dry = await cfg.run(["run", "--dry-run"]);
    expect(dry.stdout).toMatch(/--keep-within 1y6m/);
    expect(dry.stdout).toMatch(/--keep-within-daily 2d3h/);
    expect(dry.stdout).toMatch(/--keep-within-monthly 6m/);
  });

  const refused: Array<[string, RegExp]> = [
    ["6M", /"M" is not a restic duration unit.*months/],
    ["2w", /restic has no weeks: write 14d/],
    ["90s", /"s" is not a restic duration unit/],
    ["1.5d", /not a restic duration unit|no number/],
    ["-1d", /negative/],
    ["0d", /zero/],
    ["d", /no number/],
    ["30", /no unit after 30/],
    ["2 weeks", /not a restic duration unit/],
  ];
  it.each(refused)("refuses %s at config load with its position and a hint", async (within, message) => {
    const { cfg } = configWith(path.join(root, `bad-${within.replace(/\W/g, "_")}`), { within });
    for (const args of [["config", "validate"], ["run"]]) {
      const result = await cfg.run(args);
      expectExit(result, 2);
      const line = result.stderr.split("\n").find((l) => l.includes("keep.within"));
      expect(line, result.stderr).toBeDefined();
      expect(line).toMatch(ISSUE_LINE);
      expect(line).toMatch(message);
      expect(line).toMatch(/y \(years\), m \(months\), d \(days\), h \(hours\)/);
    }
  });
});
