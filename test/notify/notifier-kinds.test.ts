import { describe, expect, it } from "vitest";
import {
  choosePing,
  healthchecksBody,
  pingUrl,
  runUuid,
  HEALTHCHECKS_BODY_LIMIT,
} from "../../src/notify/healthchecks.js";
import { ntfyHeaders } from "../../src/notify/ntfy.js";
import { signBody, webhookBody } from "../../src/notify/webhook.js";
import { commandEnv } from "../../src/notify/command.js";
import { headerSafe } from "../../src/notify/http.js";
import type { NotifyMessage } from "../../src/notify/notifier-kind.js";
import type { RunRecord } from "../../src/store/types.js";
import { createHmac } from "node:crypto";

const run = (status: RunRecord["status"], exit_code: number | null): RunRecord => ({
  id: "01M8BMX9H6BTS78W3TSAF61N23",
  job: "j",
  host: "h",
  trigger: "manual",
  status,
  exit_code,
  started_at: "2026-11-26T03:00:00.000Z",
  finished_at: "2026-11-26T03:01:00.000Z",
  duration_ms: 60_000,
  pid: 1,
  error: null,
  steps: [],
  notifications: [],
});

const message = (partial: Partial<NotifyMessage>): NotifyMessage => ({
  event: "success",
  job: "j",
  host: "h",
  at: "2026-11-26T03:01:00.000Z",
  run: run("succeeded", 0),
  title: "[holdfast] j succeeded on h",
  text: "body",
  logTail: "",
  details: {},
  ...partial,
});

describe("healthchecks", () => {
  it("turns a ULID run id into the UUID of the same 128 bits, and anything else into a stable UUID", () => {
    expect(runUuid("01M8BMX9H6BTS78W3TSAF61N23")).toBe("01a2174e-a626-5eb2-7470-7aca9e60d443");
    expect(runUuid("01M8BMX9H6BTS78W3TSAF61N23")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(runUuid("not-a-ulid")).toBe(runUuid("not-a-ulid"));
    expect(runUuid("not-a-ulid")).not.toBe(runUuid("not-a-ulid-2"));
  });

  it("builds the ping URLs: base, /start, /fail, /log; keeps the query; adds rid", () => {
    expect(pingUrl("https://hc.example/ping/abc/", "success", null)).toBe("https://hc.example/ping/abc");
    expect(pingUrl("https://hc.example/ping/abc", "start", "01M8BMX9H6BTS78W3TSAF61N23")).toBe(
      "https://hc.example/ping/abc/start?rid=01a2174e-a626-5eb2-7470-7aca9e60d443",
    );
    expect(pingUrl("https://hc.example/ping/key/slug?create=1\n", "fail", null)).toBe(
      "https://hc.example/ping/key/slug/fail?create=1",
    );
  });

  it("maps events to pings; a warning follows the job's warnings policy unless configured", () => {
    expect(choosePing(message({ event: "start" }), "auto")).toBe("start");
    expect(choosePing(message({ event: "failure" }), "auto")).toBe("fail");
    expect(choosePing(message({ event: "stale", run: null }), "auto")).toBe("fail");
    expect(choosePing(message({ event: "recovered" }), "auto")).toBe("log");
    expect(choosePing(message({ event: "warning", run: run("warning", 3) }), "auto")).toBe("success");
    expect(choosePing(message({ event: "warning", run: run("warning", 1) }), "auto")).toBe("fail");
    expect(choosePing(message({ event: "warning", run: run("succeeded", 0) }), "auto")).toBe("log");
    expect(choosePing(message({ event: "warning", run: run("warning", 3) }), "fail")).toBe("fail");
  });

  it("keeps the body within 100 KB: the summary first, then the end of the log", () => {
    const logTail = Array.from({ length: 5000 }, (_, i) => `log line ${i} ${"x".repeat(40)}`).join("\n");
    const body = healthchecksBody(message({ text: "STEP TABLE", logTail }));
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(HEALTHCHECKS_BODY_LIMIT);
    expect(Buffer.byteLength(body)).toBeGreaterThan(HEALTHCHECKS_BODY_LIMIT - 200);
    expect(body.startsWith("[holdfast] j succeeded on h\n\nSTEP TABLE")).toBe(true);
    expect(body).toContain("log line 4999");
    expect(body).not.toContain("log line 0 ");
  });
});

describe("webhook", () => {
  it("puts event, job and run first and signs the exact bytes", () => {
    const body = webhookBody(message({}));
    expect(Object.keys(JSON.parse(body)).slice(0, 3)).toEqual(["event", "job", "run"]);
    const expected = createHmac("sha256", "k3y").update(Buffer.from(body)).digest("hex");
    expect(signBody(body, "k3y")).toBe(`sha256=${expected}`);
  });
});

describe("ntfy", () => {
  it("sets title, priority and tags by event", () => {
    expect(ntfyHeaders(message({ event: "failure", title: "[holdfast] j FAILED" }))).toMatchObject({
      Title: "[holdfast] j FAILED",
      Priority: "5",
      Tags: "rotating_light,holdfast,failure",
    });
    expect(ntfyHeaders(message({ event: "success" }))).toMatchObject({ Priority: "2" });
    expect(ntfyHeaders(message({ event: "recovered" })).Tags).toContain("tada");
  });

  it("encodes non-Latin-1 header values as an RFC 2047 word instead of failing", () => {
    expect(headerSafe("plain")).toBe("plain");
    expect(headerSafe("a\r\nb")).toBe("a b");
    expect(headerSafe("job → done")).toBe(`=?UTF-8?B?${Buffer.from("job → done").toString("base64")}?=`);
  });
});

describe("command", () => {
  it("passes the event as HOLDFAST_* variables in an otherwise clean environment", () => {
    const env = commandEnv(message({ event: "warning", run: run("warning", 3) }), {
      PATH: "/bin",
      SECRET_TOKEN: "nope",
      HOME: "/root",
    });
    expect(env).toMatchObject({
      PATH: "/bin",
      HOME: "/root",
      HOLDFAST_EVENT: "warning",
      HOLDFAST_JOB: "j",
      HOLDFAST_RUN_ID: "01M8BMX9H6BTS78W3TSAF61N23",
      HOLDFAST_STATUS: "warning",
      HOLDFAST_EXIT_CODE: "3",
      HOLDFAST_DURATION_MS: "60000",
    });
    expect(env.SECRET_TOKEN).toBeUndefined();
  });
});
