// The mirror step through the built CLI, with real rsync (and a real sshd on 127.0.0.1 for host:path).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, parseJson, startCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";
import { readTree, runJobWith, yamlString } from "./run-helpers.js";

function plantSource(dir: string): void {
  writeTree(dir, {
    "notes/a.md": "# a\n",
    "notes/deep/er/b.md": "b".repeat(5000),
    "pages/c.md": "c\n",
    "empty.txt": "",
  });
  fs.mkdirSync(path.join(dir, "empty-dir"));
  fs.symlinkSync("notes/a.md", path.join(dir, "link-to-a"));
  fs.chmodSync(path.join(dir, "pages/c.md"), 0o600);
}

const mirrorJob = (from: string, to: string, extra = "") => `jobs:
  j:
    steps:
      - name: m
        type: mirror
        from: ${yamlString(from)}
        to: ${yamlString(to)}
${extra}`;

describe("mirror (rsync)", () => {
  it("makes the destination equal to the source, creating missing parents, with rsync's numbers", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    plantSource(src);
    const dst = path.join(dir, "backups/deep/logseq");
    const out = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`));
    expect(out.cli.code, out.cli.stderr).toBe(0);
    const step = out.step("m");
    expect(step.status).toBe("succeeded");
    expect(readTree(dst)).toEqual(readTree(src));
    // 4 regular files, 1 symlink, 6 directories (the top one included).
    expect(step.summary).toMatchObject({
      files_transferred: 4,
      files_regular: 4,
      files_deleted: 0,
      bytes_transferred: 5006,
    });
    expect(step.summary.files_total).toBe(11);

    // A second run transfers nothing.
    const again = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`));
    expect(again.step("m").summary).toMatchObject({ files_transferred: 0, bytes_transferred: 0 });
  });

  it("keeps extra files without delete and removes them with delete: true", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "dst");
    plantSource(src);
    writeTree(dst, { "stale.txt": "old", "old-dir/x.txt": "x" });

    const keep = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`));
    expect(keep.step("m").status).toBe("succeeded");
    expect(fs.existsSync(path.join(dst, "stale.txt"))).toBe(true);
    expect(keep.step("m").summary.files_deleted).toBe(0);

    const del = await runJobWith(
      dir,
      mirrorJob(`${src}/`, `${dst}/`, "        delete: true\n        exclude: ['*.tmp']\n"),
    );
    expect(del.step("m").status).toBe("succeeded");
    expect(readTree(dst)).toEqual(readTree(src));
    // stale.txt, old-dir/x.txt and old-dir itself.
    expect(del.step("m").summary.files_deleted).toBe(3);
  });

  it("refuses to delete into an empty source (an unmounted disk) and fails on a missing one", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "mnt");
    const dst = path.join(dir, "dst");
    fs.mkdirSync(src);
    writeTree(dst, { "precious.txt": "keep me" });
    const empty = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, "        delete: true\n"));
    expect(empty.step("m")).toMatchObject({ status: "failed", error: { kind: "guard" } });
    expect(fs.readFileSync(path.join(dst, "precious.txt"), "utf8")).toBe("keep me");

    const missing = await runJobWith(dir, mirrorJob(path.join(dir, "nope/"), `${dst}/`));
    expect(missing.step("m")).toMatchObject({ status: "failed", error: { kind: "not_found" } });
    expect(missing.step("m").error.message).toContain("does not exist");
  });

  it("reports a file that vanishes during the transfer as a warning, not a failure", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "dst");
    // rsync sends files in name order: while the throttled a-big is in flight (its temp file exists in
    // dst), z-small is already in the file list; deleting it then makes rsync exit 24, every time.
    writeTree(src, { "a-big": Buffer.alloc(300_000, 1), "z-small": "z\n" });
    fs.mkdirSync(dst);
    const config = writeConfig(
      dir,
      `version: 1\nstate_dir: ${path.join(dir, "state")}\n` +
        mirrorJob(`${src}/`, `${dst}/`, "        rsync_args: ['--bwlimit=100']\n"),
    );
    const child = startCli(["--config", config, "run", "j", "--json"]);
    const done = collect(child);
    let deleted = false;
    const deadline = Date.now() + 30_000;
    while (!deleted && Date.now() < deadline) {
      if (fs.readdirSync(dst).some((n) => n.startsWith(".a-big."))) {
        fs.rmSync(path.join(src, "z-small"));
        deleted = true;
      } else await new Promise((r) => setTimeout(r, 5));
    }
    const result = await done;
    expect(deleted).toBe(true);
    const run = parseJson(result);
    const step = run.steps[0];
    expect(step.status, JSON.stringify(step)).toBe("warning");
    expect(step.exit_code).toBe(24);
    expect(step.error.kind).toBe("partial");
    expect(step.error.message).toContain("some files vanished before they could be transferred");
    expect(step.error.message).toContain("z-small");
    expect(result.code).toBe(3);
    expect(fs.statSync(path.join(dst, "a-big")).size).toBe(300_000);
  });

  it("fails clearly when the target host cannot be reached", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    plantSource(src);
    const out = await runJobWith(
      dir,
      mirrorJob(
        `${src}/`,
        "nosuchhost.invalid:/x/",
        "        ssh_command: [ssh, -F, /dev/null, -o, BatchMode=yes, -o, ConnectTimeout=5]\n",
      ),
    );
    const step = out.step("m");
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("network");
    expect(step.error.message).toContain("cannot reach nosuchhost.invalid");
    expect(step.error.message).toMatch(
      /Could not resolve hostname|Name or service not known|Temporary failure/,
    );
    expect(step.error.hint).toContain("ssh");
    expect(out.cli.code).toBe(1);
  });

  it("fails clearly when a local destination cannot be created", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    plantSource(src);
    fs.writeFileSync(path.join(dir, "a-file"), "not a directory");
    const out = await runJobWith(dir, mirrorJob(`${src}/`, path.join(dir, "a-file/sub/")));
    const step = out.step("m");
    expect(step.status).toBe("failed");
    expect(step.error.message).toContain("cannot create the destination");
  });
});

describe("mirror to host:path over ssh (sshd on 127.0.0.1)", () => {
  let sshd: { port: number; dir: string; sshCommand: string[]; pidFile: string } | null = null;
  let skipReason = "";
  let sshDir = "";

  beforeAll(async () => {
    sshDir = makeSshDir();
    try {
      sshd = await startSshd(sshDir);
    } catch (err) {
      skipReason = (err as Error).message;
    }
  });

  afterAll(() => {
    const pidFile = path.join(sshDir, "sshd.pid");
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
      if (pid > 0) process.kill(pid, "SIGTERM");
    }
    fs.rmSync(sshDir, { recursive: true, force: true });
  });

  it("mirrors to a remote path with ssh_command (key path with a space, quoted for rsync -e)", async (ctx) => {
    if (!sshd) {
      console.warn(`skipping the sshd test: ${skipReason}`);
      ctx.skip();
      return;
    }
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    plantSource(src);
    const remoteDst = path.join(dir, "remote/dst");
    // rsync creates only the last level of a remote destination (the step's mkdir is for local ones).
    fs.mkdirSync(path.dirname(remoteDst));
    const out = await runJobWith(
      dir,
      mirrorJob(
        `${src}/`,
        `root@127.0.0.1:${remoteDst}/`,
        `        ssh_command: ${JSON.stringify(sshd.sshCommand)}\n        delete: true\n`,
      ),
    );
    expect(out.step("m").status, JSON.stringify(out.step("m"))).toBe("succeeded");
    expect(readTree(remoteDst)).toEqual(readTree(src));
    expect(out.step("m").summary.files_transferred).toBe(4);
  });
});

function makeSshDir(): string {
  const dir = fs.mkdtempSync("/tmp/holdfast-sshd-");
  fs.chmodSync(dir, 0o700);
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function startSshd(dir: string) {
  const sshdBin = "/usr/sbin/sshd";
  if (!fs.existsSync(sshdBin)) throw new Error("sshd is not installed");
  if (process.getuid?.() !== 0) throw new Error("sshd tests need root (to log in as root with a test key)");
  const keyDir = path.join(dir, "ssh keys");
  fs.mkdirSync(keyDir, { mode: 0o700 });
  // sshd_config cannot take a path with a space unquoted; the client key's space is the point.
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(keyDir, "client key");
  for (const key of [hostKey, clientKey]) {
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`);
  }
  const authorized = path.join(dir, "authorized_keys");
  fs.copyFileSync(`${clientKey}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  const port = await freePort();
  const pidFile = path.join(dir, "sshd.pid");
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      // The test's own authorized_keys; never the machine's ~/.ssh. StrictModes would reject /tmp.
      `AuthorizedKeysFile ${authorized}`,
      "StrictModes no",
      `PidFile ${pidFile}`,
      "UsePAM no",
      "",
    ].join("\n"),
  );
  fs.mkdirSync("/run/sshd", { recursive: true });
  const started = spawnSync(sshdBin, ["-f", config, "-E", path.join(dir, "sshd.log")]);
  if (started.status !== 0) {
    const log = fs.readFileSync(path.join(dir, "sshd.log"), "utf8");
    throw new Error(`sshd did not start: ${started.stderr.toString()}${log}`);
  }
  const knownHosts = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${fs.readFileSync(`${hostKey}.pub`, "utf8")}`);
  for (let i = 0; i < 50 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
  if (!fs.existsSync(pidFile)) throw new Error("sshd wrote no pid file");
  const sshCommand = [
    "ssh",
    "-F",
    "/dev/null",
    "-p",
    String(port),
    "-i",
    clientKey,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "BatchMode=yes",
  ];
  return { port, dir, sshCommand, pidFile };
}
