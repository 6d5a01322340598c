// The reverse-proxy recipe of docs/recipes.md, run as written with Debian's nginx on 127.0.0.1 in front
// of a real `holdfast serve`, over TLS with a self-signed certificate made by openssl: the dashboard,
// tokens, compression and ETags pass through, and GET /api/events streams (a run started through the
// proxy is seen on the stream while the stream stays open).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";
import { addToken, tokensFileOf } from "../../src/server/tokens.js";
import { makeFixture } from "./fixture.js";
import { serve, waitFor } from "./serve-helper.js";

const NGINX = "/usr/sbin/nginx";
const hasNginx = fs.existsSync(NGINX) && spawnSync("openssl", ["version"]).status === 0;
let nginx: ChildProcess | null = null;

afterEach(async () => {
  if (nginx && nginx.exitCode === null) {
    const gone = new Promise((r) => nginx?.once("exit", r));
    nginx.kill("SIGTERM");
    await gone;
  }
  nginx = null;
});

/** The recipe's nginx block, as docs/recipes.md has it. */
function recipeBlock(): string {
  const md = fs.readFileSync(path.join(REPO_ROOT, "docs", "recipes.md"), "utf8");
  const at = md.indexOf("<!-- recipe:nginx");
  const block = /```nginx\n([\s\S]*?)```/.exec(md.slice(at))?.[1];
  if (at < 0 || !block) throw new Error("docs/recipes.md has no recipe:nginx block");
  return block;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, ca: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!hasNginx)("the dashboard behind nginx (docs/recipes.md)", () => {
  it("serves it over TLS with tokens, compression, ETags and a live event stream", async () => {
    const fx = makeFixture({ token: true });
    const operator = fx.token as string;
    const viewer = addToken(tokensFileOf(fx.config.state_dir), "phone", "viewer");
    const s = await serve(fx.configFile, "127.0.0.1:0");

    const dir = makeTempDir("holdfast-nginx-");
    const crt = path.join(dir, "holdfast.crt");
    const key = path.join(dir, "holdfast.key");
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        crt,
      ],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const ca = fs.readFileSync(crt, "utf8");

    const port = await freePort();
    const server = recipeBlock()
      .replace("listen 443 ssl;", `listen 127.0.0.1:${port} ssl;`)
      .replace("/etc/ssl/certs/holdfast.crt", crt)
      .replace("/etc/ssl/private/holdfast.key", key)
      .replace("http://127.0.0.1:8760", s.base);
    expect(server).toContain(s.base);
    for (const d of ["logs", "tmp"]) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(
      path.join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
${server}
}
`,
    );
    const test = spawnSync(NGINX, ["-t", "-p", dir, "-c", path.join(dir, "nginx.conf")], {
      encoding: "utf8",
    });
    expect(test.status, test.stderr).toBe(0);
    nginx = spawn(
      NGINX,
      ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off; master_process off;"],
      {
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    const base = `https://127.0.0.1:${port}`;
    await waitFor(
      "nginx",
      async () => (await get(`${base}/healthz`, ca).catch(() => null))?.status === 200 || null,
    );

    // The dashboard itself, compressed as the server sent it.
    const page = await get(`${base}/`, ca, { "Accept-Encoding": "br" });
    expect(page.status).toBe(200);
    expect(page.headers["content-encoding"]).toBe("br");
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");

    // Tokens pass through; without one, 401.
    expect((await get(`${base}/api/status`, ca)).status).toBe(401);
    const auth = { Authorization: `Bearer ${operator}`, "Accept-Encoding": "br" };
    const status = await get(`${base}/api/status`, ca, auth);
    expect(status.status).toBe(200);
    expect(status.headers["content-encoding"]).toBe("br");
    const etag = status.headers.etag as string;
    expect(etag).toMatch(/^W\//);
    expect((await get(`${base}/api/status`, ca, { ...auth, "If-None-Match": etag })).status).toBe(304);
    const refused = await get(
      `${base}/api/jobs/quick/run`,
      ca,
      { Authorization: `Bearer ${viewer}` },
      "POST",
    );
    expect(refused.status).toBe(403);

    // The event stream: hello at once, then the run started through the proxy, while it is open.
    const seen: string[] = [];
    const stream = https.request(
      `${base}/api/events`,
      { ca, headers: { Authorization: `Bearer ${operator}` } },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (d: string) => seen.push(d));
      },
    );
    stream.end();
    try {
      await waitFor(
        "hello through nginx",
        () => (seen.join("").includes("event: hello") ? true : null),
        10_000,
      );
      const started = await get(
        `${base}/api/jobs/quick/run`,
        ca,
        { Authorization: `Bearer ${operator}` },
        "POST",
      );
      expect(started.status).toBe(202);
      const runId = JSON.parse(started.body.toString()).run_id as string | null;
      await waitFor(
        "the run's end on the stream",
        () => (/event: run\ndata: [^\n]*"status": ?"(succeeded|failed)"/.test(seen.join("")) ? true : null),
        30_000,
      );
      if (runId) expect(seen.join("")).toContain(runId);
      expect(seen.join("")).toMatch(/event: step\n/);
    } finally {
      stream.destroy();
    }
  }, 90_000);
});
