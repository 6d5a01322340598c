// The HTTP API in-process (app.request), route by route: status codes, JSON shapes, access control.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp, type ServerDeps } from "../../src/server/app.js";
import type { LaunchResult } from "../../src/server/launcher.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { computeJobStatuses } from "../../src/engine/job-status.js";
import { freshnessOf } from "../../src/server/freshness.js";
import type { JobConfig } from "../../src/config/types.js";
import { maskConfig } from "../../src/config/mask.js";
import { lockPaths } from "../../src/engine/job-lock.js";
import { redactorForConfig } from "../../src/engine/secrets.js";
import { redactDeep } from "../../src/server/http.js";
import { HOUR, makeFixture, seedHistory, type Fixture } from "./fixture.js";

// Response.json() is Promise<unknown> in Node's types; the tests look into the bodies freely.
const json = (res: Response): Promise<any> => res.json() as Promise<any>;

const NOW = new Date("2026-11-26T12:00:00.000Z");
const POST = { method: "POST", headers: { "X-Holdfast-Request": "1" } } as const;

let fx: Fixture;
let store: RunStore;
let ids: { nightly: string[]; quick: string };
let children: ChildProcess[] = [];

function app(overrides: Partial<ServerDeps> = {}) {
  return createApp({
    config: fx.config,
    store,
    token: null,
    now: () => NOW,
    logError: () => undefined,
    ...overrides,
  });
}

beforeEach(async () => {
  fx = makeFixture();
  store = createMemoryStore();
  ids = await seedHistory(store, fx, NOW);
});

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children = [];
  await store.close();
});

