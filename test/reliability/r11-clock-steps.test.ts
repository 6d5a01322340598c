// R11: clock steps — forward, back, and a run recorded in the future. The wall clock of the real
// processes is stepped with Debian's libfaketime (test/helpers/reliability.ts steppableClock: the
// wall clock moves, the monotonic clock does not, as when NTP or a person steps the system clock).
// What must hold: no failure hides behind a wrongly dated success (status, status --check, watch and
// doctor say "recorded in the future"; a real webhook receiver on 127.0.0.1 hears `stale` and
// `failure`), and `holdfast daemon` follows the step: an every-5-seconds job stepped back an hour
// keeps running every 5 seconds (before issue 12 item 16 it was silent for the hour).
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { parseJson, startCli } from "../helpers/cli.js";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { STACK_TRACE, sleep, steppableClock, waitFor } from "../helpers/reliability.js";
import { makeTempDir } from "../helpers/tmp.js";
import { startReceiver, type Receiver } from "../notify/receiver.js";

const live: ChildProcess[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const child of live.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 3000));
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  for (const r of receivers.splice(0)) await r.close();
});

interface Events {
  all(): Array<{ event: string; job: string; run: any; details: any }>;
  of(event: string): Array<{ event: string; job: string; run: any; details: any }>;
}

async function hook(): Promise<{ url: string; events: Events }> {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const all = () => receiver.requests.map((r) => JSON.parse(r.text));
  return { url: `${receiver.url}/hook`, events: { all, of: (e) => all().filter((x: any) => x.event === e) } };
}

describe("R11: a run recorded with a wrong clock", () => {
  test("a success recorded 400 days ahead is not fresh; a failure recorded a day behind is the last run", async () => {
    const dir = makeTempDir("holdfast-r11-");
    const { url, events } = await hook();
    const cfg: TestConfig = writeTestConfig(dir, {
      jobs: {
        j: {
          max_age: "1h",
          notify: ["hook"],
          steps: [{ name: "s", type: "exec", command: ["sh", "-c", `test ! -f ${dir}/fail`] }],
        },
      },
      notifications: {
        hook: { type: "webhook", url, events: ["failure", "stale", "success"], timeout: "5s" },
      },
    });
    const clock = steppableClock(path.join(dir, "faketime"));
    const skewed = (offset: string, args: string[]) => {
      clock.set(offset);
      return cfg.run(args, { env: clock.env });
    };
    const noStack = (r: { stderr: string }) => expect(r.stderr).not.toMatch(STACK_TRACE);

    // One success with a clock 400 days ahead.
    const ahead = await skewed("+400d", ["run", "--json"]);
    expect(ahead.code, ahead.stderr).toBe(0);
    const aheadRun = parseJson(ahead);
    expect(Date.parse(aheadRun.started_at) - Date.now()).toBeGreaterThan(399 * 86_400_000);

    // Back on the right clock: nothing may call that success fresh.
    const check = await cfg.run(["status", "--check"]);
    noStack(check);
    expect(check.stdout).toMatch(/^HOLDFAST CRITICAL - j stale .*recorded in the future/);
    expect(check.code).toBe(2);
    const status = parseJson(await cfg.run(["status", "--json"])).jobs[0];
    expect(status).toMatchObject({ state: "stale", stale: true, last_success_at: aheadRun.finished_at });
    expect(status.clock_warning).toMatch(/recorded in the future/);
    expect((await cfg.run(["status"])).stdout).toMatch(
      /j: clock: the last success is recorded in the future/,
    );
    const watch = await cfg.run(["watch", "--json"]);
    noStack(watch);
    expect(watch.code).toBe(2);
    expect(parseJson(watch).jobs[0]).toMatchObject({ stale: true, notice: "sent" });
    expect(events.of("stale")).toHaveLength(1);
    expect(events.of("stale")[0]?.details.clock).toMatch(/recorded in the future/);
    const doctor = parseJson(await cfg.run(["doctor", "--json"]));
    expect(
      doctor.checks.some((c: any) => c.check === "history" && /recorded in the future/.test(c.message)),
      JSON.stringify(doctor.checks),
    ).toBe(true);

    // A failure recorded with the clock a day behind (it is older than everything, by its date).
    fs.writeFileSync(path.join(dir, "fail"), "");
    const behind = await skewed("-1d", ["run", "--json"]);
    expect(behind.code).toBe(1);
    const behindRun = parseJson(behind);
    expect(events.of("failure").map((e) => e.run.id)).toEqual([behindRun.id]);
    const after = parseJson(await cfg.run(["status", "--json"])).jobs[0];
    expect(after.last_run.id).toBe(behindRun.id);
    expect(after.state).toBe("stale");
    expect(after.steps[0]).toMatchObject({ run_id: behindRun.id, status: "failed" });
    const check2 = await cfg.run(["status", "--check"]);
    expect(check2.code).toBe(2);
    const history = parseJson(await cfg.run(["history", "--json"]));
    expect(history.runs.map((r: any) => r.id)).toEqual([behindRun.id, aheadRun.id]);

    // The fix: a success with a correct clock. Everything is fresh and OK again.
    fs.rmSync(path.join(dir, "fail"));
    expect((await cfg.run(["run", "--quiet"])).code).toBe(0);
    const ok = await cfg.run(["status", "--check"]);
    expect(ok.stdout).toMatch(/^HOLDFAST OK/);
    expect(ok.code).toBe(0);
    expect((await cfg.run(["watch", "--json"])).code).toBe(0);
    console.log(
      `R11: checks that called a success recorded 400 d ahead fresh: 0 of 3 (status --check, status, watch); ` +
        `the failure recorded 1 d behind was the last run in status and history`,
    );
  });
});

