// S4 against the built CLI's `serve`: 127.0.0.1 by default (checked in /proc/net/tcp, not only in the
// printed URL); any other address without a token is refused with exit 2; with a token, every route
// the app registers (enumerated from createApp with every optional capability on) is 401 without it,
// with a wrong one, and with the token in a cookie or the query; POSTs work only with the header; and
// restore targets cannot leave the restore root by `..`, an absolute path, or a symlink.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { collect, runCli, startCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { serve } from "../server/serve-helper.js";
import { walkFiles } from "./scan.js";

let root: string;
let configFile: string;
let tokenConfigFile: string;
let restoreRoot: string;
const TOKEN = `s4-token-${"0123456789abcdef".repeat(2)}`;

function writeConfig(file: string, extra: Record<string, unknown>) {
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      state_dir: path.join(root, "state"),
      host: "testhost",
      repositories: { local: { url: path.join(root, "repo"), password_file: path.join(root, "pass") } },
      sources: { s: { paths: [path.join(root, "src")] } },
      jobs: { j: { steps: [{ name: "hello", type: "exec", command: ["true"] }] } },
      ...extra,
    }),
  );
}

beforeAll(() => {
  root = makeSharedDir("holdfast-s4-");
  fs.mkdirSync(path.join(root, "src"));
  fs.writeFileSync(path.join(root, "pass"), "s4-password\n", { mode: 0o600 });
  fs.writeFileSync(path.join(root, "token"), `${TOKEN}\n`, { mode: 0o600 });
  restoreRoot = path.join(root, "restores");
  fs.mkdirSync(restoreRoot);
  configFile = path.join(root, "holdfast.yaml");
  writeConfig(configFile, { server: { restore_root: restoreRoot } });
  tokenConfigFile = path.join(root, "token.yaml");
  writeConfig(tokenConfigFile, {
    server: { restore_root: restoreRoot, token_file: path.join(root, "token") },
  });
});
afterAll(() => removeDir(root));

