// R2: the REST backend (`rclone serve restic` on 127.0.0.1) is SIGKILLed mid-backup (48 MiB of random
// data, limit_upload 8 MiB/s, so the upload lasts several seconds).
//  (a) restarted after 5 s: restic retries and the step succeeds; the repository is clean.
//  (b) never restarted (until the checks afterwards): the step fails with kind `network` within its
//      timeout — holdfast's early network verdict stops restic (SIGINT) a kill grace plus 5 s before
//      the deadline when restic's last words were backend retries, instead of letting the step end
//      `timed_out` — and it is retried per `retries` (every attempt counted and logged: the later
//      attempts meet a server that refuses connections, restic fails at once, still `network`).
//      Afterwards, with the server back: `holdfast unlock`, then `restic check` is clean.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import { processesMatching, sleep, waitFor } from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  restic,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
  type RestServer,
} from "../helpers/restic-backends.js";

let root: string;
let src: string;
let rest: RestServer;

beforeAll(async () => {
  root = makeSharedDir("holdfast-r2-");
  src = path.join(root, "src");
  fs.mkdirSync(src);
  for (let i = 0; i < 6; i++)
    fs.writeFileSync(path.join(src, `f${i}.bin`), crypto.randomBytes(8 * 1024 * 1024));
  rest = await startRestServer(root);
});

afterAll(async () => {
  await rest?.stop();
  removeDir(root);
});

/** The repository's restic.open_timeout: a retry against a backend that is gone (restic 0.17+ retries opening
 * it for 15 minutes) ends within it plus 10 s (targets.md P11). */
const OPEN_TIMEOUT_MS = 5_000;

