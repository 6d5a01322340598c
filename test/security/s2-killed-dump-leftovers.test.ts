// S2 for a killed run: a dump step with password_file writes the database password into a PGPASSFILE
// (0600 in a 0700 directory under the temp dir) for pg_dump. SIGTERM removes it before holdfast exits;
// SIGKILL cannot, so the next holdfast that makes such a directory removes the dead one's — the
// password must not stay in /tmp until the next reboot; nor does the dump's FIFO directory. The server is a TCP listener that accepts and
// never answers, so pg_dump (the real one) waits in its connection while holdfast is signalled.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, runCli, startCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { writeConfig } from "../helpers/tmp.js";

const PASSWORD = "s2-killed-Pg-password-0d5e";
let dir: string;
let tmp: string;
let config: string;
let server: net.Server;
let port: number;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  dir = makeSharedDir("holdfast-s2kill-");
  tmp = path.join(dir, "tmp");
  fs.mkdirSync(tmp, { mode: 0o700 });
  server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  const repo = { repo: path.join(dir, "repo"), passwordFile: writePassword(path.join(dir, "repo-pw"), "rp") };
  resticInit(repo);
  // A second repository: the dump is teed through FIFOs (holdfast-dump-PID.XXXXXX) with every restic.
  const second = { repo: path.join(dir, "repo2"), passwordFile: repo.passwordFile };
  resticInit(second);
  config = writeConfig(
    dir,
    `version: 1
state_dir: ${path.join(dir, "state")}
repositories:
  local: { url: ${repo.repo}, password_file: ${repo.passwordFile} }
  second: { url: ${second.repo}, password_file: ${second.passwordFile} }
jobs:
  dbs:
    steps:
      - name: pg
        type: dump
        engine: postgresql
        host: 127.0.0.1
        port: ${port}
        user: app
        password_file: ${writePassword(path.join(dir, "pg-pw"), PASSWORD)}
        databases: [shop]
        globals: false
        repos: [local, second]
`,
  );
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  removeDir(dir);
});

/** The temp dirs holding a file with the password. */
function withPassword(): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync(tmp)) {
    const sub = path.join(tmp, name);
    if (!fs.lstatSync(sub).isDirectory()) continue;
    for (const f of fs.readdirSync(sub)) {
      const file = path.join(sub, f);
      // Regular files only: the dump's FIFO (holdfast-dump-*/stream) would block a read.
      if (fs.lstatSync(file).isFile() && fs.readFileSync(file, "utf8").includes(PASSWORD)) found.push(name);
    }
  }
  return found;
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** pg_dump and restic of a killed holdfast end once the "server" hangs up on them. */
async function hangUpAndWaitForOrphans(): Promise<void> {
  for (const s of sockets) s.destroy();
  await until(
    "the killed run's pg_dump and restic to exit",
    () =>
      !fs.readdirSync("/proc").some((pid) => {
        if (!/^\d+$/.test(pid)) return false;
        try {
          return fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes(tmp);
        } catch {
          return false;
        }
      }),
  );
}

describe("S2: the dump step's password file after a signal", () => {
  it("SIGTERM: removed before holdfast exits (143)", async () => {
    const child = startCli(["--config", config, "run", "dbs"], { env: { TMPDIR: tmp } });
    const done = collect(child);
    await until("the PGPASSFILE", () => withPassword().length === 1 && sockets.size > 0);
    child.kill("SIGTERM");
    const r = await done;
    expect(r.code, r.stderr).toBe(143);
    expect(withPassword()).toEqual([]);
    await hangUpAndWaitForOrphans();
  });

  it("SIGKILL: the next holdfast removes the dead one's password file", async () => {
    const child = startCli(["--config", config, "run", "dbs"], { env: { TMPDIR: tmp } });
    const done = collect(child);
    await until("the PGPASSFILE", () => withPassword().length === 1 && sockets.size > 0);
    const left = withPassword();
    const fifoDirs = () => fs.readdirSync(tmp).filter((n) => n.startsWith("holdfast-dump-"));
    expect(fifoDirs(), "the dump's FIFO directory while it runs").toHaveLength(1);
    child.kill("SIGKILL");
    await done;
    await hangUpAndWaitForOrphans();
    expect(withPassword(), "SIGKILL leaves it (nothing can run)").toEqual(left);

    // The next run (the "server" now hangs up at once: pg_dump fails, the run fails).
    const stop = (s: net.Socket) => s.destroy();
    server.on("connection", stop);
    try {
      const next = await runCli(["--config", config, "run", "dbs"], { env: { TMPDIR: tmp } });
      expect(next.code, next.stderr).toBe(1);
    } finally {
      server.off("connection", stop);
    }
    expect(withPassword()).toEqual([]);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("holdfast-dbauth-"))).toEqual([]);
    // The killed run's FIFO directory (holdfast-dump-PID.XXXXXX) goes with it.
    expect(fifoDirs()).toEqual([]);
  });
});
