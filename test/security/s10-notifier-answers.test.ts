// S10 against the built CLI's `run`: what an HTTP receiver answers cannot hurt the backup process or
// pull the notifier's credentials elsewhere. Real servers on 127.0.0.1:
// - a receiver that answers 1 GiB (generated as it is sent, never stored), with 200 and with 500:
//   `holdfast run`'s peak RSS (GNU time's %M) stays small, the notifications are recorded as the
//   status says, and the receiver sees the connection closed long before the 1 GiB is out;
// - receivers answering 302, 307 and 308 to another origin (another port is another origin): every
//   notifier kind (webhook with a secret header and an HMAC signature, ntfy with a token,
//   healthchecks) records a failure that names that origin, and the other origin receives nothing;
// - a 307 within the same origin: delivered, the same POST with its body and valid signature.
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, parseJson, runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const GIB = 1024 ** 3;
const hasTime = spawnSync("/usr/bin/time", ["-f", "%M", "true"]).status === 0;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  origin: string;
  host: string;
  seen: Seen[];
  /** Bytes of answer body written per path before the client closed (for the 1 GiB answers). */
  sent: Map<string, number>;
  close(): Promise<void>;
}

type Handler = (
  req: http.IncomingMessage,
  body: string,
  res: http.ServerResponse,
  server: TestServer,
) => void;

async function startServer(handler: Handler): Promise<TestServer> {
  const seen: Seen[] = [];
  const sent = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, body, res, self);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const self: TestServer = {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    sent,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return self;
}

/** Streams `total` bytes of generated text, stopping when the client goes away. */
function streamHuge(
  res: http.ServerResponse,
  status: number,
  total: number,
  onDone: (bytes: number) => void,
) {
  const chunk = Buffer.alloc(64 * 1024, "holdfast-s10 ");
  let written = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    onDone(written);
  };
  res.on("close", finish);
  res.on("error", finish);
  res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": String(total) });
  const pump = () => {
    while (written < total && !res.destroyed) {
      written += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

let dir: string;
let other: TestServer;
let front: TestServer;
const SECRET_HEADER = "S10-HEADER-SECRET-3f9d1c2b7a";
const HOOK_SECRET = "S10-HMAC-KEY-8e21c4d0ff";
const NTFY_TOKEN = "S10-NTFY-TOKEN-55ab90e1";
const HC_UUID = "S10-HC-UUID-0c7d13aa42";

beforeAll(async () => {
  dir = makeSharedDir("holdfast-s10-");
  other = await startServer((_req, _body, res) => {
    res.writeHead(200);
    res.end("OK");
  });
  front = await startServer((req, _body, res, self) => {
    const url = req.url ?? "/";
    const cross = /^\/r(30[0-9])\//.exec(url);
    if (cross) {
      // Location carries the path on: a receiver that moved, as a hostile one would say it did.
      res.writeHead(Number(cross[1]), { Location: `${other.origin}/moved${url}` });
      res.end("moved");
    } else if (url.startsWith("/same307")) {
      res.writeHead(307, { Location: "/final" });
      res.end();
    } else if (url.startsWith("/big")) {
      streamHuge(res, url.startsWith("/big500") ? 500 : 200, GIB, (bytes) => self.sent.set(url, bytes));
    } else {
      res.writeHead(200);
      res.end("OK");
    }
  });
  for (const [name, value] of [
    ["hook.secret", HOOK_SECRET],
    ["ntfy.token", NTFY_TOKEN],
  ]) {
    fs.writeFileSync(path.join(dir, name!), `${value}\n`, { mode: 0o600 });
  }
});
afterAll(async () => {
  await Promise.all([other?.close(), front?.close()]);
  removeDir(dir);
});

function writeConfig(name: string, notifications: Record<string, Record<string, unknown>>): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      state_dir: path.join(dir, `state-${name}`),
      host: "testhost",
      notifications,
      jobs: {
        j: {
          notify: Object.keys(notifications),
          steps: [{ name: "hello", type: "exec", command: ["true"] }],
        },
      },
    }),
  );
  return file;
}

const webhook = (url: string) => ({
  type: "webhook",
  url,
  events: ["success"],
  headers: { "X-Api-Key": SECRET_HEADER },
  secret_file: path.join(dir, "hook.secret"),
});
const ntfy = (url: string) => ({
  type: "ntfy",
  url,
  events: ["success"],
  token_file: path.join(dir, "ntfy.token"),
});
const healthchecks = (url: string) => ({ type: "healthchecks", url, events: ["success"] });

interface Notification {
  notifier: string;
  event: string;
  ok: boolean;
  attempts: number;
  error: string | null;
}

async function runAndShow(config: string): Promise<{ notes: Notification[]; stderr: string }> {
  const run = await runCli(["--config", config, "run", "j", "--json"], { timeoutMs: 120_000 });
  expect(run.code, run.stderr).toBe(0);
  const id = parseJson<{ id: string }>(run).id;
  const show = await runCli(["--config", config, "show", id, "--json"]);
  expect(show.code, show.stderr).toBe(0);
  return { notes: parseJson<{ notifications: Notification[] }>(show).notifications, stderr: run.stderr };
}

