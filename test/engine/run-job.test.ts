// Issue 2's checks, through the real CLI: order and failure policy, --step, --dry-run, timeouts,
// one run at a time, signals, crash recovery, status --check, retries, environment, logs, modes.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { describe, expect, test } from "vitest";
import { collect, parseJson, runCli, startCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

function fiveSteps(dir: string, third: string) {
  return writeConfig(
    dir,
    `version: 1
state_dir: ./state
jobs:
  five:
    steps:
      - { name: one, type: exec, command: [echo, one] }
      - { name: two, type: exec, command: [sh, -c, "sleep 0.05; echo two"] }
      - { name: three, type: exec, command: ["false"]${third} }
      - { name: four, type: exec, command: [touch, ${dir}/four-ran] }
      - { name: five, type: exec, command: [echo, five] }
`,
  );
}

const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function processesMatching(marker: string): string[] {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

async function waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One job in a fresh temp dir, for the tests that stop a run while a step sleeps. `steps` writes the
 * job's step lines from the dir and a `sleep` argument no other test uses (`ID.PID…`, a valid
 * number), so pgrep finds this test's sleeps and nothing else. `start` runs `holdfast run ARGS` and
 * resolves once `until` holds (default: `sleep MARKER` runs); `done` is the finished CLI.
 */
function sleepyJob(id: number, job: string, steps: (dir: string, marker: string) => string) {
  const dir = makeTempDir();
  const marker = `${id}.${process.pid}${Date.now() % 1000}`;
  const config = writeConfig(
    dir,
    `version: 1
state_dir: ./state
jobs:
  ${job}:
    steps:
${steps(dir, marker)}`,
  );
  const sleeping = (suffix = "") => processesMatching(`sleep ${marker}${suffix}`);
  return {
    dir,
    config,
    sleeping,
    async start(args: string[], until: () => boolean = () => sleeping().length > 0) {
      const child = startCli(["--config", config, "run", ...args]);
      const done = collect(child);
      await waitFor(until);
      return { child, done };
    },
  };
}

describe("order and failure", () => {
  test("a failed 3rd step stops the job: 1–2 succeeded, 3 failed, 4–5 skipped, exit 1", async () => {
    const dir = makeTempDir();
    const config = fiveSteps(dir, "");
    const result = await runCli(["--config", config, "run", "five", "--json"]);
    expect(result.code, result.stderr).toBe(1);
    const run = parseJson(result);
    expect(run.status).toBe("failed");
    expect(run.exit_code).toBe(1);
    expect(run.steps.map((s: any) => s.status)).toEqual([
      "succeeded",
      "succeeded",
      "failed",
      "skipped",
      "skipped",
    ]);
    expect(fs.existsSync(path.join(dir, "four-ran"))).toBe(false);

    for (const args of [
      ["history", "--json"],
      ["show", run.id, "--json"],
    ]) {
      const out = parseJson(await runCli(["--config", config, ...args]));
      const recorded = args[0] === "history" ? out.runs[0] : out;
      expect(recorded.id).toBe(run.id);
      expect(recorded.started_at).toMatch(isoTime);
      expect(recorded.finished_at).toMatch(isoTime);
      for (const step of recorded.steps.slice(0, 3)) {
        expect(step.started_at).toMatch(isoTime);
        expect(step.finished_at).toMatch(isoTime);
        expect(step.duration_ms).toBeGreaterThanOrEqual(0);
        expect(step.attempts).toBe(1);
      }
      expect(recorded.steps[1].duration_ms).toBeGreaterThanOrEqual(40);
      expect(recorded.steps.map((s: any) => s.exit_code)).toEqual([0, 0, 1, null, null]);
      expect(recorded.steps[2].error.kind).toBe("exit_code");
      expect(recorded.steps[3].started_at).toBeNull();
    }
  });

  test("on_failure: continue runs the rest, and the run is still failed", async () => {
    const dir = makeTempDir();
    const config = fiveSteps(dir, ", on_failure: continue");
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    const run = parseJson(result);
    expect(run.steps.map((s: any) => s.status)).toEqual([
      "succeeded",
      "succeeded",
      "failed",
      "succeeded",
      "succeeded",
    ]);
    expect(run.status).toBe("failed");
    expect(fs.existsSync(path.join(dir, "four-ran"))).toBe(true);
  });

  test("--step runs only the named steps; --dry-run runs nothing and prints the plan", async () => {
    const dir = makeTempDir();
    const config = fiveSteps(dir, "");
    const only = parseJson(await runCli(["--config", config, "run", "five", "--step", "four", "--json"]));
    expect(only.steps.map((s: any) => [s.name, s.status])).toEqual([["four", "succeeded"]]);
    expect(only.status).toBe("succeeded");
    fs.rmSync(path.join(dir, "four-ran"));

    const plan = await runCli(["--config", config, "run", "five", "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`touch ${dir}/four-ran`);
    expect(plan.stdout).toMatch(/1\. one \(exec\)/);
    expect(fs.existsSync(path.join(dir, "four-ran"))).toBe(false);
    const planJson = parseJson(await runCli(["--config", config, "run", "--dry-run", "--json"]));
    expect(planJson.steps).toHaveLength(5);
    expect(planJson.steps[3].commands).toEqual([`touch ${dir}/four-ran`]);
    const history = parseJson(await runCli(["--config", config, "history", "--json"]));
    expect(history.runs).toHaveLength(1);
  });

  test("an unknown --step is a usage error (exit 2) and runs nothing", async () => {
    const dir = makeTempDir();
    const result = await runCli(["--config", fiveSteps(dir, ""), "run", "--step", "nope"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no step of job "five" named "nope"');
    expect(result.stderr).toContain("one, two, three, four, five");
    expect(fs.existsSync(path.join(dir, "four-ran"))).toBe(false);
  });

  test("a one-step job's start line says 1 step, not 1 steps", async () => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      "version: 1\nstate_dir: ./state\njobs:\n  offsite:\n    steps:\n      - { name: hi, type: exec, command: [echo, hi] }\n",
    );
    const result = await runCli(["--config", config, "run", "offsite"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^holdfast: run \w+ of job offsite started \(1 step\)\n/);
  });

  test("warning_codes make a warning: exit 3, or 0 with warnings: ignore, or 1 with warnings: fail", async () => {
    for (const [policy, code] of [
      ["warn", 3],
      ["ignore", 0],
      ["fail", 1],
    ] as const) {
      const dir = makeTempDir();
      const config = writeConfig(
        dir,
        `version: 1
state_dir: ./state
jobs:
  w:
    warnings: ${policy}
    steps:
      - { name: partial, type: exec, command: [sh, -c, "exit 24"], warning_codes: [24] }
      - { name: after, type: exec, command: [echo, after] }
`,
      );
      const result = await runCli(["--config", config, "run", "--json"]);
      expect(result.code, policy).toBe(code);
      const run = parseJson(result);
      expect(run.status).toBe("warning");
      expect(run.steps.map((s: any) => s.status)).toEqual(["warning", "succeeded"]);
    }
  });
});

describe("timeouts, retries and signals", () => {
  test("timeout: 2s on sleep 60 ends timed_out in about 2 s and leaves no process behind", async () => {
    const dir = makeTempDir();
    const marker = `60.${process.pid}${Date.now() % 1000}`;
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  slow:
    steps:
      - { name: sleepy, type: exec, shell: "sleep ${marker}; echo never", timeout: 2s }
      - { name: after, type: exec, command: [echo, after] }
`,
    );
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    const run = parseJson(result);
    expect(run.steps[0].status).toBe("timed_out");
    expect(run.steps[0].error.kind).toBe("timeout");
    expect(run.steps[1].status).toBe("skipped");
    expect(run.steps[0].duration_ms).toBeGreaterThanOrEqual(1900);
    expect(run.steps[0].duration_ms).toBeLessThan(5000);
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
  });

  test("retries: a step that fails twice then succeeds is retried with doubling delay, every attempt counted", async () => {
    const dir = makeTempDir();
    const counter = path.join(dir, "count");
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  flaky:
    steps:
      - name: flaky
        type: exec
        retries: 3
        retry_delay: 200ms
        shell: 'n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 3 ]'
`,
    );
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const run = parseJson(result);
    expect(run.steps[0].status).toBe("succeeded");
    expect(run.steps[0].attempts).toBe(3);
    // 200 ms + 400 ms of waiting between the attempts.
    expect(run.steps[0].duration_ms).toBeGreaterThanOrEqual(600);
    expect(fs.readFileSync(counter, "utf8").trim()).toBe("3");
  });

  test("SIGTERM during a step: the child is gone, the run is cancelled, exit 143", async () => {
    const job = sleepyJob(
      61,
      "long",
      (dir, marker) => `      - { name: sleepy, type: exec, shell: "touch ${dir}/started; sleep ${marker}" }
      - { name: after, type: exec, command: [echo, after] }
`,
    );
    const started = path.join(job.dir, "started");
    const { child, done } = await job.start(
      ["--json"],
      () => fs.existsSync(started) && job.sleeping().length > 0,
    );
    child.kill("SIGTERM");
    const result = await done;
    expect(result.code, result.stderr).toBe(143);
    const run = parseJson(result);
    expect(run.status).toBe("cancelled");
    expect(run.exit_code).toBe(143);
    expect(run.steps.map((s: any) => s.status)).toEqual(["cancelled", "skipped"]);
    expect(job.sleeping()).toEqual([]);
  });

  test("SIGKILL to holdfast: the next status shows the run interrupted, and the next run succeeds", async () => {
    const job = sleepyJob(
      62,
      "long",
      (dir, marker) =>
        `      - { name: sleepy, type: exec, shell: "[ -e ${dir}/second ] || { touch ${dir}/started; sleep ${marker}; }" }
`,
    );
    const { dir, config } = job;
    const { child, done } = await job.start([], () => fs.existsSync(path.join(dir, "started")));
    child.kill("SIGKILL");
    await done;
    // The orphaned sleep is not holdfast's to reap after SIGKILL; end it so the test leaves nothing behind.
    for (const pid of job.sleeping()) process.kill(Number(pid), "SIGKILL");

    const status = parseJson(await runCli(["--config", config, "status", "--json"]));
    expect(status.jobs[0].last_run.status).toBe("interrupted");
    const show = parseJson(await runCli(["--config", config, "show", "latest", "--json"]));
    expect(show.status).toBe("interrupted");
    expect(show.steps[0].status).toBe("cancelled");

    fs.writeFileSync(path.join(dir, "second"), "");
    const next = await runCli(["--config", config, "run", "--json"]);
    expect(next.code).toBe(0);
  });
});

describe("one run of a job at a time", () => {
  test("10 concurrent runs: exactly one runs, nine exit 4 at once naming the holder", async () => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  solo:
    steps:
      - { name: hold, type: exec, command: [sleep, "6"] }
`,
    );
    // Create the state dir and history first so the ten start on equal terms.
    await runCli(["--config", config, "status"]);
    const children = Array.from({ length: 10 }, () => startCli(["--config", config, "run"]));
    const finishedAt: number[] = [];
    const results = await Promise.all(
      children.map((c, i) =>
        collect(c).then((r) => {
          finishedAt[i] = Date.now();
          return r;
        }),
      ),
    );
    const ran = results.filter((r) => r.code === 0);
    const busy = results.filter((r) => r.code === 4);
    expect(ran).toHaveLength(1);
    expect(busy).toHaveLength(9);
    const holder = results.indexOf(ran[0]!);
    const holderPid = children[holder]!.pid;
    for (const r of busy) {
      expect(r.stderr).toContain(`already running (pid ${holderPid} since `);
      // "At once": none of them waited for the holder (which sleeps 6 s) to finish.
      expect(finishedAt[results.indexOf(r)]!).toBeLessThan(finishedAt[holder]! - 1000);
    }
    const history = parseJson(await runCli(["--config", config, "history", "--json"]));
    expect(history.runs).toHaveLength(1);
  });

  test("--wait waits for the running instance, then runs", async () => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  solo:
    steps:
      - { name: hold, type: exec, command: [sleep, "1.5"] }
`,
    );
    const first = startCli(["--config", config, "run"]);
    const firstDone = collect(first);
    await waitFor(() => fs.existsSync(path.join(dir, "state/locks/solo.holder.json")));
    const second = await runCli(["--config", config, "run", "--wait", "30s"]);
    expect(second.code).toBe(0);
    expect((await firstDone).code).toBe(0);
  });
});

describe("status --check", () => {
  test("0 ok, 1 warning, 2 failed, 2 stale, 3 unreadable history", async () => {
    const dir = makeTempDir();
    const mode = path.join(dir, "mode");
    const configWith = (maxAge: string) =>
      writeConfig(
        dir,
        `version: 1
state_dir: ./state
jobs:
  j:
    max_age: ${maxAge}
    steps:
      - { name: s, type: exec, shell: 'exit $(cat ${mode})', warning_codes: [3] }
`,
      );
    // A long max_age while the run states are checked, so a slow machine never turns them stale.
    const config = configWith("1h");
    const check = () => runCli(["--config", config, "status", "--check"]);
    fs.writeFileSync(mode, "0");
    await runCli(["--config", config, "run"]);
    let r = await check();
    expect([r.code, r.stdout]).toEqual([0, "HOLDFAST OK - 1 job ok\n"]);
    fs.writeFileSync(mode, "3");
    await runCli(["--config", config, "run"]);
    r = await check();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^HOLDFAST WARNING - j warning/);
    fs.writeFileSync(mode, "1");
    await runCli(["--config", config, "run"]);
    r = await check();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^HOLDFAST CRITICAL - j failed/);
    fs.writeFileSync(mode, "0");
    await runCli(["--config", config, "run"]);
    expect((await check()).code).toBe(0);

    // Now a max_age the last success is about to exceed.
    configWith("2s");
    await new Promise((res) => setTimeout(res, 2500));
    r = await check();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/j stale/);
    const json = parseJson(await runCli(["--config", config, "status", "--json"]));
    expect(json.jobs[0].state).toBe("stale");
    expect(json.jobs[0].max_age_ms).toBe(2000);

    fs.writeFileSync(
      path.join(dir, "state/history.db"),
      "this is not a database, it was overwritten".repeat(200),
    );
    for (const suffix of ["-wal", "-shm"])
      fs.rmSync(path.join(dir, `state/history.db${suffix}`), { force: true });
    r = await check();
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^HOLDFAST UNKNOWN - /);
  });
});

