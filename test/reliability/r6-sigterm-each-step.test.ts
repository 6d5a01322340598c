// R6: SIGTERM to holdfast while each step type is running. What must hold: holdfast exits 143, the
// run and the step are recorded `cancelled`, no process of the test is left (every child carries the
// test's directory in its environment through the config's `env`, so a leftover is found by it), and
// restic's lock is released (`restic list locks` — which takes no lock itself — is empty).
//
// How each step is made slow enough to be caught running (real tools unless said otherwise):
//   exec      `sleep 600`
//   backup    24 MiB of random data to a repository with limit_upload 2 MiB/s
//   copy      from that repository to a second one with limit_upload 2 MiB/s (restic applies the limits
//             to the destination only)
//   forget    with prune, after a snapshot that makes half the data unused (prune repacks, reading
//             through limit_download); SIGTERM lands once restic holds its exclusive lock
//   check     read_data_subset 100% (= --read-data) through limit_download
//   mirror    rsync with --bwlimit=2000 (KB/s) of the 24 MiB tree
//   git       a slow fake: `git` first on PATH is a script that sleeps 3 s, then runs the real git
//             (the real git answers in milliseconds on a test-sized repository)
//   manifest  runs no child (worker threads in-process); sha256 of 6 GiB of sparse files keeps it busy,
//             and only the `cancelled`/143 half of R6 applies
//   verify    restores its sample (the 3 files of 4 MiB of the latest snapshot) through limit_download
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  killMatching,
  localLocks,
  processesMatching,
  sleep,
  waitFor,
  writeRandomFiles,
  type ProcInfo,
} from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";

let root: string;
let cfg: TestConfig;
let repoA: { repo: string; passwordFile: string };
let repoB: { repo: string; passwordFile: string };
let fakeBin: string;

const MiB = 1024 * 1024;

beforeAll(async () => {
  root = makeSharedDir("holdfast-r6-");
  const src = path.join(root, "src");
  writeRandomFiles(src, 6, 4 * MiB);
  const passwordFile = writePassword(path.join(root, "pw"), "r6-pw");
  repoA = { repo: path.join(root, "repoA"), passwordFile };
  repoB = { repo: path.join(root, "repoB"), passwordFile };
  resticInit(repoA);
  resticInit(repoB);

  const gitRoot = path.join(root, "gitroot");
  for (const name of ["one", "two"]) {
    const dir = path.join(gitRoot, name);
    fs.mkdirSync(dir, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: dir,
        stdio: "pipe",
      });
    git("init", "-q");
    fs.writeFileSync(path.join(dir, "a.txt"), `${name}\n`);
    git("add", ".");
    git("commit", "-qm", "first");
  }
  fakeBin = path.join(root, "bin");
  fs.mkdirSync(fakeBin);
  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  fs.writeFileSync(path.join(fakeBin, "git"), `#!/bin/sh\nsleep 3\nexec ${realGit} "$@"\n`, { mode: 0o755 });

  const sparse = path.join(root, "sparse");
  fs.mkdirSync(sparse);
  for (let i = 0; i < 2; i++) {
    fs.writeFileSync(path.join(sparse, `big${i}.img`), "");
    fs.truncateSync(path.join(sparse, `big${i}.img`), 3 * 1024 * MiB);
  }

  const repo = (url: string, limits: boolean) => ({
    url,
    password_file: passwordFile,
    ...(limits ? { limit_upload: 2048, limit_download: 2048 } : {}),
  });
  cfg = writeTestConfig(root, {
    env: { R6_MARKER: root },
    repositories: {
      a: repo(repoA.repo, true),
      fast: repo(repoA.repo, false),
      b: repo(repoB.repo, true),
    },
    sources: { s: { paths: [src] } },
    jobs: {
      seed: { steps: [{ name: "seed", type: "backup", source: "s", repos: ["fast"] }] },
      exec: { steps: [{ name: "exec", type: "exec", command: ["sleep", "600"] }] },
      backup: { steps: [{ name: "backup", type: "backup", source: "s", repos: ["a"] }] },
      copy: { steps: [{ name: "copy", type: "copy", from: "a", to: ["b"] }] },
      forget: { steps: [{ name: "forget", type: "forget", repos: ["a"], keep: { last: 1 }, prune: true }] },
      check: { steps: [{ name: "check", type: "check", repos: ["a"], read_data_subset: "100%" }] },
      verify: { steps: [{ name: "verify", type: "verify", source: "s", repos: ["a"], sample: 3 }] },
      mirror: {
        steps: [
          {
            name: "mirror",
            type: "mirror",
            from: `${src}/`,
            to: `${root}/mirror/`,
            rsync_args: ["--bwlimit=2000"],
          },
        ],
      },
      git: { steps: [{ name: "git", type: "git", roots: [gitRoot], output: path.join(root, "git-out") }] },
      manifest: {
        steps: [
          {
            name: "manifest",
            type: "manifest",
            paths: [sparse],
            output: path.join(root, "manifests"),
            hash: "sha256",
          },
        ],
      },
    },
  });
  // Two snapshots of the source, the second without half of the data: forget --prune has to repack.
  expectExit(await cfg.run(["run", "seed", "-q"]), 0);
  for (let i = 0; i < 3; i++) fs.rmSync(path.join(src, `r${i}.bin`));
  expectExit(await cfg.run(["run", "seed", "-q"]), 0);
  writeRandomFiles(src, 3, 4 * MiB);
  expect(resticSnapshots(repoA)).toHaveLength(2);
});