describe("S10: notifiers and what receivers answer", () => {
  it("redirects to another origin fail, name it, and send it nothing; a same-origin 307 is re-sent whole", async () => {
    const cross: Record<string, Record<string, unknown>> = {};
    for (const code of [302, 307, 308]) {
      cross[`hook${code}`] = webhook(`${front.origin}/r${code}/hook`);
      cross[`ntfy${code}`] = ntfy(`${front.origin}/r${code}/ntfy`);
      cross[`hc${code}`] = healthchecks(`${front.origin}/r${code}/ping/${HC_UUID}`);
    }
    const config = writeConfig("redirects", { ...cross, same: webhook(`${front.origin}/same307`) });
    const { notes } = await runAndShow(config);

    for (const name of Object.keys(cross)) {
      const mine = notes.filter((n) => n.notifier === name);
      expect(mine.length, name).toBeGreaterThan(0);
      for (const n of mine) {
        expect(n.ok, `${name}: ${JSON.stringify(n)}`).toBe(false);
        expect(n.error, name).toContain(other.host);
        expect(n.error, name).toMatch(/HTTP 30[278]/);
      }
    }
    // The other origin got nothing at all: no secret header, no signature, no token, no ping UUID.
    expect(other.seen.map((s) => `${s.method} ${s.url}`)).toEqual([]);

    // Same origin: the 307 is followed with the same method, body and signature.
    const same = notes.filter((n) => n.notifier === "same");
    expect(same.map((n) => n.ok)).toEqual([true]);
    const final = front.seen.filter((s) => s.url === "/final");
    expect(final).toHaveLength(1);
    const [delivered] = final;
    expect(delivered!.method).toBe("POST");
    expect(JSON.parse(delivered!.body)).toMatchObject({ event: "success", job: "j" });
    expect(delivered!.headers["x-api-key"]).toBe(SECRET_HEADER);
    const signature = `sha256=${createHmac("sha256", HOOK_SECRET).update(delivered!.body).digest("hex")}`;
    expect(delivered!.headers["x-holdfast-signature"]).toBe(signature);
    console.log(
      `S10: ${Object.keys(cross).length} notifiers redirected (302/307/308) to ${other.host} → failed naming it, ` +
        `${other.seen.length} requests reached it; same-origin 307 → delivered with its body`,
    );
  });

  it.skipIf(!hasTime)(
    "a 1 GiB answer is read to 64 KiB and closed: holdfast run's RSS stays small",
    async () => {
      const config = writeConfig("huge", {
        big: webhook(`${front.origin}/big/hook`),
        big500: ntfy(`${front.origin}/big500/ntfy`),
      });
      // GNU time prints the peak RSS (KiB) of the process it runs — here node running `holdfast run`.
      const rssFile = path.join(dir, "rss");
      // Spawned asynchronously: the receivers live in this process and must keep answering.
      const timed = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const child = spawn(
            "/usr/bin/time",
            ["-f", "%M", "-o", rssFile, process.execPath, CLI, "--config", config, "run", "j", "--json"],
            { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
          );
          let stdout = "";
          let stderr = "";
          child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
          child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
          child.on("close", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
          });
        },
      );
      const peakKiB = Number(fs.readFileSync(rssFile, "utf8").trim().split("\n").pop());
      const id = (JSON.parse(timed.stdout) as { id: string }).id;
      const show = await runCli(["--config", config, "show", id, "--json"]);
      const shown = parseJson<{ notifications: Notification[] }>(show).notifications;
      expect(
        shown.filter((n) => n.notifier === "big").map((n) => [n.ok, n.error]),
        timed.stderr,
      ).toEqual([[true, null]]);
      const failed = shown.filter((n) => n.notifier === "big500");
      expect(failed.length).toBeGreaterThan(0);
      for (const n of failed) {
        expect(n.ok).toBe(false);
        expect(n.error).toMatch(/^HTTP 500/);
        expect((n.error ?? "").length).toBeLessThan(400);
      }
      // The receivers saw the connection go long before the answer was out.
      await new Promise((r) => setTimeout(r, 200));
      const sent = [...front.sent.entries()];
      expect(sent.length).toBeGreaterThanOrEqual(2);
      for (const [url, bytes] of sent) expect(bytes, url).toBeLessThan(64 * 1024 * 1024);
      expect(peakKiB, `peak RSS ${peakKiB} KiB`).toBeLessThan(200 * 1024);
      console.log(
        `S10: 1 GiB answers (200 and 500) → holdfast run peak RSS ${Math.round(peakKiB / 1024)} MiB; ` +
          `bytes sent before the close: ${sent.map(([u, b]) => `${u} ${Math.round(b / 1024)} KiB`).join(", ")}`,
      );
    },
  );
});
