// Real runs through the built CLI, real HTTP receivers on 127.0.0.1: what each notifier sends for
// success, warning, failure and recovered; the webhook HMAC; failing and hung receivers; S1.
import { createHmac } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runUuid } from "../../src/notify/healthchecks.js";
import { parseJson } from "../helpers/cli.js";
import { createNotifyWorld, readCommandCalls, type NotifyWorld } from "./cli-setup.js";
import type { RecordedRequest } from "./receiver.js";

let world: NotifyWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/** A port nothing listens on: bound, then released. */
async function findClosedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const json = (r: RecordedRequest) => JSON.parse(r.text);
const withoutNotifications = (run: any) => ({ ...run, notifications: undefined });

async function runJob(w: NotifyWorld, job: string) {
  const result = await w.cli(["run", job, "--json"]);
  return { result, run: parseJson(result) };
}

describe("notifications from real runs", () => {
  it("reach healthchecks, webhook, ntfy and the command for success, warning, failure and recovered", async () => {
    const w = (world = await createNotifyWorld());

    const ok = await runJob(w, "ok-job");
    expect(ok.result.code).toBe(0);
    const warn = await runJob(w, "warn-job");
    expect(warn.result.code).toBe(3);
    const fail = await runJob(w, "fail-job");
    expect(fail.result.code).toBe(1);
    fs.writeFileSync(`${w.dir}/fixed`, "");
    const fixed = await runJob(w, "fail-job");
    expect(fixed.result.code).toBe(0);
    const again = await runJob(w, "fail-job");
    expect(again.result.code).toBe(0);

    // healthchecks: start → /start, success → base, failure → /fail, warning → base (exit 3 policy); rid pairs them.
    const hcPath = new URL(w.secrets.hcUrl).pathname;
    const rid = (run: any) => `rid=${runUuid(run.id)}`;
    expect(w.hc.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${hcPath}/start?${rid(ok.run)}`,
      `POST ${hcPath}?${rid(ok.run)}`,
      `POST ${hcPath}/start?${rid(warn.run)}`,
      `POST ${hcPath}?${rid(warn.run)}`,
      `POST ${hcPath}/start?${rid(fail.run)}`,
      `POST ${hcPath}/fail?${rid(fail.run)}`,
      `POST ${hcPath}/start?${rid(fixed.run)}`,
      `POST ${hcPath}?${rid(fixed.run)}`,
      `POST ${hcPath}/start?${rid(again.run)}`,
      `POST ${hcPath}?${rid(again.run)}`,
    ]);
    const hcFail = w.hc.requests[5]!.text;
    expect(hcFail).toMatch(/^\[holdfast\] fail-job FAILED on .*: step boom \(exit_code\)/);
    expect(hcFail).toMatch(/STEP\s+TYPE\s+STATUS\s+DURATION\s+DETAILS/);
    expect(hcFail).toMatch(/boom\s+exec\s+failed/);
    expect(hcFail).toMatch(/after\s+exec\s+skipped/);
    expect(hcFail).toMatch(/--- log tail ---[\s\S]*it broke/);
    expect(w.hc.requests[3]!.text).toMatch(/finished with warnings[\s\S]*some files were unreadable/);
    expect(Math.max(...w.hc.requests.map((r) => r.body.length))).toBeLessThanOrEqual(100_000);

    // webhook: every event, signed, the run object as `show --json` prints it.
    expect(w.hook.requests.map((r) => `${json(r).event} ${json(r).job}`)).toEqual([
      "start ok-job",
      "success ok-job",
      "start warn-job",
      "warning warn-job",
      "start fail-job",
      "failure fail-job",
      "start fail-job",
      "success fail-job",
      "recovered fail-job",
      "start fail-job",
      "success fail-job",
    ]);
    for (const r of w.hook.requests) {
      const expected = createHmac("sha256", w.secrets.hookSecret).update(r.body).digest("hex");
      expect(r.headers["x-holdfast-signature"]).toBe(`sha256=${expected}`);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["x-team"]).toBe("backups");
    }
    const failBody = json(w.hook.requests[5]!);
    const shown = await w.show(fail.run.id);
    expect(withoutNotifications(failBody.run)).toEqual(withoutNotifications(shown));
    expect(failBody.run.status).toBe("failed");
    expect(failBody.run.steps[0].error.kind).toBe("exit_code");
    expect(json(w.hook.requests[8]!).details).toMatchObject({ previous: "failure" });

    // ntfy: title, priority and tags by event; the token only as Bearer.
    expect(w.ntfy.requests.map((r) => `${String(r.headers.priority)} ${String(r.headers.tags)}`)).toEqual([
      "2 white_check_mark,holdfast,success",
      "3 warning,holdfast,warning",
      "5 rotating_light,holdfast,failure",
      "2 white_check_mark,holdfast,success",
      "3 tada,holdfast,recovered",
      "2 white_check_mark,holdfast,success",
    ]);
    expect(w.ntfy.requests[2]!.headers.title).toMatch(/fail-job FAILED/);
    expect(w.ntfy.requests[4]!.headers.title).toMatch(/fail-job recovered on .* after failing/);
    for (const r of w.ntfy.requests) expect(r.headers.authorization).toBe(`Bearer ${w.secrets.ntfyToken}`);

    // command: HOLDFAST_* env and the webhook JSON on stdin.
    const calls = readCommandCalls(w.cmdOut);
    expect(calls.map((c) => `${c.event} ${c.env.HOLDFAST_JOB}`)).toEqual([
      "warning warn-job",
      "failure fail-job",
      "recovered fail-job",
    ]);
    expect(calls[1]!.env).toMatchObject({
      HOLDFAST_STATUS: "failed",
      HOLDFAST_EXIT_CODE: "1",
      HOLDFAST_RUN_ID: fail.run.id,
    });
    expect(calls[1]!.json).toMatchObject({
      event: "failure",
      job: "fail-job",
      run: { id: fail.run.id, status: "failed" },
    });

    // Every attempt is on the run.
    const shownOk = await w.show(ok.run.id);
    expect(shownOk.notifications.map((n: any) => `${n.notifier} ${n.event} ${n.ok}`).sort()).toEqual([
      "hc start true",
      "hc success true",
      "hook start true",
      "hook success true",
      "ntfy success true",
    ]);

    // S1: no planted secret in any body or header (the ntfy token only in its own Authorization
    // header, the ping URL only as the healthchecks request path), in any CLI output or in the metrics.
    const metrics = await w.cli(["metrics"]);
    const everything = [
      ...[w.hc, w.hook, w.ntfy].flatMap((rec) =>
        rec.requests.map((r) => {
          const { authorization: _auth, ...headers } = r.headers;
          return `${r.text}\n${JSON.stringify(headers)}`;
        }),
      ),
      ...calls.map((c) => c.raw),
      ...w.outputs,
      metrics.stdout,
      fs.readFileSync(`${w.dir}/textfile/holdfast.prom`, "utf8"),
    ].join("\n");
    expect(everything).toContain("***"); // the steps printed the secrets; the redactor masked them
    for (const secret of Object.values(w.secrets)) expect(everything).not.toContain(secret);
    expect(everything).not.toContain(new URL(w.secrets.hcUrl).pathname);
    expect(w.ntfy.requests.map((r) => r.url)).toEqual(Array(6).fill("/holdfast-topic"));
  });

  it("a receiver that answers 500 or hangs changes neither the run's result nor its exit code; the failure is on the run", async () => {
    const closedPort = await findClosedPort();
    const w = (world = await createNotifyWorld({
      hookMode: "fail",
      ntfyMode: "hang",
      timeout: "1s",
      extraNotify: ["nobody"],
      extraNotifications: `  nobody: { type: webhook, url: "http://127.0.0.1:${closedPort}/closed-port", events: [success, failure], timeout: 1s }`,
    }));
    const started = Date.now();
    const ok = await runJob(w, "ok-job");
    const elapsed = Date.now() - started;
    expect(ok.result.code).toBe(0);
    expect(ok.run.status).toBe("succeeded");
    const shown = await w.show(ok.run.id);
    expect(shown.status).toBe("succeeded");
    expect(shown.exit_code).toBe(0);
    const attempts = shown.notifications
      .map((n: any) => `${n.notifier} ${n.event} ${n.ok} ${n.attempts}`)
      .sort();
    expect(attempts).toEqual([
      "hc start true 1",
      "hc success true 1",
      "hook start false 1",
      "hook start false 2",
      "hook success false 1",
      "hook success false 2",
      "nobody success false 1",
      "nobody success false 2",
      "ntfy success false 1",
      "ntfy success false 2",
    ]);
    const byNotifier = (name: string) => shown.notifications.filter((n: any) => n.notifier === name);
    expect(byNotifier("hook")[0].error).toMatch(/^HTTP 500/);
    expect(byNotifier("ntfy")[0].error).toMatch(/timeout/);
    expect(byNotifier("nobody")[0].error).toMatch(/ECONNREFUSED/);
    expect(ok.result.stderr).toMatch(
      /notifier ntfy \(ntfy\) failed to send success .* attempt 2: .*giving up \(the run's result is unchanged\)/,
    );
    // Each failing notifier: two 1 s attempts and a 1 s pause, in parallel with the others.
    expect(elapsed).toBeLessThan(20_000);
    expect(w.ntfy.requests.length).toBe(2);

    const fail = await runJob(w, "fail-job");
    expect(fail.result.code).toBe(1);
    expect((await w.show(fail.run.id)).status).toBe("failed");
  });
});
