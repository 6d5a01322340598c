// R12: a step's child leaves a background process holding its output (`sh -c 'sleep 300 &'`: the
// background job inherits the step's stdout/stderr). What must hold: the step is judged by the leader's
// exit (never `timed_out`), the leftover is named (pid and command line) in a `warning`, it is ended,
// the job goes on to its next step, and holdfast does not linger: it exits within the leftover grace
// (2 s) plus its own start/stop cost after the leader exited. The figure is holdfast's exit time after
// the leader's exit, for an exec step, for a backup step whose restic leaves a child (restic.binary is a
// wrapper script that backgrounds a sleep and then execs the real restic — a fake only in what it adds),
// and for a notifier command that does the same.
//
// Each background sleep has a unique fractional duration (sleep 300.NNN) that marks it in /proc.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { killMatching, processesMatching } from "../helpers/reliability.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";

let root: string;
let cfg: TestConfig;
let repo: { repo: string; passwordFile: string };
const tag = String(process.pid).slice(-4);
const marks = { exec: `300.1${tag}`, restic: `300.2${tag}`, notify: `300.3${tag}` };
const figures: string[] = [];

beforeAll(() => {
  root = makeSharedDir("holdfast-r12-");
  const src = path.join(root, "src");
  fs.mkdirSync(src);
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, `f${i}.txt`), `file ${i}\n`);
  repo = { repo: path.join(root, "repo"), passwordFile: writePassword(path.join(root, "pw"), "r12-pw") };
  resticInit(repo);
  // Only `backup` leaves a child, so version detection and the guard's snapshot listing are normal.
  const wrapper = path.join(root, "restic-wrapper");
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" backup "*) sleep ${marks.restic} & ;; esac\nexec /usr/bin/restic "$@"\n`,
    { mode: 0o755 },
  );
  const leaderExit = (name: string) => `date +%s%3N > ${root}/${name}.exit`;
  cfg = writeTestConfig(root, {
    restic: { binary: wrapper },
    repositories: { r: { url: repo.repo, password_file: repo.passwordFile } },
    sources: { s: { paths: [src] } },
    notifications: {
      cmd: {
        type: "command",
        events: ["warning", "success"],
        command: ["/bin/sh", "-c", `sleep ${marks.notify} & ${leaderExit("notify")}`],
      },
    },
    jobs: {
      exec: {
        steps: [
          {
            name: "bg",
            type: "exec",
            timeout: "20s",
            shell: `sleep ${marks.exec} & echo started; ${leaderExit("exec")}`,
          },
          { name: "after", type: "exec", command: ["true"] },
        ],
      },
      backup: { steps: [{ name: "backup", type: "backup", source: "s", repos: ["r"], timeout: "30s" }] },
      notified: { notify: ["cmd"], steps: [{ name: "quick", type: "exec", command: ["true"] }] },
    },
  });
});

afterAll(async () => {
  for (const m of Object.values(marks)) await killMatching(`sleep ${m}`);
  removeDir(root);
  if (figures.length > 0) console.log(`R12 figures:\n${figures.join("\n")}`);
});

/** Runs the job; returns the run record, the exit code and ms from the leader's exit to holdfast's. */
async function runTimed(job: string, leaderFile: string) {
  const child = startCli(["--config", cfg.file, "run", job, "--json"], {
    cwd: root,
    env: { XDG_STATE_HOME: path.join(root, "xdg-state") },
  });
  const result = await collect(child, { timeoutMs: 120_000 });
  const exitedAt = Date.now();
  const leaderAt = Number(fs.readFileSync(path.join(root, leaderFile), "utf8").trim());
  return { result, run: parseJson(result), afterLeaderMs: exitedAt - leaderAt };
}

describe("R12: a child leaves a background process holding the output", () => {
  test("exec step: judged by its exit, the leftover named and ended, the job goes on, no lingering", async () => {
    const { result, run, afterLeaderMs } = await runTimed("exec", "exec.exit");
    expect(result.code).toBe(3);
    const [bg, after] = run.steps;
    expect(bg.status).toBe("warning");
    expect(bg.exit_code).toBe(0);
    expect(bg.error.kind).toBe("leftover_process");
    expect(bg.error.message).toMatch(new RegExp(`pid \\d+ \\(sleep ${marks.exec.replace(".", "\\.")}\\)`));
    expect(after.status).toBe("succeeded");
    expect(processesMatching(`sleep ${marks.exec}`)).toEqual([]);
    figures.push(`  exec step:      holdfast exited ${afterLeaderMs} ms after the leader (grace 2000 ms)`);
    expect(afterLeaderMs).toBeLessThan(10_000);
    const log = await cfg.run(["logs", run.id, "--step", "bg"]);
    expect(log.stdout).toContain("started");
    expect(log.stdout).toMatch(/warning: \/bin\/sh exited \(0\) but left pid \d+/);
  });

  test("backup step whose restic leaves a child: a snapshot, a warning naming it, no timeout", async () => {
    const before = resticSnapshots(repo).length;
    const started = Date.now();
    const result = await cfg.run(["run", "backup", "--json"], { timeoutMs: 120_000 });
    const wall = Date.now() - started;
    const run = parseJson(result);
    expect(result.code).toBe(3);
    const step = run.steps[0];
    expect(step.status).toBe("warning");
    expect(step.error.kind).toBe("leftover_process");
    expect(step.error.message).toContain(`sleep ${marks.restic}`);
    expect(step.targets[0].snapshot_id).toMatch(/^[0-9a-f]{8,64}$/);
    expect(resticSnapshots(repo).length).toBe(before + 1);
    expect(processesMatching(`sleep ${marks.restic}`)).toEqual([]);
    figures.push(`  backup step:    the whole run took ${wall} ms (restic + 2000 ms grace)`);
  });

  test("a notifier command that leaves a child does not keep holdfast alive", async () => {
    const { result, run, afterLeaderMs } = await runTimed("notified", "notify.exit");
    expect(result.code).toBe(0);
    expect(run.status).toBe("succeeded");
    expect(processesMatching(`sleep ${marks.notify}`)).toEqual([]);
    figures.push(`  notifier:       holdfast exited ${afterLeaderMs} ms after the notifier's leader`);
    expect(afterLeaderMs).toBeLessThan(10_000);
  });
});
