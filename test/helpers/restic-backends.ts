// Real restic backends on 127.0.0.1 for integration tests (restic-notes.md §4): a REST server
// (`rclone serve restic`, optionally --append-only and --htpasswd), an sshd for SFTP on a free port
// with its own host key, client key and known_hosts (the machine's ~/.ssh is never touched: the
// client goes through `-o sftp.command=ssh -i KEY -o UserKnownHostsFile=… -p PORT`), and s3rver
// over TLS (plain HTTP is broken with restic's minio-go; s3rver is an optional devDependency).
// Every server is stopped by its own pid.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./cli.js";

/** A directory that lives until removeDir (for beforeAll/afterAll fixtures shared by a file's tests). */
export function makeSharedDir(prefix = "holdfast-restic-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  try {
    spawnSync("chmod", ["-R", "u+rwX", dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess | null, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

// ---------------------------------------------------------------------------------------------
// REST: rclone serve restic

export interface RestServer {
  port: number;
  /** rest:http://127.0.0.1:PORT/ (with user:password@ when htpasswd is on). Append a repository name. */
  base: string;
  dataDir: string;
  user: string | null;
  password: string | null;
  /** Stops the server (SIGKILL when `kill`, like a crash). */
  stop(kill?: boolean): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  running(): boolean;
}

export async function startRestServer(
  dir: string,
  options: { appendOnly?: boolean; htpasswd?: { user: string; password: string }; port?: number } = {},
): Promise<RestServer> {
  const port = options.port ?? (await freePort());
  const dataDir = path.join(dir, `rest-data-${port}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const args = ["serve", "restic", dataDir, "--addr", `127.0.0.1:${port}`];
  if (options.appendOnly) args.push("--append-only");
  if (options.htpasswd) {
    const hash = execFileSync("openssl", ["passwd", "-apr1", options.htpasswd.password], {
      encoding: "utf8",
    }).trim();
    const file = path.join(dir, `htpasswd-${port}`);
    fs.writeFileSync(file, `${options.htpasswd.user}:${hash}\n`, { mode: 0o600 });
    args.push("--htpasswd", file);
  }
  let child: ChildProcess | null = null;
  const logFile = path.join(dir, `rclone-${port}.log`);
  const server: RestServer = {
    port,
    base: options.htpasswd
      ? `rest:http://${options.htpasswd.user}:${options.htpasswd.password}@127.0.0.1:${port}/`
      : `rest:http://127.0.0.1:${port}/`,
    dataDir,
    user: options.htpasswd?.user ?? null,
    password: options.htpasswd?.password ?? null,
    async start() {
      const log = fs.openSync(logFile, "a");
      child = spawn("rclone", args, {
        stdio: ["ignore", log, log],
        env: { ...process.env, RCLONE_CONFIG: "/dev/null" },
      });
      fs.closeSync(log);
      await waitForPort(port);
    },
    async stop(kill = false) {
      await stopChild(child, kill ? "SIGKILL" : "SIGTERM");
      child = null;
    },
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
  };
  await server.start();
  return server;
}

// ---------------------------------------------------------------------------------------------
// SFTP: a private sshd

export interface SshServer {
  port: number;
  /** For the repository's options: { "sftp.command": … } (restic splits it like a shell would, without one). */
  sftpCommand: string;
  /** sftp:root@127.0.0.1:/abs/path — the host is unused with sftp.command, the path is used. */
  url(repoPath: string): string;
  /** The ssh argv without the host (for a mirror step's ssh_command): port, key, known_hosts, BatchMode. */
  sshCommand: string[];
  /** user@127.0.0.1, for host:path specs. */
  login: string;
  stop(): Promise<void>;
}

export async function startSshd(dir: string): Promise<SshServer> {
  const sshDir = path.join(dir, "ssh");
  fs.mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = path.join(sshDir, "host_ed25519");
  const clientKey = path.join(sshDir, "client_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  const authorized = path.join(sshDir, "authorized_keys");
  fs.copyFileSync(`${clientKey}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  const port = await freePort();
  const pidFile = path.join(sshDir, "sshd.pid");
  const config = path.join(sshDir, "sshd_config");
  const user = os.userInfo().username;
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      // The keys live in the test's temp dir (under the world-writable /tmp), so the ownership walk
      // of StrictModes would refuse them; the machine's own ~/.ssh stays untouched.
      "StrictModes no",
      `AuthorizedKeysFile ${authorized}`,
      "Subsystem sftp internal-sftp",
      `PidFile ${pidFile}`,
      "UsePAM no",
      "",
    ].join("\n"),
  );
  const knownHosts = path.join(sshDir, "known_hosts");
  const hostPub = fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  execFileSync("/usr/sbin/sshd", ["-f", config, "-E", path.join(sshDir, "sshd.log")]);
  await waitForPort(port);
  const sshCommand = [
    "ssh",
    "-F",
    "/dev/null",
    "-p",
    String(port),
    "-i",
    clientKey,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
  ];
  const sftpCommand = [...sshCommand, `${user}@127.0.0.1`, "-s", "sftp"].join(" ");
  return {
    port,
    sftpCommand,
    sshCommand,
    login: `${user}@127.0.0.1`,
    url: (repoPath) => `sftp:${user}@127.0.0.1:${repoPath}`,
    async stop() {
      try {
        const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
        if (pid > 0) process.kill(pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// S3: s3rver over TLS

export const S3RVER_BIN = path.join(REPO_ROOT, "node_modules", "s3rver", "bin", "s3rver.js");
export const hasS3rver = () => fs.existsSync(S3RVER_BIN);

export interface S3Server {
  port: number;
  /** s3:https://127.0.0.1:PORT/BUCKET/ — append a repository name. */
  base: string;
  cacert: string;
  stop(): Promise<void>;
}

export async function startS3rver(dir: string, bucket = "restic"): Promise<S3Server> {
  const s3Dir = path.join(dir, "s3");
  fs.mkdirSync(path.join(s3Dir, "data"), { recursive: true });
  const key = path.join(s3Dir, "key.pem");
  const cert = path.join(s3Dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const port = await freePort();
  const log = fs.openSync(path.join(s3Dir, "s3rver.log"), "a");
  const child = spawn(
    process.execPath,
    [
      S3RVER_BIN,
      "-d",
      path.join(s3Dir, "data"),
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--key",
      key,
      "--cert",
      cert,
      "--configure-bucket",
      bucket,
      "--silent",
    ],
    { stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  await waitForPort(port);
  return {
    port,
    base: `s3:https://127.0.0.1:${port}/${bucket}/`,
    cacert: cert,
    stop: () => stopChild(child),
  };
}

// ---------------------------------------------------------------------------------------------
// Trees

/** path → sha-free content comparison of two trees: every file's bytes, and the same set of entries. */
export function treeListing(root: string): Map<string, string | Buffer> {
  const out = new Map<string, string | Buffer>();
  const walk = (dir: string, rel: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out.set(`${r}/`, "dir");
        walk(full, r);
      } else if (entry.isSymbolicLink()) out.set(r, `-> ${fs.readlinkSync(full)}`);
      else out.set(r, fs.readFileSync(full));
    }
  };
  walk(root, "");
  return out;
}

/** Throws with the first difference when the two trees are not byte-identical. */
export function expectSameTree(actualRoot: string, expectedRoot: string): void {
  const a = treeListing(actualRoot);
  const b = treeListing(expectedRoot);
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (x === undefined || y === undefined)
      throw new Error(`${k}: only in ${x === undefined ? expectedRoot : actualRoot}`);
    const same = Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y;
    if (!same) throw new Error(`${k}: contents differ`);
  }
}

/** A small source tree with text, binary and nested files (and a symlink). */
export function writeSampleTree(root: string, options: { bigBytes?: number } = {}): void {
  fs.mkdirSync(path.join(root, "docs", "deep", "er"), { recursive: true });
  fs.writeFileSync(path.join(root, "README.txt"), "hello from the test source\n");
  fs.writeFileSync(path.join(root, "docs", "a.md"), "# a\n".repeat(100));
  fs.writeFileSync(
    path.join(root, "docs", "deep", "er", "b.bin"),
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
  );
  fs.writeFileSync(path.join(root, "random.bin"), randomBytesSync(options.bigBytes ?? 200_000));
  fs.writeFileSync(path.join(root, "empty"), "");
  fs.symlinkSync("README.txt", path.join(root, "link"));
}

function randomBytesSync(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 65536) {
    const chunk = crypto.getRandomValues(new Uint8Array(Math.min(65536, n - i)));
    b.set(chunk, i);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// restic, directly (for assertions; holdfast is what is under test)

export interface DirectRestic {
  repo: string;
  passwordFile: string;
  env?: Record<string, string>;
  args?: string[];
}

export function restic(target: DirectRestic, args: string[], options: { timeoutMs?: number } = {}) {
  const result = spawnSync("restic", [...(target.args ?? []), ...args], {
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RESTIC_REPOSITORY: target.repo,
      RESTIC_PASSWORD_FILE: target.passwordFile,
      RESTIC_CACHE_DIR: path.join(os.tmpdir(), "holdfast-test-restic-cache"),
      ...target.env,
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The repository's snapshots, as restic lists them — without holdfast's own holdfast-meta snapshots
 * (the config and history each run stores for `holdfast bootstrap`, on by default) unless
 * `{ meta: true }`: the tests count the user's snapshots.
 */
export function resticSnapshots(
  target: DirectRestic,
  options: { meta?: boolean } = {},
): Array<{ id: string; short_id: string; time: string; tags?: string[]; hostname: string; paths: string[] }> {
  const r = restic(target, ["snapshots", "--json"]);
  if (r.code !== 0) throw new Error(`restic snapshots failed (${r.code}): ${r.stderr}`);
  const all = JSON.parse(r.stdout) as Array<{
    id: string;
    short_id: string;
    time: string;
    tags?: string[];
    hostname: string;
    paths: string[];
  }>;
  return options.meta ? all : all.filter((s) => !(s.tags ?? []).includes("holdfast-meta"));
}

export function resticInit(target: DirectRestic): void {
  const r = restic(target, ["init"]);
  if (r.code !== 0) throw new Error(`restic init failed (${r.code}): ${r.stderr}`);
}

export function writePassword(file: string, value: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
}
