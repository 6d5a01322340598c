// S7 against the built CLI's `serve` with real restic on a local repository: restore targets are made
// by holdfast, exclusively, with no symlink followed, and API restores are bounded and serialised.
//
// The repository's password comes from a password_command that waits for a gate file, so every
// restic the server starts (the snapshot lookup, then the restore) stays at its start — alive,
// nothing written — until the test opens the gate. A restore holds its slot from its request on, so
// the requests are answered (429/409/400 at once, 202 after the server's ~5 s wait) while the gate
// is still shut. That makes the races deterministic:
// - the symlink race: restore A into `race` is started; then restore B into `race/link/x`, which on
//   the day it is checked leads nowhere; then `race/link` becomes a symlink to a directory outside the
//   restore root (the test plants it, as restore A's restic would when its snapshot holds one); then
//   the gate opens. Nothing may arrive outside;
// - existing targets (a directory, a symlink to one, a directory on the way that others may write
//   in) are refused and no restic starts for them;
// - 12 concurrent restores: at most the bound run, the rest are 429 with Retry-After;
// - two restores into one target at once: one runs, the other is refused.
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { processesMatching, waitFor } from "../helpers/reliability.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { serve } from "../server/serve-helper.js";
import { walkFiles } from "./scan.js";

const BOUND = 2;
let dir: string;
let src: string;
let restoreRoot: string;
let outside: string;
let gate: string;
let configFile: string;

beforeAll(async () => {
  dir = makeSharedDir("holdfast-s7-");
  src = path.join(dir, "data");
  fs.mkdirSync(path.join(src, "sub"), { recursive: true });
  fs.writeFileSync(path.join(src, "a.txt"), "restored content\n");
  fs.writeFileSync(path.join(src, "sub", "b.txt"), "second file\n");
  const passFile = writePassword(path.join(dir, "secrets", "repo.pass"), "s7-password-0d9c");
  resticInit({ repo: path.join(dir, "repo"), passwordFile: passFile });
  gate = path.join(dir, "gate-open");
  const gatedPassword = path.join(dir, "gated-password.sh");
  fs.writeFileSync(
    gatedPassword,
    `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\ncat '${passFile}'\n`,
    { mode: 0o700 },
  );
  restoreRoot = path.join(dir, "restores");
  fs.mkdirSync(restoreRoot, { mode: 0o700 });
  outside = path.join(dir, "outside");
  fs.mkdirSync(outside);
  configFile = path.join(dir, "holdfast.json");
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      version: 1,
      state_dir: path.join(dir, "state"),
      host: "testhost",
      repositories: { local: { url: path.join(dir, "repo"), password_command: [gatedPassword] } },
      sources: { data: { paths: [src] } },
      jobs: { nightly: { steps: [{ name: "data", type: "backup", source: "data", repos: ["local"] }] } },
      server: { restore_root: restoreRoot },
    }),
  );
  fs.writeFileSync(gate, "");
  const run = await runCli(["--config", configFile, "run", "nightly"]);
  expect(run.code, run.stderr).toBe(0);
  fs.rmSync(gate);
});

/** The restores this file started: restic itself and the `holdfast restore` children of serve. */
const restics = () => processesMatching(dir).filter((p) => /(^|\/)restic .*\brestore\b/.test(p.cmdline));
/** Restores waiting at the gate: their password_command is running. */
const atGate = () => processesMatching(dir).filter((p) => /gated-password\.sh/.test(p.cmdline));
const restoreChildren = () => processesMatching(dir).filter((p) => / restore local /.test(p.cmdline));

afterEach(async () => {
  // Let whatever is still waiting finish, then close the gate for the next test.
  fs.writeFileSync(gate, "");
  await restoresEnded();
  fs.rmSync(gate, { force: true });
});
afterAll(() => removeDir(dir));

/** Status URLs of the restores the server accepted (202), to wait for their end. */
let accepted: string[] = [];

