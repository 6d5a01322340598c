// The source guard (targets.md R4): an emptied source, a missing path and a missing sentinel each
// fail the backup with kind `guard`, make no snapshot, and the job's forget step leaves that source
// alone while it still prunes a healthy source. max_shrink compares with the last snapshot.
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
let repo: { repo: string; passwordFile: string };
let cfg: TestConfig;
let home: string;
let healthy: string;
let sentinel: string;

const countOf = (source: string) =>
  resticSnapshots(repo).filter((s) => s.tags?.includes(`source:${source}`)).length;

function resetSources() {
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(path.join(home, "d"), { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(home, "d", `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(sentinel, "mounted\n");
}

beforeAll(async () => {
  root = makeSharedDir("holdfast-guard-");
  home = path.join(root, "home");
  healthy = path.join(root, "healthy");
  sentinel = path.join(root, "home-sentinel");
  fs.mkdirSync(healthy);
  fs.writeFileSync(path.join(healthy, "a.txt"), "a\n");
  repo = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "guard-pw") };
  resticInit(repo);
  resetSources();
  cfg = writeTestConfig(root, {
    repositories: { local: { url: repo.repo, password_file: repo.passwordFile } },
    sources: {
      home: { paths: [home], guard: { exists: [sentinel], min_files: 5, max_shrink: "50%" } },
      healthy: { paths: [healthy] },
    },
    jobs: {
      j: {
        steps: [
          { name: "home", type: "backup", source: "home", repos: ["local"], on_failure: "continue" },
          { name: "healthy", type: "backup", source: "healthy", repos: ["local"] },
          { name: "retention", type: "forget", repos: ["local"], keep: { last: 1 } },
        ],
      },
    },
  });
  // Two good runs, so retention has something to remove for each source.
  expectExit(await cfg.run(["run", "-q"]), 0);
  fs.writeFileSync(path.join(healthy, "b.txt"), "b\n");
  expectExit(await cfg.run(["run", "-q"]), 0);
  expect(countOf("home")).toBe(1);
});

afterAll(() => removeDir(root));

async function expectGuarded(reason: RegExp) {
  const before = countOf("home");
  const healthyBefore = resticSnapshots(repo)
    .filter((s) => s.tags?.includes("source:healthy"))
    .map((s) => s.id);
  // A new snapshot of `healthy` per run, so forget has one to remove there.
  fs.writeFileSync(path.join(healthy, `c${Date.now()}.txt`), "c\n");
  const result = await cfg.run(["run", "--json"]);
  expectExit(result, 1);
  const run = parseJson(result);
  const step = run.steps[0];
  expect(step.status).toBe("failed");
  expect(step.error.kind).toBe("guard");
  expect(step.error.message).toMatch(reason);
  expect(step.error.hint).toBeTruthy();
  expect(step.targets).toEqual([
    expect.objectContaining({ repo: "local", status: "skipped", snapshot_id: null }),
  ]);
  // No new snapshot of the guarded source, and forget left it alone…
  expect(countOf("home")).toBe(before);
  const retention = run.steps[2];
  expect(retention.status).toBe("succeeded");
  expect(retention.targets[0]).toMatchObject({ sources_skipped: "home" });
  // …while it did its work for the healthy source.
  const healthyAfter = resticSnapshots(repo).filter((s) => s.tags?.includes("source:healthy"));
  expect(healthyAfter).toHaveLength(1);
  expect(healthyBefore).not.toContain(healthyAfter[0]!.id);
}

describe("source guard", () => {
  it("an emptied source: min_files", async () => {
    for (const f of fs.readdirSync(path.join(home, "d"))) fs.rmSync(path.join(home, "d", f));
    await expectGuarded(/fewer than min_files 5/);
    resetSources();
  });

  it("a missing path (unmounted disk)", async () => {
    fs.rmSync(home, { recursive: true });
    await expectGuarded(/does not exist/);
    resetSources();
  });

  it("a missing sentinel", async () => {
    fs.rmSync(sentinel);
    await expectGuarded(/sentinel .* is missing/);
    resetSources();
  });

  it("max_shrink: more than half of the files gone since the last snapshot", async () => {
    for (let i = 0; i < 7; i++) fs.rmSync(path.join(home, "d", `f${i}.txt`));
    await expectGuarded(/shrank by \d+\.\d% since the last snapshot in local/);
    resetSources();
  });
});
