// Local users for the tests that need a second (and third) person on the machine: a repository's
// owner, a non-root holdfast. Created once with useradd (no home, no shell) and left in place, so
// that test files running at the same time never race on creating or deleting them.
import { spawn, spawnSync } from "node:child_process";
import { collect, CLI, type CliResult } from "./cli.js";

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

export function ensureUser(name: string): TestUser {
  for (let attempt = 0; attempt < 20; attempt++) {
    const id = spawnSync("id", ["-u", name], { encoding: "utf8" });
    if (id.status === 0) {
      const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
      return { name, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
    }
    // useradd fails while another process holds /etc/passwd's lock: try again.
    spawnSync("useradd", ["-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name]);
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`cannot create the test user ${name}`);
}

/** Runs the built CLI as another user (the test runs as root). */
export function runCliAs(
  user: TestUser,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: "/",
    uid: user.uid,
    gid: user.gid,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", LANG: "C.UTF-8", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  return collect(child, { timeoutMs });
}
