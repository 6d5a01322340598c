// GET /api/events with a real restic backup run by a separate `holdfast run` process (as the timer
// would): its run and step changes and its progress (files, bytes, rate, current file) reach the
// server's stream through STATE/live/ — the history database gets no write per progress line — and a
// reconnect with Last-Event-ID resumes without a gap.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, startCli } from "../helpers/cli.js";
import { resticInit, writePassword } from "../helpers/restic-backends.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";
import { serve, waitFor } from "./serve-helper.js";

const hasRestic = spawnSync("restic", ["version"], { encoding: "utf8" }).status === 0;

interface Sse {
  id: string | null;
  event: string;
  data: any;
}

/** Reads an SSE stream into `into` until the signal aborts. */
async function readEvents(
  url: string,
  into: Sse[],
  signal: AbortSignal,
  headers: Record<string, string> = {},
): Promise<Response> {
  const res = await fetch(url, { headers: { Accept: "text/event-stream", ...headers }, signal });
  const body = res.body;
  if (!body) return res;
  void (async () => {
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
  return res;
}

describe.skipIf(!hasRestic)("GET /api/events with a real backup", () => {
  it("carries the run, its steps and changing progress of a backup another process runs", async () => {
    const dir = makeTempDir("holdfast-server-events-");
    const src = path.join(dir, "data");
    fs.mkdirSync(src, { recursive: true });
    // 40 files of 1 MiB of random data (nothing deduplicates or compresses) behind a 4 MiB/s upload
    // limit with 4 MiB packs: restic reads ahead only ~3 packs of what it uploads, so the backup
    // takes ~10 s and its progress moves all along.
    for (let i = 0; i < 40; i++) {
      fs.writeFileSync(path.join(src, `f${String(i).padStart(2, "0")}.bin`), crypto.randomBytes(1024 * 1024));
    }
    const pass = writePassword(path.join(dir, "secrets", "repo.pass"), "events-pw-91c2");
    resticInit({ repo: path.join(dir, "repo"), passwordFile: pass });
    const configFile = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${dir}/repo, password_file: ${pass}, limit_upload: 4096 }
sources:
  data: { paths: [${src}] }
jobs:
  nightly:
    steps:
      - { name: data, type: backup, source: data, repos: [local], extra_args: [--pack-size, "4"] }
`,
    );
    const s = await serve(configFile, "127.0.0.1:0");
    const info = (await (await fetch(`${s.base}/api/info`)).json()) as any;
    expect(info.capabilities.events).toBe(true);

    const events: Sse[] = [];
    const stream = new AbortController();
    const res = await readEvents(`${s.base}/api/events`, events, stream.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    await waitFor("hello", () => (events.some((e) => e.event === "hello") ? true : null));
    expect(events[0]?.data).toMatchObject({ running: [], operations: [] });

    const run = startCli(["--config", configFile, "run", "nightly"]);
    const result = collect(run);
    // Progress can only be watched while the backup runs; the stream also tells when it ended.
    const ended = await waitFor(
      "the run's end",
      () => events.find((e) => e.event === "run" && e.data.status !== "running") ?? null,
      90_000,
    );
    const done = await result;
    expect(done.code, done.stderr).toBe(0);
    stream.abort();

    const started = events.find((e) => e.event === "run" && e.data.status === "running");
    expect(started?.data).toMatchObject({ job: "nightly", trigger: "manual", status: "running" });
    const runId = started?.data.run_id as string;
    expect(ended.data).toMatchObject({ run_id: runId, status: "succeeded" });
    expect(ended.data.finished_at).toEqual(expect.any(String));
    const steps = events.filter((e) => e.event === "step").map((e) => `${e.data.name} ${e.data.status}`);
    expect(steps).toEqual(["data running", "data succeeded"]);

    const progress = events.filter((e) => e.event === "progress").map((e) => e.data);
    const distinct = new Set(progress.map((p) => `${p.bytes_done}/${p.files_done}`));
    expect(distinct.size, JSON.stringify(progress)).toBeGreaterThanOrEqual(2);
    for (const p of progress) {
      expect(p).toMatchObject({ run_id: runId, job: "nightly", step: "data", index: 0 });
      expect(p.bytes_total).toBeGreaterThan(0);
    }
    expect(progress.some((p) => typeof p.rate_bps === "number" && p.rate_bps > 0)).toBe(true);
    expect(progress.some((p) => typeof p.current_file === "string" && p.current_file.startsWith(src))).toBe(
      true,
    );
    // ≤ 1 Hz: no two progress events of the step within 0.9 s of each other.
    const times = progress.map((p) => Date.parse(p.at));
    for (let i = 1; i < times.length; i++) {
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(900);
    }
    // Ids are EPOCH.N, one series, strictly increasing.
    const ids = events.filter((e) => e.id !== null).map((e) => Number((e.id as string).split(".")[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // The live file is gone with the run.
    expect(fs.readdirSync(path.join(dir, "state", "live"))).toEqual([]);

    // Resuming from the run's start replays everything after it (no hello, no gap) …
    const again: Sse[] = [];
    const resume = new AbortController();
    await readEvents(`${s.base}/api/events`, again, resume.signal, { "Last-Event-ID": started?.id ?? "" });
    await waitFor("the replay", () => (again.some((e) => e.event === "run") ? true : null));
    resume.abort();
    expect(again.some((e) => e.event === "hello")).toBe(false);
    const later = events.filter((e) => e.id !== null && e.id !== started?.id && e.data.run_id === runId);
    expect(again.map((e) => e.id).slice(0, later.length)).toEqual(later.map((e) => e.id));
    // … and an id from before a restart is answered with reset + hello.
    const stale: Sse[] = [];
    const third = new AbortController();
    await readEvents(`${s.base}/api/events`, stale, third.signal, { "Last-Event-ID": "0000.5" });
    await waitFor("hello", () => (stale.some((e) => e.event === "hello") ? true : null));
    third.abort();
    expect(stale.map((e) => e.event).slice(0, 2)).toEqual(["reset", "hello"]);
  }, 150_000);
});
