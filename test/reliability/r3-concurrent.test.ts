// R3: 10 concurrent `holdfast run JOB` of a restic backup job. Exactly one runs; the nine others exit
// 4 naming the holder's pid, each before the holder finishes (none waits for the lock). Real CLI,
// real restic, a local repository; the backup is slowed with limit_upload so it lasts several seconds.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { expectNoStack, processesMatching, writeRandomFiles } from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";

let root: string;
let cfg: TestConfig;
let target: { repo: string; passwordFile: string };

beforeAll(async () => {
  root = makeSharedDir("holdfast-r3-");
  const src = path.join(root, "src");
  writeRandomFiles(src, 6, 4 * 1024 * 1024); // 24 MiB at 4 MiB/s: ~6 s of backup
  target = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r3-pw") };
  resticInit(target);
  cfg = writeTestConfig(root, {
    repositories: { r: { url: target.repo, password_file: target.passwordFile, limit_upload: 4096 } },
    sources: { s: { paths: [src] } },
    jobs: { solo: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"] }] } },
  });
  // The state dir and the history exist before the ten start, so they start on equal terms.
  expectExit(await cfg.run(["status"]), 0);
});

afterAll(() => removeDir(root));

test("R3: 10 concurrent runs of a backup job: one runs, nine exit 4 naming its pid, before it finishes", async () => {
  const started = Date.now();
  const children = Array.from({ length: 10 }, () =>
    startCli(["--config", cfg.file, "run", "solo"], { cwd: root }),
  );
  const finishedAt: number[] = [];
  const results = await Promise.all(
    children.map((c, i) =>
      collect(c, { timeoutMs: 180_000 }).then((r) => {
        finishedAt[i] = Date.now();
        return r;
      }),
    ),
  );
  const ran = results.filter((r) => r.code === 0);
  const busy = results.filter((r) => r.code === 4);
  expect(
    results.map((r) => r.code),
    results.map((r) => r.stderr).join("\n"),
  ).toHaveLength(10);
  expect(ran, results.map((r) => `${r.code}: ${r.stderr}`).join("\n")).toHaveLength(1);
  expect(busy).toHaveLength(9);
  const holder = results.indexOf(ran[0]!);
  const holderPid = children[holder]!.pid;
  const busyTimes: number[] = [];
  for (const r of busy) {
    const i = results.indexOf(r);
    expect(r.stderr).toContain(`already running (pid ${holderPid} since `);
    expectNoStack(r.stderr);
    // Before the holder finished: none of them waited for the lock.
    expect(finishedAt[i]!).toBeLessThan(finishedAt[holder]!);
    busyTimes.push(finishedAt[i]! - started);
  }
  const holderMs = finishedAt[holder]! - started;
  console.log(
    `R3: holder pid ${holderPid} ran ${holderMs} ms; the nine busy exits came after ${Math.min(...busyTimes)}–${Math.max(...busyTimes)} ms`,
  );
  expect(Math.max(...busyTimes)).toBeLessThan(holderMs - 1000);

  // One run in the history, one snapshot in the repository, nothing left running.
  const history = parseJson(await cfg.run(["history", "--json"]));
  expect(history.runs).toHaveLength(1);
  expect(history.runs[0].status).toBe("succeeded");
  expect(resticSnapshots(target)).toHaveLength(1);
  expect(processesMatching(root)).toEqual([]);
  expect(fs.existsSync(path.join(cfg.stateDir, "locks", "solo.holder.json"))).toBe(false);
});