async function postRestore(base: string, target: string, snapshot?: string): Promise<Response> {
  const res = await fetch(`${base}/api/restore`, {
    method: "POST",
    headers: { "X-Holdfast-Request": "1", "Content-Type": "application/json" },
    body: JSON.stringify({ repo: "local", target, snapshot }),
  });
  if (res.status === 202) {
    const op = (await res.clone().json()) as { status_url: string };
    accepted.push(`${base}${op.status_url}`);
  }
  return res;
}

/** Waits until every accepted restore has ended (its snapshot lookup, then restic) and no process of
 * this file is left. */
async function restoresEnded(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const url of accepted) {
    for (;;) {
      const op = (await (await fetch(url)).json()) as { state: string };
      if (op.state !== "running") break;
      if (Date.now() > deadline) throw new Error(`restore ${url} still running after 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  accepted = [];
  await waitFor(
    () => restoreChildren().length === 0 && restics().length === 0 && atGate().length === 0,
    60_000,
    "the restores' processes to end",
  );
}

const restoredFile = (target: string) => path.join(restoreRoot, target, src, "a.txt");

describe("S7: restores through the API", () => {
  it("a symlink swapped into a checked target's path is never followed", async () => {
    const s = await serve(configFile, "127.0.0.1:0");
    // The server lists the snapshots once with the gate open; restore A names its snapshot by id, so
    // it is found in that listing and A's restic restore itself is what waits at the gate.
    fs.writeFileSync(gate, "");
    const listed = (await (await fetch(`${s.base}/api/repositories/local/snapshots`)).json()) as {
      snapshots: Array<{ id: string }>;
    };
    fs.rmSync(gate);
    const snapshotId = listed.snapshots[0]?.id;
    expect(snapshotId).toMatch(/^[0-9a-f]{64}$/);
    const first = postRestore(s.base, "race", snapshotId);
    // Restore A is under way — its restic started, waiting at the gate — before B is asked for.
    await waitFor(() => restics().length === 1, 30_000, "restore A's restic to start");
    const second = postRestore(s.base, "race/link/x");
    let answeredB = false;
    void second.then(() => (answeredB = true));
    await waitFor(() => answeredB || restics().length === 2, 30_000, "restore B to be refused or started");
    // What restore A's restic would write from its snapshot: a symlink to a directory outside the root.
    fs.mkdirSync(path.join(restoreRoot, "race"), { recursive: true });
    fs.symlinkSync(outside, path.join(restoreRoot, "race", "link"));
    const [a, b] = await Promise.all([first, second]);
    fs.writeFileSync(gate, "");
    const aOp = (await a.clone().json()) as { status_url: string };
    await restoresEnded();
    const aEnd = await (await fetch(`${s.base}${aOp.status_url}`)).text();

    expect(walkFiles(outside), "files written outside the restore root").toEqual([]);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(a.status).toBe(202);
    expect(b.status, await b.clone().text()).toBe(409);
    const refused = (await b.json()) as { error: { kind: string; message: string } };
    expect(refused.error.kind).toBe("conflict");
    expect(refused.error.message).toContain("is running");
    expect(fs.existsSync(restoredFile("race")), aEnd).toBe(true);
    expect(fs.readFileSync(restoredFile("race"), "utf8")).toBe("restored content\n");
    // The directory the server made is private.
    expect(fs.statSync(path.join(restoreRoot, "race")).mode & 0o777).toBe(0o700);

    // Once A has finished, B's path leads through the symlink A left: refused, not followed.
    const later = await postRestore(s.base, "race/link/x");
    expect(later.status).toBe(400);
    expect(fs.readdirSync(outside)).toEqual([]);
    console.log(
      `S7 race: A 202, B (into A's tree, then a symlink planted) ${b.status}; outside the root: nothing`,
    );
  });

  it("refuses existing targets, symlinked ones and paths through directories others can write in", async () => {
    const s = await serve(configFile, "127.0.0.1:0");
    fs.mkdirSync(path.join(restoreRoot, "existing"));
    fs.mkdirSync(path.join(restoreRoot, "empty"));
    fs.symlinkSync(path.join(restoreRoot, "empty"), path.join(restoreRoot, "link-to-empty"));
    fs.mkdirSync(path.join(restoreRoot, "shared"));
    fs.chmodSync(path.join(restoreRoot, "shared"), 0o1777);
    const cases: Array<[string, number]> = [
      ["existing", 409],
      ["link-to-empty", 409],
      ["link-to-empty/new", 400],
      ["shared/new", 400],
    ];
    const statuses: string[] = [];
    for (const [target, expected] of cases) {
      const res = await postRestore(s.base, target);
      const body = (await res.json()) as { error?: { kind: string; message: string; hint: string } };
      statuses.push(`${target} ${res.status}`);
      expect(res.status, `${target}: ${JSON.stringify(body)}`).toBe(expected);
      expect(body.error?.hint, target).toBeTruthy();
    }
    expect(restoreChildren()).toEqual([]);
    expect(restics()).toEqual([]);
    expect(fs.readdirSync(path.join(restoreRoot, "empty"))).toEqual([]);
    expect(fs.readdirSync(path.join(restoreRoot, "shared"))).toEqual([]);
    console.log(`S7 existing targets: ${statuses.join(", ")}; no restore started`);
  });

  it("12 concurrent restores: at most the bound run, the rest are 429 with Retry-After", async () => {
    const s = await serve(configFile, "127.0.0.1:0");
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => postRestore(s.base, `many-${i}`)));
    const running = restics().length;
    const byStatus = new Map<number, number>();
    for (const r of answers) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 202: BOUND, 429: 12 - BOUND });
    expect(running).toBeLessThanOrEqual(BOUND);
    for (const r of answers.filter((a) => a.status === 429)) {
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = (await r.json()) as { error: { kind: string; message: string; hint: string } };
      expect(body.error.kind).toBe("busy");
      expect(body.error.message).toContain(`at most ${BOUND}`);
    }
    // Refused requests made nothing.
    const made = fs.readdirSync(restoreRoot).filter((n) => n.startsWith("many-"));
    expect(made).toHaveLength(BOUND);

    // When they have finished, the slots are free again.
    fs.writeFileSync(gate, "");
    await restoresEnded();
    const again = await postRestore(s.base, "many-after");
    // 200 when it ended within the server's wait (the gate is open now), else 202.
    expect([200, 202], await again.clone().text()).toContain(again.status);
    if (again.status === 200) expect(((await again.json()) as { state: string }).state).toBe("succeeded");
    console.log(
      `S7 bound: 12 concurrent requests → ${[...byStatus].map(([k, v]) => `${v}× ${k}`).join(", ")}; ` +
        `${running} restic restores running at once`,
    );
  });

  it("two restores into one target at once: one runs, the other is refused", async () => {
    const s = await serve(configFile, "127.0.0.1:0");
    const answers = await Promise.all([postRestore(s.base, "twice"), postRestore(s.base, "twice")]);
    const statuses = answers.map((a) => a.status).sort();
    const running = restics().length;
    expect(statuses).toEqual([202, 409]);
    expect(running).toBeLessThanOrEqual(1);
    fs.writeFileSync(gate, "");
    await restoresEnded();
    expect(fs.readFileSync(restoredFile("twice"), "utf8")).toBe("restored content\n");
    console.log(`S7 same target twice → ${statuses.join(" and ")}; ${running} restic running`);
  });

  it("holdfast restore --target: makes a new target 0700, refuses one that other users may write in", async () => {
    fs.writeFileSync(gate, "");
    const shared = path.join(dir, "cli-shared");
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const refused = await runCli(["--config", configFile, "restore", "local", "--target", shared]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/other users may write in it \(mode 1777\)\nhint: /);
    expect(fs.readdirSync(shared)).toEqual([]);

    const fresh = path.join(dir, "cli-new", "deeper");
    const ok = await runCli(["--config", configFile, "restore", "local", "--target", fresh]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(fresh, src, "a.txt"), "utf8")).toBe("restored content\n");
  });
});
