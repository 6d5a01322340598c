// Faults during a backup (targets.md R2, R6): the REST server killed mid-backup and restarted within
// seconds (absorbed: the step succeeds), or never restarted (the step fails with kind `network`
// within its timeout; after `holdfast unlock`, `restic check` is clean); SIGTERM to holdfast during a
// backup (restic gets SIGINT, removes its lock, the run is `cancelled`, exit 143).
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  startRestServer,
  writePassword,
  type RestServer,
} from "../helpers/restic-backends.js";

let root: string;
let src: string;

beforeAll(() => {
  root = makeSharedDir("holdfast-interrupt-");
  src = path.join(root, "src");
  fs.mkdirSync(src);
  // 48 MiB of incompressible data; with limit_upload the backup takes several seconds.
  for (let i = 0; i < 6; i++)
    fs.writeFileSync(path.join(src, `f${i}.bin`), crypto.randomBytes(8 * 1024 * 1024));
});

afterAll(() => removeDir(root));

function setup(name: string, repository: { url: string }, stepTimeout: string) {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const passwordFile = writePassword(path.join(dir, "pw"), `pw-${name}`);
  const target = { repo: repository.url, passwordFile };
  resticInit(target);
  const cfg = writeTestConfig(dir, {
    repositories: { r: { ...repository, password_file: passwordFile, limit_upload: 8000 } },
    sources: { s: { paths: [src] } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"], timeout: stepTimeout }] } },
  });
  return { cfg, target };
}

/** Resolves once restic has started uploading pack files into the REST server's repository. */
async function waitForUpload(dataDir: string, repo: string): Promise<void> {
  const until = Date.now() + 30_000;
  const packs = path.join(dataDir, repo, "data");
  while (Date.now() < until) {
    let n = 0;
    if (fs.existsSync(packs))
      for (const d of fs.readdirSync(packs)) n += fs.readdirSync(path.join(packs, d)).length;
    if (n > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("restic never uploaded anything");
}

function locksOf(target: { repo: string; passwordFile: string }): string[] {
  return restic(target, ["list", "locks", "--no-lock"]).stdout.split("\n").filter(Boolean);
}

describe("interruptions", () => {
  let rest: RestServer;
  beforeAll(async () => {
    rest = await startRestServer(root);
  });
  afterAll(async () => rest?.stop());

  it("REST server killed mid-backup and back within seconds: the step succeeds, the repository is clean", async () => {
    const { cfg, target } = setup("short-outage", { url: `${rest.base}short` }, "5m");
    const child = startCli(["--config", cfg.file, "run", "--json"]);
    const done = collect(child, { timeoutMs: 240_000 });
    await waitForUpload(rest.dataDir, "short");
    await rest.stop(true);
    await new Promise((r) => setTimeout(r, 3_000));
    await rest.start();
    const result = await done;
    expectExit(result, 0);
    const run = parseJson(result);
    expect(run.steps[0].targets[0]).toMatchObject({ status: "succeeded", total_files_processed: 6 });
    expect(locksOf(target)).toEqual([]);
    expect(restic(target, ["check"]).code).toBe(0);
  });

  it("REST server killed and never back: kind network within the step's timeout; after `holdfast unlock`, restic check is clean", async () => {
    const { cfg, target } = setup("long-outage", { url: `${rest.base}long` }, "25s");
    const child = startCli(["--config", cfg.file, "run", "--json"]);
    const done = collect(child, { timeoutMs: 120_000 });
    await waitForUpload(rest.dataDir, "long");
    await rest.stop(true);
    const result = await done;
    expectExit(result, 1);
    const run = parseJson(result);
    const step = run.steps[0];
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("network");
    expect(step.error.message).toMatch(/stopped answering/);
    expect(step.error.hint).toBeTruthy();
    expect(step.duration_ms).toBeLessThan(25_000);

    await rest.start();
    // restic was stopped with SIGINT and then killed while its backend was gone: its lock stayed.
    expect(locksOf(target).length).toBeGreaterThan(0);
    expect(restic(target, ["check"]).code).not.toBe(0);
    const unlock = await cfg.run(["unlock", "r", "--json"]);
    expectExit(unlock, 0);
    expect(parseJson(unlock).repositories[0].removed.length).toBeGreaterThan(0);
    const check = restic(target, ["check"]);
    expect(check.code, check.stderr).toBe(0);
    expect(locksOf(target)).toEqual([]);
  });

  it("SIGTERM to holdfast during a backup: restic gets SIGINT, no lock is left, the run is cancelled, exit 143", async () => {
    const dir = path.join(root, "sigterm");
    const { cfg, target } = setup("sigterm", { url: path.join(dir, "repo") }, "5m");
    const child = startCli(["--config", cfg.file, "run"]);
    const done = collect(child, { timeoutMs: 120_000 });
    // Wait until restic is running (and has its lock).
    const until = Date.now() + 30_000;
    let resticPid: number | null = null;
    while (Date.now() < until && resticPid === null) {
      const ps = spawnSync("pgrep", ["-f", `restic .*backup .*${src}`], { encoding: "utf8" });
      const pids = ps.stdout.split("\n").filter(Boolean).map(Number);
      if (pids.length > 0 && locksOf(target).length > 0) resticPid = pids[0]!;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(resticPid).not.toBeNull();
    child.kill("SIGTERM");
    const result = await done;
    expect(result.code).toBe(143);
    // restic is gone, and it removed its own lock (it got SIGINT: on SIGTERM restic 0.14 leaves it).
    expect(spawnSync("kill", ["-0", String(resticPid)]).status).not.toBe(0);
    expect(locksOf(target)).toEqual([]);
    const show = await cfg.run(["show", "latest", "--json"]);
    const run = parseJson(show);
    expect(run.status).toBe("cancelled");
    expect(run.exit_code).toBe(143);
    expect(run.steps[0].status).toBe("cancelled");
    const logs = await cfg.run(["logs", "latest"]);
    expect(logs.stdout).toMatch(/signal interrupt received, cleaning up/);
  });
});