function setup(name: string, step: Record<string, unknown>) {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const passwordFile = writePassword(path.join(dir, "pw"), `pw-${name}`);
  const target = { repo: `${rest.base}${name}`, passwordFile };
  resticInit(target);
  const cfg = writeTestConfig(dir, {
    repositories: {
      r: {
        url: target.repo,
        password_file: passwordFile,
        limit_upload: 8192,
        open_timeout: `${OPEN_TIMEOUT_MS / 1000}s`,
      },
    },
    sources: { s: { paths: [src] } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"], ...step }] } },
  });
  return { cfg, target };
}

/** Resolves once restic has stored pack files in the server's copy of the repository. */
async function waitForUpload(repo: string): Promise<void> {
  const packs = path.join(rest.dataDir, repo, "data");
  const count = () => {
    let n = 0;
    if (fs.existsSync(packs))
      for (const d of fs.readdirSync(packs)) n += fs.readdirSync(path.join(packs, d)).length;
    return n;
  };
  await waitFor(() => count() > 0, 60_000, "restic to upload a pack");
}

const locksOf = (target: { repo: string; passwordFile: string }) =>
  restic(target, ["list", "locks"]).stdout.split("\n").filter(Boolean);

describe("R2: the REST backend killed mid-backup", () => {
  test("(a) restarted after 5 s: the outage is absorbed, the step succeeds, the repository is clean", async () => {
    const { cfg, target } = setup("short", { timeout: "5m" });
    const started = Date.now();
    const done = collect(startCli(["--config", cfg.file, "run", "--json"], { cwd: root }), {
      timeoutMs: 300_000,
    });
    await waitForUpload("short");
    const killedAt = Date.now();
    await rest.stop(true);
    await sleep(5_000);
    await rest.start();
    const result = await done;
    expectExit(result, 0);
    const run = parseJson(result);
    expect(run.steps[0]).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(run.steps[0].targets[0]).toMatchObject({ status: "succeeded", total_files_processed: 6 });
    const logs = await cfg.run(["logs", "latest"]);
    const retries = logs.stdout
      .split("\n")
      .filter((l) => l.includes("returned error, retrying after")).length;
    expect(retries).toBeGreaterThan(0);
    expect(locksOf(target)).toEqual([]);
    const check = restic(target, ["check"]);
    expect(check.code, check.stderr).toBe(0);
    expect(resticSnapshots(target)).toHaveLength(1);
    console.log(
      `R2 (a): server killed ${killedAt - started} ms into the run, back 5 s later; the step succeeded after ${run.steps[0].duration_ms} ms with ${retries} restic retry lines; check clean, no lock left`,
    );
  });

  test("(b) never restarted: failed, kind network, within the timeout, retried per policy; consistent after unlock", async () => {
    const timeoutMs = 30_000;
    const { cfg, target } = setup("long", { timeout: "30s", retries: 2, retry_delay: "1s" });
    const started = Date.now();
    const child = startCli(["--config", cfg.file, "run", "--json"], { cwd: root });
    const done = collect(child, { timeoutMs: 300_000 });
    // When the first attempt (the one cut mid-upload) gave up, as the terminal shows it.
    let firstAttemptEnded = 0;
    child.stderr?.on("data", (d: string) => {
      if (!firstAttemptEnded && String(d).includes("attempt 1 failed")) firstAttemptEnded = Date.now();
    });
    await waitForUpload("long");
    const killedAt = Date.now();
    await rest.stop(true);
    const result = await done;
    const endedAt = Date.now();
    expectExit(result, 1);
    const run = parseJson(result);
    const step = run.steps[0];
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("network");
    expect(step.error.hint).toBeTruthy();
    // Every attempt was made and recorded (retries: 2 → 3 attempts), each failing as `network`.
    expect(step.attempts).toBe(3);
    const logs = (await cfg.run(["logs", "latest"])).stdout;
    expect(logs).toMatch(/attempt 1 failed \(network\); retrying in 1(\.0)?s/);
    expect(logs).toMatch(/attempt 2 failed \(network\); retrying in 2(\.0)?s/);
    // Within the timeout: the first attempt (the one cut mid-upload) ended before its deadline, and the
    // whole step took at most one timeout plus the retries (each within open_timeout + 10 s: at once on
    // restic 0.14, stopped by the open watch on 0.18) and their delays.
    expect(firstAttemptEnded).toBeGreaterThan(0);
    const firstAttemptMs = firstAttemptEnded - started; // from the CLI's start: an upper bound
    expect(firstAttemptMs).toBeLessThan(timeoutMs);
    expect(step.duration_ms).toBeLessThan(timeoutMs + 3_000 + 2 * (OPEN_TIMEOUT_MS + 10_000));
    expect(step.error.message).toMatch(/stopped answering|connection refused|Is there a repository/i);
    console.log(
      `R2 (b): server killed ${killedAt - started} ms into the run; step failed (network) after ${step.duration_ms} ms and 3 attempts (timeout ${timeoutMs} ms per attempt); attempt 1 gave up ${firstAttemptEnded - killedAt} ms after the kill, ${firstAttemptMs} ms after the CLI start; CLI exited after ${endedAt - started} ms; message: ${step.error.message.slice(0, 160)}`,
    );
    expect(processesMatching(path.join(root, "long"))).toEqual([]);

    // The server comes back: restic's lock may have stayed behind (restic was stopped while its
    // backend was gone); `holdfast unlock` removes it and the repository checks clean.
    await rest.start();
    const unlock = await cfg.run(["unlock", "r", "--json"]);
    expectExit(unlock, 0);
    const removed = parseJson(unlock).repositories[0].removed.length as number;
    expect(locksOf(target)).toEqual([]);
    const check = restic(target, ["check"]);
    expect(check.code, check.stderr).toBe(0);
    // And the next run of the job succeeds.
    const next = await cfg.run(["run", "--json"]);
    expectExit(next, 0);
    expect(resticSnapshots(target)).toHaveLength(1);
    console.log(
      `R2 (b): after the server came back, unlock removed ${removed} lock(s); check clean; next run ok`,
    );
  });
});