describe("R11: the daemon follows a step of the wall clock", () => {
  test("stepped back an hour, then forward 400 days, an every-5-seconds job keeps its pace", async () => {
    const dir = makeTempDir("holdfast-r11-daemon-");
    const stamps = path.join(dir, "stamps");
    const cfg = writeTestConfig(dir, {
      jobs: {
        tick: {
          schedule: "*:*:0/5",
          steps: [{ name: "stamp", type: "exec", command: ["sh", "-c", `echo run >> ${stamps}`] }],
        },
      },
    });
    const clock = steppableClock(path.join(dir, "faketime"));
    const daemon = startCli(["--config", cfg.file, "daemon"], {
      cwd: dir,
      env: { ...clock.env, XDG_STATE_HOME: path.join(dir, "xdg-state") },
    });
    live.push(daemon);
    const lines: Array<{ at: number; text: string }> = [];
    let partial = "";
    let stderr = "";
    daemon.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      for (let nl = partial.indexOf("\n"); nl !== -1; nl = partial.indexOf("\n")) {
        lines.push({ at: Date.now(), text: partial.slice(0, nl) });
        partial = partial.slice(nl + 1);
      }
    });
    daemon.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const log = () => `${lines.map((l) => l.text).join("\n")}\nstderr:\n${stderr}`;
    const startsAfter = (t: number) => lines.filter((l) => l.at > t && /^job tick: started /.test(l.text));
    const lineAfter = (t: number, re: RegExp) => lines.find((l) => l.at > t && re.test(l.text));

    await waitFor(() => startsAfter(0).length >= 1, 20_000, `a first run:\n${log()}`);

    // Back an hour. Before the fix the next run came an hour later; now within the daemon's wake-up.
    const back = Date.now();
    clock.set("-1h");
    await waitFor(() => lineAfter(back, /^clock: the wall clock moved back by/) !== undefined, 30_000, log());
    await waitFor(() => startsAfter(back).length >= 2, 30_000, `two runs after the step back:\n${log()}`);
    const noticeBackMs = (lineAfter(back, /^clock: the wall clock moved back/)?.at ?? 0) - back;
    const firstRunBackMs = (startsAfter(back)[0]?.at ?? 0) - back;
    expect(lineAfter(back, /^clock: next runs recomputed from the new time: tick /)).toBeDefined();
    const due = /due at (\S+),/.exec(startsAfter(back)[0]?.text ?? "")?.[1] ?? "";
    expect(Math.abs(Date.parse(due) + 3_600_000 - Date.now())).toBeLessThan(60_000);

    // Forward 400 days: what fell due runs once, then every 5 s from the new time.
    const forward = Date.now();
    clock.set("+400d");
    await waitFor(
      () => lineAfter(forward, /^clock: the wall clock moved forward by 400d/) !== undefined,
      30_000,
      log(),
    );
    await waitFor(
      () => startsAfter(forward).length >= 3,
      30_000,
      `three runs after the step forward:\n${log()}`,
    );
    const noticeForwardMs = (lineAfter(forward, /^clock: the wall clock moved forward/)?.at ?? 0) - forward;
    const gaps = startsAfter(forward)
      .slice(0, 3)
      .map((l, i, all) => (i === 0 ? l.at - forward : l.at - (all[i - 1]?.at ?? 0)));
    for (const gap of gaps.slice(1)) expect(gap).toBeLessThan(8_000);

    daemon.kill("SIGTERM");
    await new Promise((r) => daemon.on("close", r));
    expect(stderr).not.toMatch(STACK_TRACE);
    // Every run the daemon started ran its step (the children saw the same stepped clock).
    await sleep(100);
    expect(fs.readFileSync(stamps, "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(6);
    console.log(
      `R11 daemon: step back 1 h noticed after ${noticeBackMs} ms, next run ${firstRunBackMs} ms after the step; ` +
        `step forward 400 d noticed after ${noticeForwardMs} ms, runs after it ${gaps.join(", ")} ms apart`,
    );
  });
});