describe("static files and headers", () => {
  it("serves the dashboard with security headers", async () => {
    const res = await app().request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    const script = /<script type="module" crossorigin src="(\/assets\/[\w.-]+\.js)">/.exec(html)?.[1];
    const style = /<link rel="stylesheet" crossorigin href="(\/assets\/[\w.-]+\.css)">/.exec(html)?.[1];
    expect(script, "the built entry script (npm run build)").toBeDefined();
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // no CDN
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    for (const file of [script as string, style as string, "/favicon.svg"]) {
      const r = await app().request(file);
      expect(r.status, file).toBe(200);
    }
    expect((await app().request(script as string)).headers.get("content-type")).toMatch(/^text\/javascript/);
  });

  it("answers unknown paths with the JSON error shape and the same headers", async () => {
    for (const p of ["/nope", "/../package.json", "/web/app.js", "/api/nope"]) {
      const res = await app().request(p);
      expect(res.status, p).toBe(404);
      const body = await json(res);
      expect(body.error).toMatchObject({ kind: "not_found" });
      expect(Object.keys(body.error).sort()).toEqual(["hint", "kind", "message"]);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
  });
});

describe("GET /healthz", () => {
  it("is ok when the history is readable, 503 when not", async () => {
    const res = await app().request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok\n");
    const broken = { ...store, countRuns: () => Promise.reject(new Error("disk I/O error")) };
    const bad = await app({ store: broken }).request("/healthz");
    expect(bad.status).toBe(503);
    expect(await bad.text()).toContain("history unreadable: disk I/O error");
  });
});

describe("GET /metrics", () => {
  it("is 404 with an explanation without a renderer, the exposition with one", async () => {
    const none = await app().request("/metrics");
    expect(none.status).toBe(404);
    expect((await json(none)).error.message).toMatch(/metrics are not available/);
    const res = await app({ renderMetrics: () => Promise.resolve('holdfast_up{job="nightly"} 1\n') }).request(
      "/metrics",
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(await res.text()).toBe('holdfast_up{job="nightly"} 1\n');
  });
});

describe("GET /api/status", () => {
  it("is the JSON of `status --json`", async () => {
    const res = await app().request("/api/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await json(res);
    // The same JSON, with the secrets planted in one run's error masked, and the server's freshness
    // verdict added to each job.
    const jobs = (await computeJobStatuses(fx.config, store, NOW)).map((j) => ({
      ...j,
      ...freshnessOf(fx.config.jobs[j.name] as JobConfig, j, NOW),
    }));
    const expected = redactDeep(JSON.parse(JSON.stringify({ jobs })), redactorForConfig(fx.config));
    expect(body).toEqual(expected);
    const nightly = body.jobs.find((j: { name: string }) => j.name === "nightly");
    // Last success 30 h ago with max_age 26h: stale.
    expect(nightly).toMatchObject({
      state: "stale",
      max_age_ms: 26 * HOUR,
      last_run: { id: ids.nightly[1], status: "failed" },
    });
    expect(body.jobs.find((j: { name: string }) => j.name === "quick")).toMatchObject({ state: "ok" });
  });
});

describe("GET /api/runs", () => {
  it("is the JSON of `history --json`, newest first, with a cursor", async () => {
    const res = await app().request("/api/runs");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.runs.map((r: { id: string }) => r.id)).toEqual([ids.quick, ids.nightly[1], ids.nightly[0]]);
    expect(body.next_before).toBeNull();
    const run = body.runs[1];
    for (const key of [
      "id",
      "job",
      "host",
      "trigger",
      "status",
      "exit_code",
      "started_at",
      "finished_at",
      "duration_ms",
      "steps",
    ]) {
      expect(run, key).toHaveProperty(key);
    }
    expect(run.steps[1]).toMatchObject({ name: "home", type: "backup", status: "failed", attempts: 1 });
    expect(run.steps[1].targets[0]).toMatchObject({
      repo: "local",
      snapshot_id: "dddddddd22",
      data_added: 2000,
    });
  });

  it("filters by job, pages with limit and before", async () => {
    const page1 = await json(await app().request("/api/runs?job=nightly&limit=1"));
    expect(page1.runs.map((r: { id: string }) => r.id)).toEqual([ids.nightly[1]]);
    expect(page1.next_before).toBe(page1.runs[0].started_at);
    const page2 = await json(
      await app().request(`/api/runs?job=nightly&limit=1&before=${encodeURIComponent(page1.next_before)}`),
    );
    expect(page2.runs.map((r: { id: string }) => r.id)).toEqual([ids.nightly[0]]);
    // The cursor that follows the order of recording, whatever the clock said.
    expect(page1.next_before_run).toBe(page1.runs[0].id);
    const page3 = await json(
      await app().request(`/api/runs?job=nightly&limit=1&before_run=${page1.next_before_run}`),
    );
    expect(page3.runs.map((r: { id: string }) => r.id)).toEqual([ids.nightly[0]]);
  });

  it("rejects bad parameters with 400", async () => {
    for (const q of [
      "limit=0",
      "limit=abc",
      "limit=10001",
      "job=nosuchjob",
      "before=yesterday",
      "before_run=nosuchrun",
    ]) {
      const res = await app().request(`/api/runs?${q}`);
      expect(res.status, q).toBe(400);
      expect((await json(res)).error.kind).toBe("bad_request");
    }
  });
});

describe("GET /api/runs/:id", () => {
  it("is the JSON of `show --json`: by id, unique prefix, or latest", async () => {
    const full = await json(await app().request(`/api/runs/${ids.nightly[0]}`));
    expect(full).toEqual(JSON.parse(JSON.stringify(await store.getRun(ids.nightly[0]!))));
    const latest = await json(await app().request("/api/runs/latest"));
    expect(latest.id).toBe(ids.quick);
    const prefix = await json(await app().request(`/api/runs/${ids.quick.slice(0, 20).toLowerCase()}`));
    expect(prefix.id).toBe(ids.quick);
  });

  it("is 404 for an unknown run, 400 for an ambiguous prefix or a malformed id", async () => {
    expect((await app().request("/api/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ")).status).toBe(404);
    expect((await app().request("/api/runs/01JSERVERTEST")).status).toBe(400);
    expect((await app().request("/api/runs/..%2F..%2Fetc")).status).toBe(400);
  });
});

describe("GET /api/runs/:id/logs", () => {
  it("prints the captured output per step, as text", async () => {
    const res = await app().request(`/api/runs/${ids.quick}/logs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain("==> leak (succeeded)");
    expect(text).toContain("==> bye (succeeded)");
    expect(text).toContain("bye");
    // Every value of a repository env file counts as a secret.
    expect(text).toContain("AWS_ACCESS_KEY_ID=***");
  });

  it("filters by step; 404 for a step the run does not have", async () => {
    const text = await (await app().request(`/api/runs/${ids.quick}/logs?step=bye`)).text();
    expect(text).not.toContain("==>");
    expect(text).toContain("started step bye");
    expect(text).not.toContain("started step leak");
    const missing = await app().request(`/api/runs/${ids.quick}/logs?step=nope`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.hint).toContain("leak, bye");
  });
});

describe("GET /api/config", () => {
  it("is maskConfig's output", async () => {
    const body = await json(await app().request("/api/config"));
    expect(body).toEqual(JSON.parse(JSON.stringify(maskConfig(fx.config))));
    expect(body.repositories.cloud.offsite).toBe(true);
  });
});

describe("GET /api/redundancy", () => {
  it("gives sources × repositories with the 3-2-1 verdict", async () => {
    const body = await json(await app().request("/api/redundancy"));
    expect(body.repositories).toEqual([
      { name: "local", offsite: false, backend: "local" },
      { name: "cloud", offsite: true, backend: null },
      { name: "nas", offsite: false, backend: "sftp" },
    ]);
    const home = body.sources.find((s: { source: string }) => s.source === "home");
    // local from the newer run (5 h), cloud only from the older one (30 h > 26 h max_age: stale).
    expect(home.cells).toMatchObject([
      {
        repo: "local",
        planned: true,
        snapshot_id: "dddddddd22",
        age_ms: 5 * HOUR - 1000,
        via: "backup",
        stale: false,
      },
      {
        repo: "cloud",
        planned: true,
        snapshot_id: "bbbbbbbb11",
        age_ms: 30 * HOUR - 1000,
        via: "backup",
        stale: true,
      },
      { repo: "nas", planned: false, latest_snapshot_at: null },
    ]);
    expect(home).toMatchObject({ copies: 3, media: 2, offsite: 1, verdict: "ok" });
    const etc = body.sources.find((s: { source: string }) => s.source === "etc");
    expect(etc.cells[2]).toMatchObject({ repo: "nas", via: "copy", age_ms: 30 * HOUR - 2000 });
    expect(etc).toMatchObject({ copies: 3, media: 2, offsite: 0, verdict: "at_risk" });
    expect(etc.problems.join(" ")).toMatch(/no offsite copy/);
  });
});

describe("GET /api/info", () => {
  it("tells the dashboard what works", async () => {
    const body = await json(
      await app({ runJob: () => Promise.reject(new Error("unused")) }).request("/api/info"),
    );
    expect(body).toMatchObject({
      host: "testhost",
      token_required: false,
      restore_root: fx.restoreRoot,
      capabilities: { run: true, restore: false, metrics: false, snapshots: false },
    });
  });
});

describe("GET /api/snapshots", () => {
  const list = (repo: string, filter: { source: string | null }) =>
    Promise.resolve(
      repo === "cloud"
        ? { snapshots: [], error: { kind: "network", message: "cannot reach the backend", hint: null } }
        : { snapshots: [{ id: `${repo}-id`, short_id: "abcd1234", source: filter.source }], error: null },
    );

  it("does not exist without a lister", async () => {
    expect((await app().request("/api/snapshots")).status).toBe(404);
  });

  it("lists one repository, or each, in the JSON of `snapshots --json`", async () => {
    const a = app({ snapshots: list });
    expect(await json(await a.request("/api/snapshots?repo=local&source=home"))).toEqual({
      repositories: [
        { name: "local", snapshots: [{ id: "local-id", short_id: "abcd1234", source: "home" }], error: null },
      ],
    });
    const all = await json(await a.request("/api/snapshots"));
    expect(all.repositories.map((r: { name: string }) => r.name)).toEqual(["local", "cloud", "nas"]);
    expect(all.repositories[1]).toEqual({
      name: "cloud",
      snapshots: [],
      error: { kind: "network", message: "cannot reach the backend", hint: null },
    });
    expect((await json(await a.request("/api/info"))).capabilities.snapshots).toBe(true);
  });

  it("is 400 for an unknown repository or source", async () => {
    const a = app({ snapshots: list });
    expect((await a.request("/api/snapshots?repo=nope")).status).toBe(400);
    expect((await a.request("/api/snapshots?source=nope")).status).toBe(400);
  });
});

describe("POST /api/jobs/:job/run", () => {
  const started: LaunchResult = { pid: 4321, run_id: "01JNEWRUN", exit_code: null, output_tail: "" };

  it("needs X-Holdfast-Request when there is no token (403), and starts the run (202)", async () => {
    const calls: string[] = [];
    const a = app({ runJob: (job) => (calls.push(job), Promise.resolve(started)) });
    const plain = await a.request("/api/jobs/nightly/run", { method: "POST" });
    expect(plain.status).toBe(403);
    expect((await json(plain)).error.kind).toBe("forbidden");
    const wrongValue = await a.request("/api/jobs/nightly/run", {
      method: "POST",
      headers: { "X-Holdfast-Request": "yes" },
    });
    expect(wrongValue.status).toBe(403);
    expect(calls).toEqual([]);
    const res = await a.request("/api/jobs/nightly/run", POST);
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({
      job: "nightly",
      pid: 4321,
      run_id: "01JNEWRUN",
      exit_code: null,
      state: "started",
    });
    expect(calls).toEqual(["nightly"]);
  });

  it("runs only the steps asked for (Run now of one step), and refuses unknown steps", async () => {
    const calls: Array<[string, readonly string[] | undefined]> = [];
    const a = app({ runJob: (job, steps) => (calls.push([job, steps]), Promise.resolve(started)) });
    const res = await a.request("/api/jobs/nightly/run", {
      ...POST,
      body: JSON.stringify({ steps: ["home"] }),
    });
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ job: "nightly", steps: ["home"], state: "started" });
    const bad = await a.request("/api/jobs/nightly/run", {
      ...POST,
      body: JSON.stringify({ steps: ["nope"] }),
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.hint).toContain("home");
    expect(calls).toEqual([["nightly", ["home"]]]);
  });

  it("is 404 for an unknown job, 501 when runs cannot be started, GET is 404", async () => {
    expect(
      (await app({ runJob: () => Promise.resolve(started) }).request("/api/jobs/nope/run", POST)).status,
    ).toBe(404);
    expect((await app().request("/api/jobs/nightly/run", POST)).status).toBe(501);
    expect(
      (await app({ runJob: () => Promise.resolve(started) }).request("/api/jobs/nightly/run")).status,
    ).toBe(404);
  });

  it("is 409 while a live holdfast process holds the job's lock, without starting anything", async () => {
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
    children.push(holder);
    const paths = lockPaths(fx.config.state_dir, "nightly");
    fs.mkdirSync(paths.dir, { recursive: true });
    fs.writeFileSync(paths.holder, JSON.stringify({ pid: holder.pid, since: "2026-11-26T11:59:00.000Z" }));
    const calls: string[] = [];
    const res = await app({ runJob: (job) => (calls.push(job), Promise.resolve(started)) }).request(
      "/api/jobs/nightly/run",
      POST,
    );
    expect(res.status).toBe(409);
    const body = await json(res);
    expect(body.error.kind).toBe("conflict");
    expect(body.error.message).toContain(`pid ${holder.pid}`);
    expect(body.holder).toEqual({ pid: holder.pid, since: "2026-11-26T11:59:00.000Z" });
    expect(calls).toEqual([]);
  });

  it("ignores a holder file left by a dead process", async () => {
    const dead = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    await new Promise((r) => dead.on("exit", r));
    const paths = lockPaths(fx.config.state_dir, "nightly");
    fs.mkdirSync(paths.dir, { recursive: true });
    fs.writeFileSync(paths.holder, JSON.stringify({ pid: dead.pid, since: "2026-11-25T00:00:00.000Z" }));
    const res = await app({ runJob: () => Promise.resolve(started) }).request("/api/jobs/nightly/run", POST);
    expect(res.status).toBe(202);
  });

  it("is 409 when the child finds the lock taken (exit 4)", async () => {
    const res = await app({
      runJob: () => Promise.resolve({ ...started, exit_code: 4, output_tail: "already running" }),
    }).request("/api/jobs/nightly/run", POST);
    expect(res.status).toBe(409);
  });
});

describe("with a token", () => {
  const token = "s3cr3t-token-for-the-api-0123456789";
  const auth = { Authorization: `Bearer ${token}` };
  const apiGets = [
    "/api/info",
    "/api/status",
    "/api/runs",
    "/api/runs/latest",
    "/api/runs/latest/logs",
    "/api/config",
    "/api/redundancy",
    "/metrics",
  ];

  it("every /api call and /metrics without the token is 401; with it, 200", async () => {
    const a = app({ token, renderMetrics: () => Promise.resolve("x 1\n") });
    for (const p of apiGets) {
      const none = await a.request(p);
      expect(none.status, p).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expect((await json(none)).error.kind).toBe("unauthorized");
      const wrong = await a.request(p, { headers: { Authorization: `Bearer ${token}x` } });
      expect(wrong.status, p).toBe(401);
      const basic = await a.request(p, {
        headers: { Authorization: `Basic ${Buffer.from(`u:${token}`).toString("base64")}` },
      });
      expect(basic.status, p).toBe(401);
      const ok = await a.request(p, { headers: auth });
      expect(ok.status, p).toBe(200);
      await ok.text();
    }
    expect((await a.request("/api/nope")).status).toBe(401);
  });

  it("the page and /healthz stay public (they hold no data)", async () => {
    const a = app({ token });
    expect((await a.request("/")).status).toBe(200);
    expect((await a.request("/healthz")).status).toBe(200);
  });

  it("state-changing calls need the token, even with X-Holdfast-Request", async () => {
    const calls: string[] = [];
    const a = app({
      token,
      runJob: (job) => (
        calls.push(job),
        Promise.resolve({ pid: 1, run_id: null, exit_code: null, output_tail: "" })
      ),
    });
    expect((await a.request("/api/jobs/nightly/run", POST)).status).toBe(401);
    expect((await a.request("/api/restore", { ...POST, body: "{}" })).status).toBe(401);
    expect(calls).toEqual([]);
    expect((await a.request("/api/jobs/nightly/run", { method: "POST", headers: auth })).status).toBe(202);
    expect(calls).toEqual(["nightly"]);
  });

  it("answers any Host name (the token is the guard)", async () => {
    const res = await app({ token }).request("http://backup.example.org/api/status", { headers: auth });
    expect(res.status).toBe(200);
  });
});

describe("without a token", () => {
  it("refuses non-loopback Host names (DNS rebinding)", async () => {
    for (const host of ["evil.example", "192.168.1.10", "127.0.0.1.evil.example"]) {
      const res = await app().request(`http://${host}/api/status`);
      expect(res.status, host).toBe(403);
    }
    for (const host of ["localhost:8760", "127.0.0.1:8760", "[::1]:8760"]) {
      expect((await app().request(`http://${host}/api/status`)).status, host).toBe(200);
    }
  });
});

describe("POST /api/restore on a server without restic", () => {
  // The restores themselves run through the server's own restic: test/server/restic-restore.test.ts,
  // and the escapes from the restore root against a real server in test/security/s4-dashboard.test.ts.
  const post = (a: ReturnType<typeof app>, body: unknown) =>
    a.request("/api/restore", {
      method: "POST",
      headers: { "X-Holdfast-Request": "1", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });

  it("needs the custom header", async () => {
    const res = await app().request("/api/restore", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ repo: "local", target: "x" }),
    });
    expect(res.status).toBe(403);
  });

  it("is 501 for a good request, after checking it like any server (a probe learns nothing)", async () => {
    const ok = await post(app(), { repo: "local", paths: ["/home/sig/notes"], target: "ok" });
    expect(ok.status).toBe(501);
    expect((await json(ok)).error.hint).toContain("holdfast restore");
    expect((await post(app(), { repo: "local", target: "../../etc" })).status).toBe(400);
    expect(fs.existsSync(path.join(fx.restoreRoot, "ok"))).toBe(false);
  });

  it("refuses every escape from the restore root with 400 and makes nothing", async () => {
    const outside = path.join(fx.dir, "outside");
    fs.mkdirSync(outside);
    fs.mkdirSync(fx.restoreRoot, { recursive: true });
    fs.symlinkSync(outside, path.join(fx.restoreRoot, "link-out"));
    fs.symlinkSync("/etc", path.join(fx.restoreRoot, "link-etc"));
    fs.symlinkSync(path.join(fx.dir, "does-not-exist"), path.join(fx.restoreRoot, "dangling"));
    fs.mkdirSync(path.join(fx.restoreRoot, "inner"));
    fs.symlinkSync("../../outside", path.join(fx.restoreRoot, "inner", "up"));
    fs.writeFileSync(path.join(fx.restoreRoot, "a-file"), "x");
    const a = app();
    const attempts = [
      "..",
      "../outside",
      "../../../../../../etc",
      "x/../../outside",
      `${fx.restoreRoot}/../outside`,
      `${fx.restoreRoot}/x/../../outside`,
      "/etc",
      "/tmp/holdfast-restore-elsewhere",
      outside,
      fx.restoreRoot + "-sibling",
      "link-out",
      "link-out/deeper/still",
      "link-etc",
      "inner/up",
      "inner/up/x",
      "dangling",
      "dangling/x",
      "a-file",
      "a-file/x",
      "",
      "with\u0000nul",
    ];
    for (const target of attempts) {
      const res = await post(a, { repo: "local", target });
      expect(res.status, JSON.stringify(target)).toBe(400);
      const body = await json(res);
      expect(body.error.kind).toBe("bad_request");
      expect(body.error.hint).toBeTruthy();
    }
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("validates the body", async () => {
    const a = app();
    const bodies: unknown[] = [
      null,
      [],
      "local",
      { target: "x" },
      { repo: "nope", target: "x" },
      { repo: "local", target: 5 },
      { repo: "local", target: "x", snapshot: "--dry-run" },
      { repo: "local", target: "x", snapshot: "not hex" },
      { repo: "local", target: "x", paths: "/etc" },
      { repo: "local", target: "x", paths: [""] },
      { repo: "local", target: "x", paths: ["/a"], include: ["/b"] },
      { repo: "local", target: "x", extra: true },
      { repo: "local", target: "x", source: "nope" },
      { repo: "local", target: "x", source: 1 },
      { repo: "local", to_original: true },
      { repo: "local", to_original: true, confirm_original: true, target: "x" },
      { repo: "local", target: "x", dry_run: "yes" },
    ];
    for (const body of bodies) expect((await post(a, body)).status, JSON.stringify(body)).toBe(400);
    const notJson = await a.request("/api/restore", { ...POST, body: "{not json" });
    expect(notJson.status).toBe(400);
    const huge = await a.request("/api/restore", {
      ...POST,
      headers: { ...POST.headers, "Content-Type": "application/json" },
      body: JSON.stringify({ repo: "local", target: "x".repeat(70_000) }),
    });
    expect(huge.status).toBe(413);
  });
});
