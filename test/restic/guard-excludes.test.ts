// The guard counts what the source backs up (issue 12 item 1): max_shrink compared a count of every
// file under the source with the last snapshot, which restic took with the excludes, so a home
// directory whose excluded cache grew could lose 90 % of what is backed up and pass. And an
// exclude_file that is not there fails the backup at once, naming the file.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";

let root: string;
let home: string;
let repo: { repo: string; passwordFile: string };
let cfg: TestConfig;
let missingExcludes: string;

function writeFiles(dir: string, prefix: string, from: number, to: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = from; i < to; i++) fs.writeFileSync(path.join(dir, `${prefix}${i}`), `${prefix} ${i}\n`);
}

beforeAll(() => {
  root = makeSharedDir("holdfast-guard-excludes-");
  home = path.join(root, "home");
  writeFiles(path.join(home, "docs"), "doc", 0, 20);
  writeFiles(path.join(home, ".cache"), "blob", 0, 10);
  missingExcludes = path.join(root, "not-there", "excludes.txt");
  repo = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "guard-pw") };
  resticInit(repo);
  const job = (source: string) => ({
    steps: [{ name: "backup", type: "backup", source, repos: ["local"] }],
  });
  cfg = writeTestConfig(root, {
    repositories: { local: { url: repo.repo, password_file: repo.passwordFile } },
    sources: {
      home: { paths: [home], exclude: [".cache"], guard: { max_shrink: "50%" } },
      listed: { paths: [home], exclude_file: [missingExcludes] },
    },
    jobs: { home: job("home"), listed: job("listed") },
  });
});

afterAll(() => removeDir(root));

describe("the guard sees the excludes", () => {
  it("max_shrink fails when 90 % of the backed-up files went while the excluded cache grew", async () => {
    expectExit(await cfg.run(["run", "home", "-q"]), 0);
    const before = resticSnapshots(repo).length;
    // 18 of the 20 documents gone; the cache, which restic never backs up, grows 40-fold.
    for (let i = 2; i < 20; i++) fs.rmSync(path.join(home, "docs", `doc${i}`));
    writeFiles(path.join(home, ".cache"), "blob", 10, 400);

    const result = await cfg.run(["run", "home", "--json"]);
    expectExit(result, 1);
    const step = parseJson(result).steps[0];
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("guard");
    // The snapshot had home, docs and 20 documents; 4 of those entries are left.
    expect(step.error.message).toMatch(/shrank by 81\.8% since the last snapshot in local \(22 → 4 entries/);
    expect(resticSnapshots(repo)).toHaveLength(before);
  });

  it("a missing exclude_file fails the backup as a config error naming the file", async () => {
    const result = await cfg.run(["run", "listed", "--json"]);
    expectExit(result, 1);
    const step = parseJson(result).steps[0];
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("config");
    expect(step.error.message).toBe(`source listed: exclude_file ${missingExcludes} does not exist`);
    expect(step.error.hint).toMatch(/create the file/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
