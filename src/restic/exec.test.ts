// runRestic against a fake restic (a shell script), which exercises the real spawn, signal and
// timeout paths: lock waiting and stale-lock removal, the early stop with a `network` verdict, the
// cleanup after a cancel, and what reaches restic's argv and environment.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Config, RepositoryConfig } from "../config/types.js";
import { runRestic } from "./exec.js";
import { resticHostForCli, type ResticHost } from "./host.js";
import { priorityPrefix } from "./priority.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fake restic: `version` like 0.14.0; every other call appends "argv | env" to calls.log and runs BODY. */
function fakeRestic(body: string): { dir: string; bin: string; calls: () => string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-fake-restic-"));
  dirs.push(dir);
  const bin = path.join(dir, "restic");
  fs.writeFileSync(
    bin,
    `#!/bin/bash
if [ "$1" = version ]; then echo "restic 0.14.0 compiled with go1.19.8 on linux/amd64"; exit 0; fi
echo "$* | PW_FILE=$RESTIC_PASSWORD_FILE REPO=$RESTIC_REPOSITORY FPS=$RESTIC_PROGRESS_FPS" >> "${dir}/calls.log"
COUNT_FILE="${dir}/count"; n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNT_FILE"
${body}
`,
    { mode: 0o755 },
  );
  return {
    dir,
    bin,
    calls: () =>
      fs.existsSync(path.join(dir, "calls.log"))
        ? fs.readFileSync(path.join(dir, "calls.log"), "utf8").trim().split("\n")
        : [],
  };
}

function config(bin: string): Config {
  return {
    state_dir: "/tmp/holdfast-fake-state",
    kill_grace: 1_000,
    restic: { binary: bin, nice: null, ionice: "none", progress_fps: 2 },
  } as Config;
}

const repo = { name: "r", url: "/srv/repo", password_file: "/etc/pw", offsite: false } as RepositoryConfig;

function host(
  bin: string,
  options: { deadline?: number; signal?: AbortSignal } = {},
): ResticHost & { lines: string[] } {
  const lines: string[] = [];
  const h = resticHostForCli(config(bin), {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() },
    deadline: options.deadline ?? null,
    ...(options.signal ? { signal: options.signal } : {}),
    log: {
      info: (m) => lines.push(`info: ${m}`),
      warn: (m) => lines.push(`warn: ${m}`),
      output: (l) => lines.push(l),
    },
  });
  return Object.assign(h, { lines });
}

const LOCKED = (pid: number, host: string) =>
  `echo "unable to create lock in backend: repository is already locked by PID ${pid} on ${host} by root (UID 0, GID 0)" >&2
echo "lock was created at 2026-11-26 09:48:51 (3.061287511s ago)" >&2
echo "storage ID 8327a220" >&2
exit 1`;

