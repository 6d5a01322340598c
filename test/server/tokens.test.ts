// Viewer and operator tokens: made by `holdfast serve token add` (printed once, kept as a hash), a
// viewer may read but not run, cancel, restore or download (403 saying why), a wrong token is told
// from a missing one, a removed token is refused by a running server, and no token value or hash is
// in any answer.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { addToken, removeToken, tokensFileOf } from "../../src/server/tokens.js";
import { runCli } from "../helpers/cli.js";
import { makeFixture, seedHistory, type Fixture } from "./fixture.js";

const NOW = new Date("2026-11-26T12:00:00.000Z");

let fx: Fixture;
let store: RunStore;
let tokensFile: string;
let viewer: string;
let operator: string;
let ids: Awaited<ReturnType<typeof seedHistory>>;

beforeEach(async () => {
  fx = makeFixture();
  store = createMemoryStore();
  ids = await seedHistory(store, fx, NOW);
  tokensFile = tokensFileOf(fx.config.state_dir);
  viewer = addToken(tokensFile, "phone", "viewer");
  operator = addToken(tokensFile, "laptop", "operator");
});

afterEach(async () => {
  await store.close();
});

function app() {
  return createApp({
    config: fx.config,
    store,
    token: null,
    tokensFile,
    now: () => NOW,
    logError: () => undefined,
    // A launcher that records what it was asked: the role check must come before it.
    runJob: (job) => {
      started.push(job);
      return Promise.resolve({ pid: 1, run_id: null, exit_code: null, output_tail: "" });
    },
  });
}
let started: string[] = [];
beforeEach(() => {
  started = [];
});

const as = (token: string | null, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: {
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    "Content-Type": "application/json",
    ...(init.headers as Record<string, string> | undefined),
  },
});

describe("viewer and operator tokens", () => {
  it("keeps only hashes, 0600; the values are in no answer", async () => {
    const text = fs.readFileSync(tokensFile, "utf8");
    expect(text).not.toContain(viewer);
    expect(text).not.toContain(operator);
    expect(fs.statSync(tokensFile).mode & 0o777).toBe(0o600);
    const a = app();
    const bodies: string[] = [];
    for (const url of ["/api/info", "/api/tokens", "/api/status", "/api/config", `/api/runs/${ids.quick}`]) {
      const res = await a.request(url, as(operator));
      expect(res.status, url).toBe(200);
      bodies.push(await res.text());
    }
    const hashes = JSON.parse(text).tokens.map((t: { hash: string }) => t.hash.slice(7));
    for (const body of bodies) {
      for (const secret of [viewer, operator, ...hashes]) expect(body).not.toContain(secret);
    }
    const list = JSON.parse(bodies[1] as string);
    expect(list.tokens.map((t: { name: string; role: string }) => `${t.name}:${t.role}`)).toEqual([
      "phone:viewer",
      "laptop:operator",
    ]);
  });

  it("a viewer reads everything but may not run, cancel, restore or download", async () => {
    const a = app();
    const info = (await (await a.request("/api/info", as(viewer))).json()) as any;
    expect(info).toMatchObject({ role: "viewer", token_required: true });
    for (const url of ["/api/status", "/api/runs?limit=5", `/api/runs/${ids.quick}`, "/api/redundancy"]) {
      expect((await a.request(url, as(viewer))).status, url).toBe(200);
    }
    const refused: Array<[string, string, unknown]> = [
      ["POST", "/api/jobs/nightly/run", {}],
      ["POST", `/api/runs/${ids.quick}/cancel`, {}],
      ["POST", "/api/restore", { repo: "local", snapshot: "latest", paths: ["/x"] }],
      ["POST", "/api/downloads", { repo: "local", snapshot: "abcdef12", path: "/x" }],
      ["GET", "/api/tokens", null],
    ];
    for (const [method, url, body] of refused) {
      const res = await a.request(
        url,
        as(viewer, { method, ...(body !== null ? { body: JSON.stringify(body) } : {}) }),
      );
      expect(res.status, `${method} ${url}`).toBe(403);
      const err = (await res.json()) as any;
      expect(err.error.kind).toBe("forbidden");
      expect(err.needs_role).toBe("operator");
      expect(err.error.message).toContain('the token "phone" is a viewer token');
      expect(err.error.hint).toContain("--role operator");
    }
    expect(started).toEqual([]);
    // The operator may.
    const run = await a.request("/api/jobs/nightly/run", as(operator, { method: "POST", body: "{}" }));
    expect(run.status).toBe(202);
    expect(started).toEqual(["nightly"]);
  });

  it("tells a wrong token from a missing one, and refuses a removed token without a restart", async () => {
    const a = app();
    const missing = await a.request("/api/status");
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      reason: "missing",
      error: { kind: "unauthorized", message: "this call needs the API token" },
    });
    const wrong = await a.request("/api/status", as(`${viewer}x`));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      reason: "wrong",
      error: { message: "the API token is wrong" },
    });
    // Named tokens protect the API as token_file does, so another Host name is answered too.
    expect((await a.request("http://backup.example/api/status", as(viewer))).status).toBe(200);

    expect((await a.request("/api/status", as(viewer))).status).toBe(200);
    expect(removeToken(tokensFile, "phone")).toBe(true);
    const gone = await a.request("/api/status", as(viewer));
    expect(gone.status).toBe(401);
    expect(await gone.json()).toMatchObject({ reason: "wrong" });
    expect((await a.request("/api/status", as(operator))).status).toBe(200);
  });

  it("holdfast serve token add prints the token once, on stdout alone; list and remove", async () => {
    const add = await runCli([
      "--config",
      fx.configFile,
      "serve",
      "token",
      "add",
      "ci",
      "--role",
      "operator",
    ]);
    expect(add.code, add.stderr).toBe(0);
    const value = add.stdout.trim();
    expect(value).toMatch(/^hf_[\w-]{43}$/);
    expect(add.stderr).toContain('made the operator token "ci"');
    expect(add.stderr).not.toContain(value);
    expect(fs.readFileSync(tokensFile, "utf8")).not.toContain(value);
    expect((await app().request("/api/jobs/nightly/run", as(value, { method: "POST" }))).status).toBe(202);

    const list = await runCli(["--config", fx.configFile, "serve", "token", "list", "--json"]);
    expect(JSON.parse(list.stdout).tokens.map((t: { name: string }) => t.name)).toEqual([
      "phone",
      "laptop",
      "ci",
    ]);
    expect(list.stdout).not.toContain("sha256");

    const again = await runCli(["--config", fx.configFile, "serve", "token", "add", "ci"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('a token named "ci" exists already');
    const badRole = await runCli([
      "--config",
      fx.configFile,
      "serve",
      "token",
      "add",
      "x",
      "--role",
      "admin",
    ]);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain("--role admin");
    const rm = await runCli(["--config", fx.configFile, "serve", "token", "remove", "nope"]);
    expect(rm.code).toBe(2);
    expect(rm.stderr).toContain('there is no token named "nope"');
    expect(path.basename(tokensFile)).toBe("server-tokens.json");
  });
});
