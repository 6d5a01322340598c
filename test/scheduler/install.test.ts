// The install/remove machinery in-process, with a fake systemctl (systemd is not PID 1 here).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import {
  applyInstall,
  applyRemove,
  planInstall,
  writeFileAtomic,
  type SystemctlRunner,
} from "../../src/scheduler/install.js";
import { makeTempDir } from "../helpers/tmp.js";

function fakeSystemctl(fail: string | null = null): SystemctlRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run(args) {
      calls.push(args.join(" "));
      return Promise.resolve(fail && args.includes(fail) ? "Failed to connect to bus" : null);
    },
  };
}

function config(dir: string, jobs: string[]) {
  const text = `version: 1\nstate_dir: ${dir}/state\njobs:\n${jobs
    .map(
      (j) => `  ${j}:\n    schedule: daily\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n`,
    )
    .join("")}`;
  return parseConfigText(text, path.join(dir, "holdfast.yaml"), {});
}

const oldUmask = process.umask();
afterEach(() => {
  process.umask(oldUmask);
});

describe("writeFileAtomic", () => {
  it("gives the file its mode whatever the umask, and leaves no temp file behind", () => {
    const dir = makeTempDir();
    for (const umask of [0o077, 0o000, 0o022]) {
      process.umask(umask);
      writeFileAtomic(path.join(dir, "unit"), "a\n", 0o644);
      writeFileAtomic(path.join(dir, "env"), "b\n", 0o600);
      expect(fs.statSync(path.join(dir, "unit")).mode & 0o777).toBe(0o644);
      expect(fs.statSync(path.join(dir, "env")).mode & 0o777).toBe(0o600);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(["env", "unit"]);
  });
});

describe("applyInstall / applyRemove with systemd running", () => {
  it("reloads and enables the timers; disables the timers of jobs that left before deleting their units", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const installEnv = { env: { HOME: dir, PATH: "/usr/bin:/bin" }, stateDir: path.join(dir, "state") };
    const options = {
      mode: "system" as const,
      root,
      command: ["/usr/bin/node", "/opt/holdfast/main.js"],
      watchArgs: ["watch"],
      installEnv,
    };
    const systemctl = fakeSystemctl();
    const first = await applyInstall(planInstall(config(dir, ["a", "b"]), options), systemctl);
    expect(first.errors).toEqual([]);
    expect(systemctl.calls).toEqual([
      "daemon-reload",
      "enable --now holdfast@a.timer holdfast@b.timer holdfast-watch.timer",
    ]);

    systemctl.calls.length = 0;
    const second = await applyInstall(planInstall(config(dir, ["a"]), options), systemctl);
    expect(second.staleTimers).toEqual(["holdfast@b.timer"]);
    expect(systemctl.calls).toEqual([
      "disable --now holdfast@b.timer",
      "daemon-reload",
      "enable --now holdfast@a.timer holdfast-watch.timer",
    ]);
    expect(second.files.filter((f) => f.action === "removed").map((f) => path.basename(f.path))).toEqual([
      "holdfast.conf",
      "holdfast@b.timer",
    ]);

    systemctl.calls.length = 0;
    const removed = await applyRemove(path.join(root, ".holdfast-schedule-system.json"), "system", systemctl);
    expect(systemctl.calls).toEqual(["disable --now holdfast@a.timer holdfast-watch.timer", "daemon-reload"]);
    expect(removed.errors).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
  });

  it("reports a systemctl failure (the files stay written, the command to retry is listed)", async () => {
    const dir = makeTempDir();
    const installEnv = {
      env: { HOME: dir, XDG_CONFIG_HOME: path.join(dir, ".config") },
      stateDir: path.join(dir, "state"),
    };
    const plan = planInstall(config(dir, ["a"]), {
      mode: "user",
      root: null,
      command: ["/usr/bin/node", "/x/main.js"],
      watchArgs: ["watch"],
      installEnv,
    });
    const result = await applyInstall(plan, fakeSystemctl("enable"));
    expect(result.errors).toEqual([
      "systemctl --user enable --now holdfast@a.timer holdfast-watch.timer: Failed to connect to bus",
    ]);
    expect(fs.existsSync(path.join(dir, ".config/systemd/user/holdfast@a.timer"))).toBe(true);
  });
});