describe("runRestic", () => {
  it("passes the password as a file path in the environment, never in argv", async () => {
    const fake = fakeRestic('echo "{}"; exit 0');
    const outcome = await runRestic(host(fake.bin), {
      repo,
      args: ["snapshots", "--json"],
      collectStdout: true,
      onStdout: () => undefined,
    });
    expect(outcome.ok).toBe(true);
    expect(fake.calls()).toEqual(["snapshots --json | PW_FILE=/etc/pw REPO=/srv/repo FPS=2"]);
  });

  it("an exclusive command waits while a live restic holds the lock, then runs", async () => {
    // The holder is this test process: alive, on this host.
    const fake = fakeRestic(
      `if [ $n -le 1 ]; then ${LOCKED(process.pid, os.hostname())}; fi; echo "no errors were found"; exit 0`,
    );
    const h = host(fake.bin, { deadline: Date.now() + 30_000 });
    const outcome = await runRestic(h, { repo, args: ["check"], exclusive: true });
    expect(outcome.ok).toBe(true);
    expect(outcome.attempts).toBe(2);
    expect(
      h.lines.some((l) =>
        /is locked by another restic \(PID \d+ on .*\); waiting 2\.0s and trying again/.test(l),
      ),
    ).toBe(true);
    expect(fake.calls().filter((c) => c.startsWith("unlock"))).toEqual([]);
  });

  it("gives up at the deadline with kind repo_locked and the holder in the message", async () => {
    const fake = fakeRestic(LOCKED(process.pid, os.hostname()));
    const started = Date.now();
    const outcome = await runRestic(host(fake.bin, { deadline: Date.now() + 4_000 }), {
      repo,
      args: ["forget"],
      exclusive: true,
    });
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.kind).toBe("repo_locked");
    expect(outcome.error?.message).toContain(`PID ${process.pid}`);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("a stale lock (dead PID on this host) is removed with `restic unlock`, then the command runs", async () => {
    const fake = fakeRestic(`if [ "$1" = unlock ]; then echo "successfully removed locks"; exit 0; fi
if [ $n -le 1 ]; then ${LOCKED(2 ** 22 + 12345, os.hostname())}; fi; exit 0`);
    const h = host(fake.bin);
    const outcome = await runRestic(h, { repo, args: ["backup", "--json", "/x"] });
    expect(outcome.ok).toBe(true);
    expect(fake.calls().map((c) => c.split(" ")[0])).toEqual(["backup", "unlock", "backup"]);
    expect(h.lines.some((l) => l.includes("holds a stale lock"))).toBe(true);
  });

  it("a backend that stopped answering is reported as `network` before the step's deadline", async () => {
    const fake = fakeRestic(`trap 'echo "signal interrupt received, cleaning up" >&2; exit 130' INT
while true; do echo 'Save(<data/aec147c496>) returned error, retrying after 1.989705391s: client.Post: Post "http://127.0.0.1:1/x": dial tcp 127.0.0.1:1: connect: connection refused' >&2; sleep 0.2; done`);
    const started = Date.now();
    // kill grace 1 s; restic is stopped grace + 5 s before the deadline.
    const outcome = await runRestic(host(fake.bin, { deadline: Date.now() + 8_000 }), {
      repo,
      args: ["backup", "--json", "/x"],
      stopBeforeDeadline: true,
    });
    expect(outcome.error?.kind).toBe("network");
    expect(outcome.error?.message).toMatch(/stopped answering .*connection refused/);
    expect(outcome.stoppedEarly).toBe(true);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it("a kill grace as long as the timeout still leaves restic most of the step's time", async () => {
    const fake = fakeRestic("sleep 1.5; exit 0");
    const h = host(fake.bin, { deadline: Date.now() + 6_000 });
    h.killGraceMs = 10 ** 12;
    const outcome = await runRestic(h, { repo, args: ["backup", "--json", "/x"], stopBeforeDeadline: true });
    expect(outcome.ok).toBe(true);
    expect(outcome.stoppedEarly).toBe(false);
  });

  it("after a cancel: restic gets SIGINT (130 is accepted) and stale locks are cleaned up", async () => {
    const fake = fakeRestic(`if [ "$1" = unlock ]; then exit 0; fi
trap 'echo "signal interrupt received, cleaning up" >&2; exit 130' INT
echo '{"message_type":"status","percent_done":0.1}'; while true; do sleep 0.1; done`);
    const controller = new AbortController();
    const h = host(fake.bin, { signal: controller.signal });
    setTimeout(() => controller.abort("SIGTERM"), 500);
    const outcome = await runRestic(h, { repo, args: ["backup", "--json", "/x"], onStdout: () => undefined });
    expect(outcome.cancelled).toBe(true);
    expect(outcome.exitCode).toBe(130);
    expect(outcome.error?.kind).toBe("cancelled");
    expect(fake.calls().map((c) => c.split(" ")[0])).toEqual(["backup", "unlock"]);
  });

  it("a missing restic is kind not_found with an install hint", async () => {
    const outcome = await runRestic(host("/nonexistent/restic"), { repo, args: ["snapshots"] });
    expect(outcome.error).toMatchObject({ kind: "not_found" });
    expect(outcome.error?.hint).toMatch(/install restic/);
  });
});

describe("priorityPrefix", () => {
  it("nice and ionice as configured, skipped when turned off", () => {
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const on = priorityPrefix({ restic: { nice: 10, ionice: "idle" } } as Config, env);
    // nice last: the ionice exec runs at normal CPU priority (see priorityPrefix).
    expect(on.slice(-3).map((a) => path.basename(a))).toEqual(["nice", "-n", "10"]);
    if (on.some((a) => a.endsWith("ionice"))) expect(on.slice(1, 3)).toEqual(["-c", "3"]);
    expect(priorityPrefix({ restic: { nice: null, ionice: "none" } } as Config, env)).toEqual([]);
    expect(
      priorityPrefix({ restic: { nice: 5, ionice: "idle" } } as Config, { PATH: "/nonexistent" }),
    ).toEqual([]);
  });
});