afterEach(async () => {
  // Whatever a failed case left behind must not disturb the next one.
  await killMatching(root);
});

afterAll(() => removeDir(root));

const resticOf = (sub: string) => (p: ProcInfo) =>
  /(^|\/)restic /.test(p.cmdline) && p.cmdline.includes(` ${sub}`);

function stepLogExists(step: string): boolean {
  const logs = path.join(cfg.stateDir, "logs");
  if (!fs.existsSync(logs)) return false;
  return fs
    .readdirSync(logs)
    .some((run) => fs.readdirSync(path.join(logs, run)).some((f) => f.includes(step)));
}

interface Case {
  job: string;
  /** When to send SIGTERM: the step's child is running (and holds its restic lock). */
  ready: () => boolean;
  repos: () => Array<{ repo: string; passwordFile: string }>;
  /** After ready, wait this long so the child is busy, not just starting. */
  settleMs?: number;
}

const cases: Case[] = [
  {
    job: "exec",
    ready: () => processesMatching(root).some((p) => p.cmdline.startsWith("sleep 600")),
    repos: () => [],
  },
  {
    job: "backup",
    ready: () => processesMatching(root).some(resticOf("backup")) && localLocks(repoA.repo).length > 0,
    repos: () => [repoA],
    settleMs: 1000,
  },
  {
    job: "copy",
    ready: () => processesMatching(root).some(resticOf("copy")) && localLocks(repoB.repo).length > 0,
    repos: () => [repoA, repoB],
    settleMs: 500,
  },
  {
    job: "forget",
    ready: () => processesMatching(root).some(resticOf("forget")) && localLocks(repoA.repo).length > 0,
    repos: () => [repoA],
  },
  {
    job: "check",
    ready: () => processesMatching(root).some(resticOf("check")) && localLocks(repoA.repo).length > 0,
    repos: () => [repoA],
    settleMs: 1000,
  },
  {
    job: "verify",
    ready: () => processesMatching(root).some(resticOf("restore")) && localLocks(repoA.repo).length > 0,
    repos: () => [repoA],
    settleMs: 500,
  },
  {
    job: "mirror",
    ready: () => processesMatching(root).some((p) => p.cmdline.startsWith("rsync")),
    repos: () => [],
    settleMs: 500,
  },
  {
    job: "git",
    ready: () => processesMatching(root).some((p) => p.cmdline.startsWith("sleep 3")),
    repos: () => [],
  },
  // No child to wait for: the step's log file says it started (a SIGTERM before holdfast has its
  // handlers installed would just kill node, which is not what R6 is about).
  { job: "manifest", ready: () => stepLogExists("manifest"), repos: () => [], settleMs: 1000 },
];

describe("R6: SIGTERM during each step type", () => {
  test.each(cases)("$job", async (c) => {
    const env = c.job === "git" ? { PATH: `${fakeBin}:${process.env.PATH ?? ""}` } : {};
    const started = Date.now();
    const child = startCli(["--config", cfg.file, "run", c.job, "--json"], { cwd: root, env });
    const done = collect(child, { timeoutMs: 120_000 });
    await waitFor(c.ready, 60_000, `the ${c.job} step's child`);
    if (c.settleMs) await sleep(c.settleMs);
    const children = processesMatching(root).map((p) => p.cmdline.split(" ").slice(0, 2).join(" "));
    const termAt = Date.now();
    child.kill("SIGTERM");
    const result = await done;
    const stopMs = Date.now() - termAt;
    expect(result.code, result.stderr).toBe(143);
    const run = parseJson(result);
    expect(run.status).toBe("cancelled");
    expect(run.exit_code).toBe(143);
    expect(run.steps[0].status).toBe("cancelled");
    // No process of this test is left.
    const left = processesMatching(root);
    expect(left, JSON.stringify(left)).toEqual([]);
    // restic removed its own lock (it got SIGINT); listing the locks needs no --no-lock.
    for (const repo of c.repos()) {
      const list = restic(repo, ["list", "locks"]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout.trim(), `locks left in ${repo.repo}`).toBe("");
      expect(localLocks(repo.repo)).toEqual([]);
    }
    let resticSaw = "";
    if (c.repos().length > 0) {
      // restic itself got SIGINT and cleaned up (holdfast also runs `restic unlock` after a cancel,
      // which removes only stale locks).
      const logs = await cfg.run(["logs", "latest"]);
      expect(logs.stdout).toMatch(/signal interrupt received, cleaning up/);
      resticSaw = "; restic: signal interrupt received, cleaning up";
    }
    console.log(
      `R6 ${c.job}: SIGTERM after ${termAt - started} ms with [${children.join(", ") || "no child"}] running; holdfast exited 143 after ${stopMs} ms${resticSaw}`,
    );
  });

  test("the repositories are consistent afterwards", () => {
    for (const repo of [repoA, repoB]) {
      const check = restic(repo, ["check"]);
      expect(check.code, check.stderr).toBe(0);
    }
  });
});
