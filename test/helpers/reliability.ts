// Shared by the reliability suite (test/reliability, targets.md R1–R13): finding the processes a test
// started (by a marker in their argv or environment), waiting, a seeded random source, small trees,
// a wall clock that can be stepped under a running process (R11).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 30_000,
  what = "a condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface ProcInfo {
  pid: number;
  cmdline: string;
}

/**
 * Live processes (zombies excluded) whose argv or environment contains `marker` — a test's temp dir.
 * restic gets its repository through the environment, not argv, so both are searched. This process
 * and its ancestors are never returned.
 */
export function processesMatching(marker: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || pid === process.ppid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      let environ = "";
      try {
        environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
      } catch {
        /* not ours to read */
      }
      if (cmdline.includes(marker) || environ.includes(marker))
        out.push({ pid, cmdline: cmdline.replaceAll("\0", " ").trim() });
    } catch {
      /* ended while we looked */
    }
  }
  return out;
}

/** SIGKILLs every process matching marker, waits until they are gone, returns what was killed. */
export async function killMatching(marker: string): Promise<ProcInfo[]> {
  const found = processesMatching(marker);
  for (const p of found) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  await waitFor(() => processesMatching(marker).length === 0, 10_000, `the processes of ${marker} to end`);
  return found;
}

export { seededRandom } from "../../src/util/seeded-random.js";

/** `count` small text files spread over subdirectories of root. */
export function writeSmallFiles(root: string, count: number, perDir = 100): void {
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}.txt`), `file ${i} ${"x".repeat(i % 700)}\n`);
  }
}

/** `count` files of `bytes` incompressible bytes each. */
export function writeRandomFiles(root: string, count: number, bytes: number): void {
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(root, `r${i}.bin`), crypto.randomBytes(bytes));
}

/** restic lock files of a local repository, read from its directory (no restic, no lock of our own). */
export function localLocks(repoDir: string): string[] {
  try {
    return fs.readdirSync(path.join(repoDir, "locks"));
  } catch {
    return [];
  }
}

export const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;

export function expectNoStack(text: string): void {
  expect(text).not.toMatch(STACK_TRACE);
}

/** Debian's libfaketime (package `faketime`, installed by scripts/setup.sh). */
export const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/**
 * A wall clock a test can step while the process runs (R11): the environment that makes a process
 * (and its children) read CLOCK_REALTIME through libfaketime, offset by what the returned `set` last
 * wrote ("+0", "-1h", "+400d"), re-read at every call. The monotonic clock stays real, as it does
 * when NTP or a person steps the system clock. Static binaries (restic) keep the real time.
 */
export function steppableClock(file: string): { env: Record<string, string>; set(offset: string): void } {
  if (!fs.existsSync(LIBFAKETIME)) {
    throw new Error(`${LIBFAKETIME} is missing: install Debian's faketime package (scripts/setup.sh does)`);
  }
  fs.writeFileSync(file, "+0\n");
  return {
    env: {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: file,
      FAKETIME_NO_CACHE: "1",
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    },
    // Written whole in one rename, so a process never reads a half-written offset.
    set(offset: string) {
      fs.writeFileSync(`${file}.new`, `${offset}\n`);
      fs.renameSync(`${file}.new`, file);
    },
  };
}
