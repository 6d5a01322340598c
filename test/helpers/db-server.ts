// What the database test servers (postgres.ts, mariadb.ts) share: running their client and admin
// programs with a fixed, small environment, and making sure no server outlives the test process.
import { spawn, type ChildProcess } from "node:child_process";

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a server's tool to its end; `env` is added to a fixed PATH and LANG (nothing of ours leaks). */
export function runTool(
  program: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: Record<string, string>; input?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
      env: { PATH: "/usr/bin:/bin:/usr/sbin", LANG: "C.UTF-8", ...(opts.env ?? {}) },
      stdio: ["pipe", "pipe", "pipe"],
      cwd: "/",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    // A program that exits before reading its input (psql after an error) closes the pipe: EPIPE is
    // its answer, not a crash of the test run.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Each server still running, and whether to kill its whole process group (started detached). */
const running = new Map<ChildProcess, boolean>();
let exitHookInstalled = false;

/** A test file that dies (or forgets stop) must not leave a server running: SIGKILL at exit —
 * to the process group when `group` (a server started detached, so its workers go too). */
export function killOnExit(child: ChildProcess, group = false): void {
  running.set(child, group);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [c, wholeGroup] of running) {
      if (c.pid === undefined) continue;
      try {
        process.kill(wholeGroup ? -c.pid : c.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  });
}
