// R9: the reader of holdfast's output goes away mid-run (`holdfast run | head`, a pager quit, journald
// restarted). HOLDFAST_R9_TRIALS (default 12) runs of a real job — a chatty exec step, a backup of
// 2,000 small files to a local restic repository, a last exec step — each with stdout or stderr
// (alternating; stderr carries the run's lines with --json) closed by its reader after a seeded-random
// number of bytes (HOLDFAST_R9_SEED replays). What must hold in every trial: the run goes on to its
// end (exit 0, every step succeeded, the snapshot made), it is recorded as it ended, and no stack trace
// or EPIPE reaches the stream that is still open.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CLI, parseJson, runCli } from "../helpers/cli.js";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { STACK_TRACE, seededRandom, writeSmallFiles } from "../helpers/reliability.js";
import { makeSharedDir, removeDir, restic, resticInit, writePassword } from "../helpers/restic-backends.js";

const TRIALS = Number(process.env.HOLDFAST_R9_TRIALS ?? 12);
const SEED = Number(process.env.HOLDFAST_R9_SEED ?? Date.now() % 1_000_000);

let root: string;
let cfg: TestConfig;
let target: { repo: string; passwordFile: string };

beforeAll(() => {
  root = makeSharedDir("holdfast-r9-");
  const src = path.join(root, "src");
  writeSmallFiles(src, 2000);
  target = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r9-pw") };
  resticInit(target);
  cfg = writeTestConfig(root, {
    repositories: { r: { url: target.repo, password_file: target.passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      j: {
        steps: [
          {
            name: "chatty",
            type: "exec",
            command: ["sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo line $i; i=$((i+1)); done"],
          },
          { name: "backup", type: "backup", source: "s", repos: ["r"] },
          { name: "last", type: "exec", command: ["sh", "-c", "sleep 0.2; echo last"] },
        ],
      },
    },
  });
});

afterAll(() => removeDir(root));

function runClosingAfter(
  which: "stdout" | "stderr",
  bytes: number,
): Promise<{ code: number | null; open: string }> {
  const args = ["--config", cfg.file, "run", ...(which === "stderr" ? ["--json"] : [])];
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", XDG_CACHE_HOME: path.join(root, "cache") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const closing = which === "stdout" ? child.stdout : child.stderr;
  const open = which === "stdout" ? child.stderr : child.stdout;
  let seen = 0;
  closing.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (seen >= bytes) closing.destroy();
  });
  let kept = "";
  open.setEncoding("utf8").on("data", (d: string) => (kept += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, open: kept })));
}

test(`R9: stdout or stderr closed mid-run (${TRIALS} trials, seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const held: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const which = trial % 2 === 0 ? "stdout" : "stderr";
    // Within the first lines (start, the chatty step) or late in the run (backup's lines).
    const bytes = 1 + Math.floor(random() * (which === "stdout" ? 60_000 : 20_000));
    const label = `trial ${trial} (seed ${SEED}): ${which} closed after ${bytes} bytes`;
    const result = await runClosingAfter(which, bytes);
    expect(result.code, `${label}\n${result.open}`).toBe(0);
    expect(result.open, label).not.toMatch(STACK_TRACE);
    expect(result.open, label).not.toMatch(/EPIPE|internal error/);
    const last = parseJson(await runCli(["--config", cfg.file, "show", "latest", "--json"], { cwd: root }));
    expect(last.status, label).toBe("succeeded");
    expect(
      last.steps.map((s: { status: string }) => s.status),
      label,
    ).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(last.steps[1].targets[0].snapshot_id, label).toMatch(/^[0-9a-f]{8,64}$/);
    held.push(label);
  }
  // Every trial made its snapshot.
  // holdfast's own (not the holdfast-meta snapshots each run also stores).
  const snapshots = JSON.parse(
    restic(target, ["snapshots", "--json", "--tag", "holdfast"]).stdout,
  ) as unknown[];
  expect(snapshots).toHaveLength(TRIALS);
  expect(held).toHaveLength(TRIALS);
});
