// R4: an emptied, a missing and an unmounted source. The guard fails the backup step with kind
// `guard`, no snapshot is made, the job's forget step leaves that source alone (it still works on a
// healthy one), and the earlier snapshots of the source are intact (same ids). The unmounted case is
// real: a tmpfs mounted at the source path holding the data and the `guard.exists` sentinel, backed
// up, then unmounted so the mount point is an empty directory (skipped where mount is not allowed).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
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
let mounted = false;

const snapshotIds = (source: string) =>
  resticSnapshots(repo)
    .filter((s) => s.tags?.includes(`source:${source}`))
    .map((s) => s.id)
    .sort();

function fill(dir: string) {
  fs.mkdirSync(path.join(dir, "d"), { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, "d", `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(dir, ".holdfast-sentinel"), "mounted\n");
}

function resetHome() {
  fs.rmSync(home, { recursive: true, force: true });
  fill(home);
}

beforeAll(async () => {
  root = makeSharedDir("holdfast-r4-");
  home = path.join(root, "home");
  healthy = path.join(root, "healthy");
  fs.mkdirSync(healthy);
  fs.writeFileSync(path.join(healthy, "a.txt"), "a\n");
  repo = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r4-pw") };
  resticInit(repo);
  resetHome();
  cfg = writeTestConfig(root, {
    repositories: { local: { url: repo.repo, password_file: repo.passwordFile } },
    sources: {
      home: { paths: [home], guard: { exists: [path.join(home, ".holdfast-sentinel")], min_files: 5 } },
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
  // Two snapshots of home (backups only, no forget), so a forget that did not skip home would
  // remove one of them.
  for (let i = 0; i < 2; i++) {
    fs.writeFileSync(path.join(home, "d", "changing.txt"), `${i}\n`);
    expectExit(await cfg.run(["run", "-q", "--step", "home"]), 0);
  }
  expect(snapshotIds("home")).toHaveLength(2);
});

afterAll(() => {
  if (mounted) execFileSync("umount", ["-l", home], { stdio: "pipe" });
  removeDir(root);
});

async function expectGuarded(reason: RegExp) {
  const homeBefore = snapshotIds("home");
  expect(homeBefore.length).toBeGreaterThanOrEqual(2);
  // A new healthy snapshot per run, so forget has something to remove there.
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
  // No snapshot; forget left home alone; its earlier snapshots are the same ones.
  expect(snapshotIds("home")).toEqual(homeBefore);
  const retention = run.steps[2];
  expect(retention.status).toBe("succeeded");
  expect(retention.targets[0]).toMatchObject({ sources_skipped: "home" });
  // …while forget did its work for the healthy source.
  expect(snapshotIds("healthy")).toHaveLength(1);
  console.log(`R4: ${step.error.message}; home snapshots unchanged: ${homeBefore.join(", ")}`);
}

describe("R4: sources that went away", () => {
  test("an emptied source (min_files)", async () => {
    for (const f of fs.readdirSync(path.join(home, "d"))) fs.rmSync(path.join(home, "d", f));
    await expectGuarded(/fewer than min_files 5/);
    resetHome();
  });

  test("a missing source path", async () => {
    fs.rmSync(home, { recursive: true });
    await expectGuarded(/does not exist/);
    resetHome();
  });

  test("an unmounted source: the mount point is an empty directory, the sentinel is gone", async (ctx) => {
    fs.rmSync(home, { recursive: true });
    fs.mkdirSync(home);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", home], { stdio: "pipe" });
      mounted = true;
    } catch (err) {
      console.log(`R4: unmounted-source case skipped: mount is not permitted here (${String(err)})`);
      resetHome();
      return ctx.skip();
    }
    fill(home);
    // A good backup of the mounted file system first.
    expectExit(await cfg.run(["run", "-q", "--step", "home"]), 0);
    execFileSync("umount", [home], { stdio: "pipe" });
    mounted = false;
    expect(fs.readdirSync(home)).toEqual([]);
    await expectGuarded(/sentinel .* is missing/);
    resetHome();
  });
});
