// R1: holdfast SIGKILLed at seeded-random moments of a real run (HOLDFAST_R1_TRIALS, default 20;
// HOLDFAST_R1_SEED replays a sequence). The job: an exec step, a backup of 3,000 small files to a
// local restic repository, forget with prune, check. The moments are spread over the duration of a
// full run measured first (and, one trial in five, over the CLI's start-up before the run exists). After each kill: the history DB passes PRAGMA integrity_check, `status --json` shows
// the killed run `interrupted`, `holdfast unlock` then a new run succeed, and `restic check` is clean.
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { killMatching, seededRandom, sleep, waitFor, writeSmallFiles } from "../helpers/reliability.js";
import { makeSharedDir, removeDir, restic, resticInit, writePassword } from "../helpers/restic-backends.js";

const TRIALS = Number(process.env.HOLDFAST_R1_TRIALS ?? 20);
const SEED = Number(process.env.HOLDFAST_R1_SEED ?? Date.now() % 1_000_000);

let root: string;
let cfg: TestConfig;
let target: { repo: string; passwordFile: string };

beforeAll(() => {
  root = makeSharedDir("holdfast-r1-");
  const src = path.join(root, "src");
  writeSmallFiles(src, 3000);
  target = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r1-pw") };
  resticInit(target);
  cfg = writeTestConfig(root, {
    repositories: { r: { url: target.repo, password_file: target.passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      j: {
        steps: [
          { name: "hello", type: "exec", command: ["sh", "-c", `sleep 0.3; echo hello > ${root}/hello.out`] },
          { name: "backup", type: "backup", source: "s", repos: ["r"] },
          { name: "retention", type: "forget", repos: ["r"], keep: { last: 2 }, prune: true },
          { name: "check", type: "check", repos: ["r"] },
        ],
      },
    },
  });
});

afterAll(() => removeDir(root));

/** A new file per run, so every backup has something to store and prune has something to remove. */
function touchSource(n: number) {
  fs.writeFileSync(path.join(root, "src", "d0", `changing-${n % 3}.txt`), `run ${n} ${Date.now()}\n`);
}

function integrityCheck(): string {
  const db = new Database(path.join(cfg.stateDir, "history.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.pragma("integrity_check", { simple: true }) as string) ?? "no answer";
  } finally {
    db.close();
  }
}

/** Run log directories: one appears when a run's first step starts. */
function runLogDirs(): number {
  const logs = path.join(cfg.stateDir, "logs");
  return fs.existsSync(logs) ? fs.readdirSync(logs).length : 0;
}

test(`R1: SIGKILL at ${TRIALS} seeded-random moments of a run`, async () => {
  console.log(`R1: seed ${SEED} (HOLDFAST_R1_SEED=${SEED} replays it)`);
  const random = seededRandom(SEED);
  touchSource(0);
  const first = await cfg.run(["run", "-q"]);
  expectExit(first, 0);
  // The second run is the one the trials cut: an incremental backup, a forget with something to prune.
  touchSource(1);
  const full = await cfg.run(["run", "-q"]);
  expectExit(full, 0);
  const record = parseJson(await cfg.run(["show", "latest", "--json"]));
  const runMs = record.duration_ms as number;
  const startupMs = Math.max(300, full.durationMs - runMs);
  console.log(
    `R1: a full run takes ${runMs} ms as recorded (${full.durationMs} ms with the CLI's start-up; first run ${first.durationMs} ms)`,
  );

  let before = 2; // runs in the history so far
  const rows: string[] = [];
  for (let trial = 1; trial <= TRIALS; trial++) {
    const t0 = Date.now();
    touchSource(trial + 1);
    const logDirs = runLogDirs();
    // Four trials in five cut the run itself: the moment is counted from the run's start (its log
    // directory appears with the first step), spread over a full run's recorded duration. Every fifth
    // cuts the start-up (config, lock, history), counted from the process start over the start-up time.
    const duringStartup = trial % 5 === 0;
    // (Up to 90% of the measured duration: a run can be quicker than the measured one, and a kill
    // after its end proves nothing.)
    const at = Math.round(
      (duringStartup ? startupMs : runMs) * (0.02 + (duringStartup ? 0.96 : 0.88) * random()),
    );
    const child = startCli(["--config", cfg.file, "run", "-q"], { cwd: root });
    const done = collect(child, { timeoutMs: 120_000 });
    if (!duringStartup)
      await waitFor(() => runLogDirs() > logDirs || child.exitCode !== null, 60_000, "the run to start");
    await sleep(at);
    child.kill("SIGKILL");
    const killed = await done;
    // restic and the exec step's children run in their own process groups (so a Ctrl-C reaches
    // holdfast alone, and holdfast stops them itself with SIGINT); after a SIGKILL holdfast cannot reap
    // them, and a restic orphan keeps working (and holding its lock). End them before the checks, as a
    // supervisor or a reboot would. They are found by this test's directory in their argv or environment.
    const orphans = await killMatching(root);

    expect(integrityCheck(), `trial ${trial}`).toBe("ok");
    const statusResult = await cfg.run(["status", "--json"]);
    expectExit(statusResult, 0);
    const last = parseJson(statusResult).jobs[0].last_run;
    const history = await cfg.run(["history", "--json", "--limit", "1000"]);
    expectExit(history, 0);
    const runs = parseJson(history).runs;
    const after = runs.length as number;
    let shown: string;
    if (killed.code === 0) {
      shown = "finished first";
      expect(last.status).toBe("succeeded");
    } else if (after === before) {
      // Killed before the run record existed (while loading the config or taking the lock).
      expect(duringStartup, `trial ${trial}: no run recorded after a kill ${at} ms into the run`).toBe(true);
      shown = "before the run record";
    } else if (runs[0].status === "succeeded" && after === before + 1) {
      // The run was quicker than the measured one and had finished (every step recorded) when the
      // kill arrived, while the process was still closing down: a complete record, which is right.
      expect(runs[0].steps.map((s: any) => s.status)).toEqual([
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
      ]);
      expect(last.status).toBe("succeeded");
      shown = "finished just before the kill";
    } else {
      expect(after, `trial ${trial}`).toBe(before + 1);
      expect(last.status, `trial ${trial}: killed at ${at} ms`).toBe("interrupted");
      expect(runs[0].status).toBe("interrupted");
      expect(runs[0].steps.filter((s: any) => s.status === "running")).toEqual([]);
      shown = `interrupted during ${runs[0].steps.find((s: any) => s.status === "cancelled")?.name ?? "-"}`;
    }
    const unlock = await cfg.run(["unlock", "r"]);
    expectExit(unlock, 0);
    const next = await cfg.run(["run", "-q"]);
    expectExit(next, 0);
    before = after + 1;
    const check = restic(target, ["check"]);
    expect(check.code, check.stderr).toBe(0);
    const line = `trial ${trial}: kill ${at} ms after the ${duringStartup ? "process" : "run"} start → ${shown}; orphans killed: ${orphans.map((o) => o.cmdline.split(" ").slice(0, 2).join(" ")).join(", ") || "none"}; trial ${Date.now() - t0} ms`;
    rows.push(line);
    console.log(line);
  }
  const interrupted = rows.filter((r) => r.includes("→ interrupted")).length;
  console.log(`R1: ${interrupted}/${TRIALS} kills landed inside a recorded run`);
  expect(interrupted).toBeGreaterThanOrEqual(Math.floor(TRIALS / 2));
});