describe("environment, logs and files", () => {
  test("a step sees only PATH, HOME, USER, LANG and the layered env (config < job < step)", async () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, "global.env"), "LAYER=from-global-file\nGLOBAL_ONLY=g\n");
    fs.writeFileSync(path.join(dir, "step.env"), "LAYER=from-step-file\n");
    const out = path.join(dir, "env.txt");
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
env_file: ./global.env
env: { LAYER: from-global-map }
jobs:
  e:
    env: { LAYER: from-job, JOB_ONLY: "j" }
    steps:
      - { name: dump, type: exec, shell: "env > ${out}", env_file: ./step.env, env: { STEP_ONLY: s } }
`,
    );
    const result = await runCli(["--config", config, "run"], {
      env: { HOLDFAST_LEAK_CHECK: "leaked", LANG: "C.UTF-8" },
    });
    expect(result.code, result.stderr).toBe(0);
    const env = Object.fromEntries(
      fs
        .readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(env.LAYER).toBe("from-step-file");
    expect(env.GLOBAL_ONLY).toBe("g");
    expect(env.JOB_ONLY).toBe("j");
    expect(env.STEP_ONLY).toBe("s");
    expect(env.HOLDFAST_LEAK_CHECK).toBeUndefined();
    for (const key of ["PATH", "HOME", "USER", "LANG"]) expect(env[key]).toBeTruthy();
  });

  test("a step log starts with the wrapper line, ends with exit code and seconds, and is gzipped; state files are private", async () => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  l:
    steps:
      - { name: talk, type: exec, shell: "echo out-line; echo err-line >&2; exit 0" }
`,
    );
    const run = parseJson(await runCli(["--config", config, "run", "--json"]));
    const logPath = run.steps[0].log_path as string;
    expect(logPath.endsWith(".log.gz")).toBe(true);
    const lines = zlib.gunzipSync(fs.readFileSync(logPath)).toString("utf8").trim().split("\n");
    expect(lines[0]).toMatch(/^holdfast: started step talk \(exec\) USER=\S+ HOME=\S+ pwd=\S+/);
    expect(lines).toContain("out-line");
    expect(lines).toContain("err-line");
    expect(lines.at(-1)).toMatch(/^holdfast: run talk finished with exit code 0 in \d+\.\d sec: succeeded$/);
    const logs = await runCli(["--config", config, "logs", run.id, "--step", "talk"]);
    expect(logs.stdout).toContain("out-line");

    const mode = (p: string) => fs.statSync(p).mode & 0o777;
    expect(mode(path.join(dir, "state"))).toBe(0o700);
    expect(mode(path.join(dir, "state/history.db"))).toBe(0o600);
    expect(mode(logPath)).toBe(0o600);
    expect(mode(path.dirname(logPath))).toBe(0o700);
  });

  test("a missing program fails with a clear message and hint, not a stack trace", async () => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ./state
jobs:
  m:
    steps:
      - { name: ghost, type: exec, command: [holdfast-no-such-program] }
`,
    );
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    const run = parseJson(result);
    expect(run.steps[0].error.message).toContain("holdfast-no-such-program");
    expect(run.steps[0].error.hint).toContain("installed");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("always: true steps (issue 16 item 4)", () => {
  test("run after a failed step, recorded like any step; the run stays failed and later plain steps are skipped", async () => {
    // Nothing sleeps here: the job runs to its end.
    const { dir, config } = sleepyJob(
      0,
      "app",
      (dir) => `      - { name: stop-app, type: exec, command: [touch, ${dir}/stopped] }
      - { name: dump, type: exec, shell: "echo dump failed >&2; exit 3" }
      - { name: backup, type: exec, command: [touch, ${dir}/backed-up] }
      - { name: start-app, type: exec, always: true, shell: "echo started; touch ${dir}/started" }
      - { name: after, type: exec, command: [touch, ${dir}/after] }
`,
    );
    const plan = await runCli(["--config", config, "run", "app", "--dry-run"]);
    expect(plan.stdout).toMatch(/4\. start-app \(exec, always\)/);
    expect(plan.stdout).toMatch(/3\. backup \(exec\)\n/);
    const result = await runCli(["--config", config, "run", "app", "--json"]);
    expect(result.code, result.stderr).toBe(1);
    const run = parseJson(result);
    expect(run.status).toBe("failed");
    expect(run.steps.map((s: any) => `${s.name} ${s.status}`)).toEqual([
      "stop-app succeeded",
      "dump failed",
      "backup skipped",
      "start-app succeeded",
      "after skipped",
    ]);
    expect(fs.existsSync(path.join(dir, "started"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "backed-up"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "after"))).toBe(false);
    // In the history as well, with its exit code and duration.
    const shown = parseJson(await runCli(["--config", config, "show", "latest", "--json"]));
    const start = shown.steps.find((s: any) => s.name === "start-app");
    expect(start.status).toBe("succeeded");
    expect(start.exit_code).toBe(0);
    expect(typeof start.duration_ms).toBe("number");
  });

  test("run after SIGTERM cancelled the run, not stopped by that signal; the run stays cancelled (143)", async () => {
    const job = sleepyJob(
      63,
      "app",
      (dir, marker) => `      - { name: sleepy, type: exec, shell: "touch ${dir}/started; sleep ${marker}" }
      - { name: plain, type: exec, command: [touch, ${dir}/plain] }
      - { name: start-app, type: exec, always: true, shell: "sleep 0.5; touch ${dir}/restarted" }
`,
    );
    const { dir } = job;
    const started = path.join(dir, "started");
    const { child, done } = await job.start(
      ["app", "--json"],
      () => fs.existsSync(started) && job.sleeping().length > 0,
    );
    child.kill("SIGTERM");
    const result = await done;
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).toContain("the always steps (start-app) still run");
    const run = parseJson(result);
    expect(run.status).toBe("cancelled");
    expect(run.steps.map((s: any) => `${s.name} ${s.status}`)).toEqual([
      "sleepy cancelled",
      "plain skipped",
      "start-app succeeded",
    ]);
    expect(fs.existsSync(path.join(dir, "restarted"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "plain"))).toBe(false);
  });

  test("a second signal stops a running always step", async () => {
    const job = sleepyJob(
      64,
      "app",
      (dir, marker) => `      - { name: sleepy, type: exec, shell: "touch ${dir}/s1; sleep ${marker}1" }
      - { name: cleanup, type: exec, always: true, shell: "touch ${dir}/s2; sleep ${marker}2" }
`,
    );
    const { child, done } = await job.start(["app", "--json"], () => job.sleeping("1").length > 0);
    child.kill("SIGTERM");
    await waitFor(() => job.sleeping("2").length > 0);
    child.kill("SIGTERM");
    const result = await done;
    expect(result.code, result.stderr).toBe(143);
    const run = parseJson(result);
    expect(run.steps.map((s: any) => `${s.name} ${s.status}`)).toEqual([
      "sleepy cancelled",
      "cleanup cancelled",
    ]);
    expect(job.sleeping()).toEqual([]);
  });
});
