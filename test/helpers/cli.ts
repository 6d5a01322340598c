// Runs the built CLI (dist/) as a real child process, the way users and scripts do.
// `npm test` builds first (pretest), so these tests exercise exactly what ships.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = path.join(REPO_ROOT, "dist/cli/main.js");
const TEST_CACHE_HOME = path.join(os.tmpdir(), "holdfast-test-cache");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

if (!fs.existsSync(CLI)) {
  throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it for you)`);
}

export function startCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? process.cwd(),
    // The config cache of read-only commands goes to a temp dir, not the user's ~/.cache.
    env: {
      ...process.env,
      NO_COLOR: "1",
      HOLDFAST_CONFIG: undefined,
      XDG_CACHE_HOME: TEST_CACHE_HOME,
      ...options.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

export function collect(child: ChildProcess, options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return collect(startCli(args, options), options);
}

/** Parses stdout as JSON, with the output in the error when it is not. */
export function parseJson<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
