// GET /api/runs/:id/logs/follow: a running step's log as it is written, through the built CLI — a
// `holdfast run` of its own (as the timer would) whose exec step prints a line, waits for the test,
// and prints more. Lines printed after the stream was opened arrive on it without a new request; the
// stream ends with `end` when the step has its result; a reconnect from an event's id resumes with no
// gap or repeat; secrets are masked on this path as on GET …/logs, even a raw one written into the
// log file behind the run's back; a finished step's log comes whole (from the .gz) and then `end`.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { collect, startCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";
import { addToken, tokensFileOf } from "../../src/server/tokens.js";
import { makeFixture, seedHistory } from "./fixture.js";
import { json, serve, waitFor } from "./serve-helper.js";

interface Sse {
  id: string | null;
  event: string;
  data: any;
}

/** Reads an SSE stream into `into`; `ended` resolves when the server closes it. */
async function readEvents(
  url: string,
  into: Sse[],
  signal: AbortSignal,
  headers: Record<string, string> = {},
): Promise<{ res: Response; ended: Promise<void> }> {
  const res = await fetch(url, { headers: { Accept: "text/event-stream", ...headers }, signal });
  const body = res.body;
  const ended = (async () => {
    if (!body) return;
    let buffer = "";
    try {
      for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | null = null;
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) into.push({ id, event, data: JSON.parse(data.join("\n")) });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { res, ended };
}

const textOf = (events: Sse[]) =>
  events
    .filter((e) => e.event === "log")
    .map((e) => e.data.text as string)
    .join("");

describe("GET /api/runs/:id/logs/follow with a real run", () => {
  it("sends lines printed after it opened, ends with the step, resumes from an id, masks secrets", async () => {
    const dir = makeTempDir("holdfast-log-follow-");
    const secret = "follow-secret-7d1c9a2e55";
    fs.mkdirSync(path.join(dir, "secrets"), { mode: 0o700 });
    const pass = path.join(dir, "secrets", "repo.pass");
    fs.writeFileSync(pass, `${secret}\n`, { mode: 0o600 });
    const gate = path.join(dir, "go");
    const configFile = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
repositories:
  unused: { url: ${dir}/repo, password_file: ${pass} }
jobs:
  ticker:
    steps:
      - name: tick
        type: exec
        shell: >-
          echo "before the gate";
          while [ ! -e ${gate} ]; do sleep 0.05; done;
          echo "after the gate";
          for i in 1 2 3; do echo "tick $i"; sleep 0.3; done;
          echo "the password is $(cat ${pass})";
          printf "no newline at the end"
      - { name: after, type: exec, command: [echo, done] }
`,
    );
    const s = await serve(configFile, "127.0.0.1:0");
    const run = startCli(["--config", configFile, "run", "ticker"]);
    const result = collect(run);
    try {
      const running = await waitFor(
        "the running step",
        async () => {
          const { runs } = await json(await fetch(`${s.base}/api/runs?job=ticker&limit=1`));
          const r = runs[0];
          return r?.status === "running" && r.steps[0].status === "running" && r.steps[0].log_path ? r : null;
        },
        30_000,
      );
      const url = `${s.base}/api/runs/${running.id}/logs/follow?step=tick`;
      const events: Sse[] = [];
      const stream = new AbortController();
      const { res, ended } = await readEvents(url, events, stream.signal);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      await waitFor("the first line", () => (textOf(events).includes("before the gate") ? true : null));
      expect(textOf(events)).not.toContain("after the gate");

      // A raw secret written into the running log behind the run's redactor: masked on the way out.
      const plain = running.steps[0].log_path.replace(/\.gz$/, "");
      fs.appendFileSync(plain, `planted ${secret}\n`);
      fs.writeFileSync(gate, "");
      // Printed after the stream opened: it arrives on the same stream, no new request.
      await waitFor("the line after the gate", () =>
        textOf(events).includes("after the gate") ? true : null,
      );
      expect(events.some((e) => e.event === "end")).toBe(false);
      await waitFor("tick 2", () => (textOf(events).includes("tick 2") ? true : null));
      await ended;
      const end = events.at(-1);
      expect(end?.event).toBe("end");
      expect(end?.data.status).toBe("succeeded");
      // The run may have finished its quick second step by the time the record was read.
      expect(["running", "succeeded"]).toContain(end?.data.run_status);

      const text = textOf(events);
      expect(text).toContain("planted ***");
      expect(text).toContain("the password is ***");
      expect(text).not.toContain(secret);
      // The unterminated last bytes came with the end; the offsets join up with no gap or overlap.
      expect(text).toMatch(/no newline at the end\nholdfast: run tick finished/);
      const logs = events.filter((e) => e.event === "log");
      for (let i = 1; i < logs.length; i++) expect(logs[i]?.data.from).toBe(logs[i - 1]?.data.to);
      expect(logs.map((e) => e.id)).toEqual(logs.map((e) => String(e.data.to)));
      expect(end?.data.to).toBe(logs.at(-1)?.data.to);
      // More than one event: the lines came as they were written, not all at the end.
      expect(logs.length).toBeGreaterThanOrEqual(3);
      // Whole lines only while the step ran (no secret cut at an event's edge).
      for (const e of logs.slice(0, -1)) expect(e.data.text.endsWith("\n")).toBe(true);

      const done = await result;
      expect(done.code, done.stderr).toBe(0);
      // The same text as GET …/logs?step= (the same redaction), now read from the .gz.
      const whole = await (await fetch(`${s.base}/api/runs/${running.id}/logs?step=tick`)).text();
      expect(`${text}\n`.replace(/\n+$/, "\n")).toBe(whole.replace(/\n+$/, "\n"));

      // A reconnect from the first event's id gets the rest, from the .gz now the step is done.
      const first = logs[0] as Sse;
      const again: Sse[] = [];
      const resumed = await readEvents(url, again, new AbortController().signal, {
        "Last-Event-ID": first.id as string,
      });
      await resumed.ended;
      expect(again.at(-1)).toMatchObject({ event: "end", data: { status: "succeeded" } });
      expect(again.filter((e) => e.event === "log")[0]?.data.from).toBe(first.data.to);
      expect(first.data.text + textOf(again)).toBe(text);
      // ?from= is the same as Last-Event-ID; a finished step from 0 is the whole log, then end.
      const fromZero: Sse[] = [];
      await (
        await readEvents(`${url}&from=0`, fromZero, new AbortController().signal)
      ).ended;
      expect(textOf(fromZero)).toBe(text);
      expect(fromZero.at(-1)?.event).toBe("end");
    } finally {
      if (run.exitCode === null) run.kill("SIGKILL");
      await result;
    }
  }, 90_000);
});

describe("GET /api/runs/:id/logs/follow: requests", () => {
  it("needs step=, knows the run's steps, refuses a bad offset; a viewer may read it, nobody else", async () => {
    const fx = makeFixture();
    const store = createMemoryStore();
    const ids = await seedHistory(store, fx, new Date("2026-11-26T12:00:00.000Z"));
    const viewer = addToken(tokensFileOf(fx.config.state_dir), "phone", "viewer");
    const app = createApp({
      config: fx.config,
      store,
      token: null,
      tokensFile: tokensFileOf(fx.config.state_dir),
      logError: () => undefined,
    });
    // Logs are read like everything else: a viewer token is enough.
    const auth = { Authorization: `Bearer ${viewer}` };
    const base = `/api/runs/${ids.quick}/logs/follow`;

    const noStep = await app.request(base, { headers: auth });
    expect(noStep.status).toBe(400);
    expect((await json(noStep)).error.hint).toContain("leak, bye");
    const unknown = await app.request(`${base}?step=nope`, { headers: auth });
    expect(unknown.status).toBe(404);
    for (const bad of ["abc", "-1", "1.5", "9".repeat(20)]) {
      const res = await app.request(`${base}?step=bye&from=${bad}`, { headers: auth });
      expect(res.status, bad).toBe(400);
      expect((await json(res)).error.message).toContain("is not a byte offset");
    }
    expect((await app.request(`${base}?step=bye`)).status).toBe(401);
    expect(
      (await app.request(`${base}?step=bye`, { headers: { Authorization: `Bearer ${viewer}x` } })).status,
    ).toBe(401);

    // A finished step: the whole log, redacted, then `end` — and the stream closes by itself.
    const res = await app.request(`${base}?step=leak`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain("event: end");
    expect(body).toContain("AWS_ACCESS_KEY_ID=***");
    for (const secretValue of [...fx.secrets, viewer]) expect(body).not.toContain(secretValue);
    // The raw log of the seeded history (written without redaction) is masked here too.
    const raw = await app.request(`/api/runs/01JSERVERTEST00000000000002/logs/follow?step=home`, {
      headers: auth,
    });
    const rawText = await raw.text();
    expect(rawText).toContain("wrong password ***");
    for (const secretValue of fx.secrets) expect(rawText).not.toContain(secretValue);
    await store.close();
  });

  it("ends a running step's stream when the run's process is gone without recording an end", async () => {
    const fx = makeFixture();
    const store = createMemoryStore();
    // A pid that was holdfast's run and is gone (SIGKILL, power cut): the record still says running.
    const dead = spawnSync("true").pid;
    const id = "01JSERVERTEST0000000000DEAD";
    await store.createRun({
      id,
      job: "quick",
      host: fx.config.host,
      trigger: "manual",
      pid: dead,
      started_at: new Date().toISOString(),
      steps: [{ name: "leak", type: "exec" }],
    });
    const log = path.join(fx.config.state_dir, "logs", id, "01-leak.log");
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.writeFileSync(log, "holdfast: started step leak\nhalf a line, never ended");
    await store.updateStep(id, 0, { status: "running", started_at: new Date().toISOString(), log_path: log });
    const app = createApp({ config: fx.config, store, token: null, logError: () => undefined });
    const t0 = Date.now();
    const body = await (await app.request(`/api/runs/${id}/logs/follow?step=leak`)).text();
    expect(Date.now() - t0).toBeLessThan(10_000);
    const events = body
      .split("\n\n")
      .filter((b) => b.includes("data: "))
      .map((b) => ({
        event: /event: (\w+)/.exec(b)?.[1],
        data: JSON.parse(b.slice(b.indexOf("data: ") + 6)),
      }));
    expect(events.at(-1)).toEqual({
      event: "end",
      data: { status: "running", run_status: "interrupted", to: Buffer.byteLength(fs.readFileSync(log)) },
    });
    expect(
      events
        .filter((e) => e.event === "log")
        .map((e) => e.data.text)
        .join(""),
    ).toBe("holdfast: started step leak\nhalf a line, never ended");
    await store.close();
  });
});