/** Listening TCP sockets on a port, as "ADDRESS" strings decoded from /proc/net/tcp{,6}. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [addr, portHex] = (cols[1] ?? "").split(":");
      if (cols[3] !== "0A" || !addr || Number.parseInt(portHex ?? "", 16) !== port) continue;
      if (addr.length === 8) {
        out.push(
          (addr.match(/../g) ?? [])
            .reverse()
            .map((h) => Number.parseInt(h, 16))
            .join("."),
        );
      } else out.push(`v6:${addr}`);
    }
  }
  return out;
}

describe("S4: the dashboard", () => {
  it("binds 127.0.0.1 by default and with 127.0.0.1:0 — and nothing else", async () => {
    const show = await runCli(["--config", configFile, "config", "show", "--json"]);
    expect(show.code).toBe(0);
    expect((JSON.parse(show.stdout) as { server: { listen: string } }).server.listen).toMatch(
      /^127\.0\.0\.1:\d+$/,
    );

    const s = await serve(configFile, "127.0.0.1:0");
    expect(listeners(s.port)).toEqual(["127.0.0.1"]);
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    // Without a token (loopback only), a state-changing call needs the X-Holdfast-Request header — a
    // cross-site form cannot send it — and a DNS-rebinding Host name is refused.
    const plain = await fetch(`${s.base}/api/jobs/j/run`, { method: "POST" });
    expect(plain.status).toBe(403);
    const form = await fetch(`${s.base}/api/jobs/j/run`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: "x=1" },
      body: "a=1",
    });
    expect(form.status).toBe(403);
    const rebound = await new Promise<number>((resolve, reject) => {
      http
        .get(
          { host: "127.0.0.1", port: s.port, path: "/api/status", headers: { Host: "evil.example:80" } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on("error", reject);
    });
    expect(rebound).toBe(403);
    s.child.kill("SIGTERM");
    await s.done;

    // Without --listen: the default address. Port 8760 may be taken on a shared machine; then the
    // refusal must still not fall back to another address.
    const child = startCli(["--config", configFile, "serve"]);
    let seen = "";
    child.stdout?.on("data", (d: Buffer) => (seen += d.toString()));
    const done = collect(child, { timeoutMs: 30_000 });
    const deadline = Date.now() + 15_000;
    while (!/http:\/\/\S+:\d+\//.test(seen) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const m = /http:\/\/(\S+):(\d+)\//.exec(seen);
    if (m) {
      expect(m[1]).toBe("127.0.0.1");
      expect(listeners(Number(m[2]))).toEqual(["127.0.0.1"]);
      child.kill("SIGTERM");
    }
    const r = await done;
    if (!m) expect(r.stderr).toMatch(/127\.0\.0\.1:8760/);
  });

  it("refuses any other address without a token (exit 2, with a hint), before binding", async () => {
    const addresses = [
      "0.0.0.0:0",
      "[::]:0",
      "192.0.2.10:0",
      "10.1.2.3:0",
      "[::ffff:0.0.0.0]:0",
      "[::1%lo]:0",
    ];
    for (const listen of addresses) {
      const r = await runCli(["--config", configFile, "serve", "--listen", listen], { timeoutMs: 20_000 });
      expect(r.code, `${listen}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stdout).not.toMatch(/http:\/\//);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
    const inConfig = path.join(root, "open.yaml");
    writeConfig(inConfig, { server: { listen: "0.0.0.0:0" } });
    const r = await runCli(["--config", inConfig, "serve"], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("token_file");
  });

  it("with a token, every route the app registers is 401 without it; POST needs the header", async () => {
    // The routes, from the app itself, with every optional capability switched on.
    const stub = () =>
      Promise.resolve({
        pid: 1,
        run_id: null,
        exit_code: null,
        output_tail: "",
        finished: Promise.resolve(),
      });
    const app = createApp({
      config: loadConfigFile(tokenConfigFile),
      store: createMemoryStore(),
      token: TOKEN,
      runJob: stub,
      renderMetrics: () => Promise.resolve(""),
      snapshots: () => Promise.reject(new Error("unused")),
      logError: () => undefined,
    });
    const routes = [
      ...new Set(
        app.routes
          .filter((r) => r.method !== "ALL")
          .map((r) => `${r.method} ${r.path.replace(/:[a-z]+/g, "x")}`),
      ),
    ];
    const api = routes.filter((r) => / \/(api|metrics)/.test(r));
    const open = routes.filter((r) => !api.includes(r));
    // Only the static web files and /healthz are open; they carry no data.
    for (const r of open)
      expect(r).toMatch(
        /^GET (\/|\/healthz|\/[\w.-]+\.(js|css|html|ico|svg)|\/index\.html|\/assets\/x|\/(jobs|runs|repos)\/x(\/snapshots\/x(\/restore)?)?|\/fleet(\/hosts\/x(\/(jobs|runs)\/x)?)?)$/,
      );
    expect(api.length).toBeGreaterThanOrEqual(10);

    const s = await serve(tokenConfigFile, "0.0.0.0:0");
    expect(listeners(s.port)).toEqual(["0.0.0.0"]);
    const wrongs: Array<[string, Record<string, string>]> = [
      ["none", {}],
      ["wrong token", { Authorization: `Bearer ${TOKEN}x` }],
      ["prefix of the token", { Authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ["cookie", { Cookie: `token=${TOKEN}; holdfast_token=${TOKEN}; session=${TOKEN}` }],
      ["basic", { Authorization: `Basic ${Buffer.from(`holdfast:${TOKEN}`).toString("base64")}` }],
      ["X-Holdfast-Request only", { "X-Holdfast-Request": "1" }],
    ];
    let calls = 0;
    for (const route of [...api, "GET /api/does-not-exist", "POST /api/does-not-exist"]) {
      const [method, p] = route.split(" ") as [string, string];
      for (const [what, headers] of wrongs) {
        for (const query of ["", `?token=${TOKEN}`]) {
          const res = await fetch(`${s.base}${p}${query}`, {
            method,
            headers: { ...headers, ...(method === "POST" ? { "Content-Type": "application/json" } : {}) },
            ...(method === "POST" ? { body: JSON.stringify({ repo: "local", target: "x" }) } : {}),
          });
          calls++;
          expect(res.status, `${route}${query} with ${what}`).toBe(401);
          expect(res.headers.get("set-cookie")).toBeNull();
        }
      }
    }
    const auth = { Authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${s.base}/api/status`, { headers: auth })).status).toBe(200);
    const run = await fetch(`${s.base}/api/jobs/j/run`, { method: "POST", headers: auth });
    expect(run.status).toBe(202);

    // Restore targets that leave the root: 400, and nothing is created outside.
    const outside = path.join(root, "outside");
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(restoreRoot, "link-out"));
    fs.symlinkSync("/", path.join(restoreRoot, "link-root"));
    fs.mkdirSync(path.join(restoreRoot, "inner"));
    fs.symlinkSync("../../outside", path.join(restoreRoot, "inner", "up"));
    const escapes = [
      "..",
      "../outside",
      "x/../../outside",
      "./../outside/y",
      outside,
      "/tmp",
      "/",
      `${restoreRoot}/../outside`,
      `${restoreRoot}-sibling`,
      "link-out",
      "link-out/deeper",
      "link-root/tmp",
      "inner/up",
      "inner/up/new",
      "",
      "x\u0000y",
    ];
    for (const target of escapes) {
      const res = await fetch(`${s.base}/api/restore`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({ repo: "local", target }),
      });
      calls++;
      expect(res.status, JSON.stringify(target)).toBe(400);
    }
    expect(walkFiles(outside)).toEqual([]);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(`${restoreRoot}-sibling`)).toBe(false);
    s.child.kill("SIGTERM");
    await s.done;
    console.log(
      `S4: ${api.length} API routes (+${open.length} open static/health) × ${wrongs.length * 2} bad credentials → 401; ` +
        `${escapes.length} restore escapes → 400; ${calls} calls in all`,
    );
  });

  it("a percent-encoded path is the same route: /%61pi/status needs the token, /api/token%73 the operator role", async () => {
    // The router decodes %XX in the path (Hono's getPath): the access check must decide on that path,
    // not on the one as sent, or an encoded letter walks past the token.
    const viewerAdd = await runCli(["--config", tokenConfigFile, "serve", "token", "add", "s4-viewer"]);
    expect(viewerAdd.code, viewerAdd.stderr).toBe(0);
    const viewer = viewerAdd.stdout.trim();
    const s = await serve(tokenConfigFile, "127.0.0.1:0");
    const get = (p: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        // node:http sends the path byte for byte (fetch would too, but this leaves no doubt).
        const req = http.request({ host: "127.0.0.1", port: s.port, path: p, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    const encoded = [
      "/%61pi/status",
      "/%61pi/config",
      "/%61pi/runs",
      "/%61pi/repositories",
      "/%61pi/redundancy",
      "/%61pi/info",
      "/api/%73tatus",
      "/%61%70%69/config",
      "/%6detrics",
      "/%61pi/tokens",
      "/%61pi/events",
    ];
    for (const p of encoded) expect(await get(p), `${p} without a token`).toBe(401);
    expect(await get("/api/status", { Authorization: `Bearer ${viewer}` })).toBe(200);
    for (const p of ["/api/token%73", "/%61pi/tokens", "/api/tokens"])
      expect(await get(p, { Authorization: `Bearer ${viewer}` }), `${p} with a viewer token`).toBe(403);
    expect(await get("/api/token%73", { Authorization: `Bearer ${TOKEN}` })).toBe(200);
    s.child.kill("SIGTERM");
    await s.done;
    expect((await runCli(["--config", tokenConfigFile, "serve", "token", "remove", "s4-viewer"])).code).toBe(
      0,
    );
  });
});
