// `holdfast schedule install|remove|list|next` through the built CLI.
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";

/** Every entry under dir with its type, mode and content hash: "as it was" means this is equal. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out.push(`d ${mode} ${rel}/`);
      for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name));
    } else if (st.isSymbolicLink()) {
      out.push(`l ${rel} -> ${fs.readlinkSync(abs)}`);
    } else {
      const hash = crypto.createHash("sha256").update(fs.readFileSync(abs)).digest("hex").slice(0, 16);
      out.push(`f ${mode} ${rel} ${st.size} ${hash}`);
    }
  };
  walk(".");
  return out;
}

function allFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

const SECRETS = {
  password: "pw-5d1c0a1e-planted-secret",
  url: "rest:https://user:urlsecret-77a3b9@nas:8000/sig",
  aws: "awssecret-2f8e41c0-planted",
  hc: "https://hc-ping.com/hcsecret-91c2d4e6",
  webhook: "hmacsecret-0b7e55aa-planted",
  stepEnv: "stepenvsecret-6c3a19f2",
  globalEnv: "globalenvsecret-a4d0e871",
};

function writeSecretConfig(dir: string, extraJobs = ""): string {
  writeTree(dir, {
    "secrets/local.pass": `${SECRETS.password}\n`,
    "secrets/nas.url": `${SECRETS.url}\n`,
    "secrets/b2.env": `AWS_ACCESS_KEY_ID=keyid\nAWS_SECRET_ACCESS_KEY=${SECRETS.aws}\n`,
    "secrets/hc.url": `${SECRETS.hc}\n`,
    "secrets/webhook.key": `${SECRETS.webhook}\n`,
    "secrets/step.env": `TOKEN=${SECRETS.stepEnv}\n`,
    "secrets/global.env": `GLOBAL_TOKEN=${SECRETS.globalEnv}\n`,
  });
  return writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
env_file: ${dir}/secrets/global.env
repositories:
  local:
    url: ${dir}/repo
    password_file: ${dir}/secrets/local.pass
  nas:
    url_file: ${dir}/secrets/nas.url
    password_file: ${dir}/secrets/local.pass
    env_file: ${dir}/secrets/b2.env
notifications:
  hc: { type: healthchecks, url_file: ${dir}/secrets/hc.url }
  hook: { type: webhook, url: "https://example.invalid/hook", secret_file: ${dir}/secrets/webhook.key }
jobs:
  backup-job:
    schedule: "*-*-* 03:00:00"
    randomized_delay: 10m
    max_age: 26h
    user: daemon
    group: daemon
    notify: [hc, hook]
    steps:
      - { name: hello, type: exec, command: [echo, hello], env_file: ${dir}/secrets/step.env }
  weekly:
    schedule: "0 4 * * 1"
    steps:
      - { name: hello, type: exec, command: [echo, weekly] }
${extraJobs}`,
  );
}

const env = (dir: string) => ({
  HOME: path.join(dir, "home"),
  XDG_CONFIG_HOME: path.join(dir, "home/.config"),
});

describe("schedule install --root / remove --root", () => {
  it("writes the units with their modes, and remove leaves DIR exactly as it was", async () => {
    const dir = makeTempDir();
    const config = writeSecretConfig(dir);
    const root = path.join(dir, "root");
    // DIR already has a unit directory and unrelated files: install must add to it, remove must only take away.
    writeTree(root, {
      "etc/systemd/system/other.service": "[Service]\nExecStart=/bin/true\n",
      "etc/hostname": "vm\n",
    });
    fs.chmodSync(path.join(root, "etc/hostname"), 0o640);
    const before = listTree(root);

    const install = await runCli(
      ["--config", config, "schedule", "install", "--system", "--root", root, "--json"],
      { env: env(dir) },
    );
    expect(install.code, install.stderr).toBe(0);
    const report = parseJson(install);
    expect(report.ran_commands).toBe(false);
    expect(report.commands).toEqual([
      ["systemctl", "daemon-reload"],
      [
        "systemctl",
        "enable",
        "--now",
        "holdfast@backup-job.timer",
        "holdfast@weekly.timer",
        "holdfast-watch.timer",
      ],
    ]);
    const unitDir = path.join(root, "etc/systemd/system");
    const modes = Object.fromEntries(
      allFiles(root).map((f) => [path.relative(root, f), (fs.statSync(f).mode & 0o777).toString(8)]),
    );
    expect(modes).toEqual({
      ".holdfast-schedule-system.json": "600",
      "etc/hostname": "640",
      "etc/holdfast/systemd.env": "600",
      "etc/systemd/system/other.service": "644",
      "etc/systemd/system/holdfast@.service": "644",
      "etc/systemd/system/holdfast@backup-job.service.d/holdfast.conf": "644",
      "etc/systemd/system/holdfast@backup-job.timer": "644",
      "etc/systemd/system/holdfast@weekly.service.d/holdfast.conf": "644",
      "etc/systemd/system/holdfast@weekly.timer": "644",
      "etc/systemd/system/holdfast-watch.service": "644",
      "etc/systemd/system/holdfast-watch.timer": "644",
    });
    const template = fs.readFileSync(path.join(unitDir, "holdfast@.service"), "utf8");
    expect(template).toContain(`--config ${config} run %i --trigger schedule`);
    expect(
      fs.readFileSync(path.join(unitDir, "holdfast@backup-job.service.d/holdfast.conf"), "utf8"),
    ).toContain("User=daemon\nGroup=daemon\n");
    expect(fs.readFileSync(path.join(unitDir, "holdfast@weekly.timer"), "utf8")).toContain(
      "OnCalendar=Mon *-*-* 04:00:00\n",
    );

    // A second install changes nothing; a job leaving the config takes its timer with it.
    const again = parseJson(
      await runCli(["--config", config, "schedule", "install", "--root", root, "--json"], { env: env(dir) }),
    );
    expect(new Set(again.files.map((f: { action: string }) => f.action))).toEqual(new Set(["unchanged"]));

    const remove = await runCli(["--config", config, "schedule", "remove", "--root", root], {
      env: env(dir),
    });
    expect(remove.code, remove.stderr).toBe(0);
    expect(listTree(root)).toEqual(before);
  });

  it("re-install after a job left the config removes its units; remove then restores DIR", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeSecretConfig(
      dir,
      `  extra:\n    schedule: hourly\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n`,
    );
    fs.mkdirSync(root);
    const before = listTree(root);
    expect(
      (await runCli(["--config", config, "schedule", "install", "--root", root], { env: env(dir) })).code,
    ).toBe(0);
    expect(fs.existsSync(path.join(root, "etc/systemd/system/holdfast@extra.timer"))).toBe(true);
    writeSecretConfig(dir);
    const second = parseJson(
      await runCli(["--config", config, "schedule", "install", "--root", root, "--json"], { env: env(dir) }),
    );
    expect(second.stale_timers).toEqual(["holdfast@extra.timer"]);
    expect(fs.existsSync(path.join(root, "etc/systemd/system/holdfast@extra.timer"))).toBe(false);
    expect(fs.existsSync(path.join(root, "etc/systemd/system/holdfast@extra.service.d"))).toBe(false);
    expect(
      (await runCli(["--config", config, "schedule", "remove", "--root", root], { env: env(dir) })).code,
    ).toBe(0);
    expect(listTree(root)).toEqual(before);
  });

  it("keeps an environment file the user edited, and never overwrites a unit it did not write", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeSecretConfig(dir);
    writeTree(root, { "etc/systemd/system/holdfast@.service": "[Service]\nExecStart=/bin/true\n" });
    const before = listTree(root);
    const refused = await runCli(["--config", config, "schedule", "install", "--root", root], {
      env: env(dir),
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("holdfast@.service");
    expect(refused.stderr).toContain("holdfast only overwrites files it wrote");
    expect(listTree(root)).toEqual(before);

    fs.rmSync(path.join(root, "etc/systemd/system/holdfast@.service"));
    expect(
      (await runCli(["--config", config, "schedule", "install", "--root", root], { env: env(dir) })).code,
    ).toBe(0);
    const envFile = path.join(root, "etc/holdfast/systemd.env");
    fs.appendFileSync(envFile, "HTTPS_PROXY=http://proxy:3128\n");
    const removed = await runCli(["--config", config, "schedule", "remove", "--root", root], {
      env: env(dir),
    });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/left\s+.*systemd\.env\s+\(edited since install/);
    expect(fs.readFileSync(envFile, "utf8")).toContain("HTTPS_PROXY=http://proxy:3128");
    expect(fs.existsSync(path.join(root, "etc/systemd/system/holdfast@.service"))).toBe(false);
  });

  it("--dry-run prints the units and writes nothing", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeSecretConfig(dir);
    fs.mkdirSync(root);
    const result = await runCli(["--config", config, "schedule", "install", "--root", root, "--dry-run"], {
      env: env(dir),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`# ${root}/etc/systemd/system/holdfast@backup-job.timer (0644)`);
    expect(result.stdout).toContain("OnCalendar=*-*-* 03:00:00");
    expect(result.stdout).toContain(`# ${root}/etc/holdfast/systemd.env (0600)`);
    expect(fs.readdirSync(root)).toEqual([]);
    expect(fs.existsSync(path.join(dir, "state"))).toBe(false);
  });

  it("a live --user install (no --root) keeps its manifest in the state dir and prints what to run without systemd", async () => {
    const dir = makeTempDir();
    const config = writeSecretConfig(dir);
    fs.mkdirSync(path.join(dir, "home"));
    const before = listTree(path.join(dir, "home"));
    const result = await runCli(["--config", config, "schedule", "install", "--user"], { env: env(dir) });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("note: job backup-job: user/group are left out of user units");
    expect(result.stdout).toContain(
      "systemctl --user enable --now holdfast@backup-job.timer holdfast@weekly.timer holdfast-watch.timer",
    );
    expect(fs.existsSync(path.join(dir, "state/schedule-user.json"))).toBe(true);
    const dropIn = fs.readFileSync(
      path.join(dir, "home/.config/systemd/user/holdfast@backup-job.service.d/holdfast.conf"),
      "utf8",
    );
    expect(dropIn).not.toContain("User=");
    expect((await runCli(["--config", config, "schedule", "remove", "--user"], { env: env(dir) })).code).toBe(
      0,
    );
    expect(listTree(path.join(dir, "home"))).toEqual(before);
    expect(fs.existsSync(path.join(dir, "state/schedule-user.json"))).toBe(false);
  });

  it("remove without an install says so (exit 2)", async () => {
    const dir = makeTempDir();
    const config = writeSecretConfig(dir);
    const result = await runCli(
      ["--config", config, "schedule", "remove", "--root", path.join(dir, "nothing")],
      { env: env(dir) },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no system install recorded");
  });
});

describe("S1: no secret in any written file", () => {
  it("plants unique secrets in every secret file the config names; none reaches units, env file, manifest or output", async () => {
    const dir = makeTempDir();
    const config = writeSecretConfig(dir);
    const root = path.join(dir, "root");
    const outputs: string[] = [];
    for (const args of [["--json"], ["--dry-run"], ["--dry-run", "--json"], []]) {
      const result = await runCli(["--config", config, "schedule", "install", "--root", root, ...args], {
        env: env(dir),
      });
      expect(result.code, result.stderr).toBe(0);
      outputs.push(result.stdout, result.stderr);
    }
    const list = await runCli(["--config", config, "schedule", "list", "--root", root, "--json"], {
      env: env(dir),
    });
    outputs.push(list.stdout, list.stderr);
    const written = allFiles(root);
    expect(written.length).toBeGreaterThanOrEqual(9);
    const texts = [...written.map((f) => fs.readFileSync(f, "utf8")), ...outputs];
    for (const secret of Object.values(SECRETS)) {
      for (const text of texts) expect(text).not.toContain(secret);
    }
    // The check itself can fail: the secret files hold the planted strings.
    expect(fs.readFileSync(path.join(dir, "secrets/b2.env"), "utf8")).toContain(SECRETS.aws);
  });
});

describe("units pass systemd-analyze verify", () => {
  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  it.skipIf(analyze.status !== 0)("every unit of a system install, with its drop-ins", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeSecretConfig(
      dir,
      `  cron-or:\n    schedule: "30 2 1,15 * Sun"\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n  often:\n    schedule: "*:*:0/10"\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n`,
    );
    expect(
      (await runCli(["--config", config, "schedule", "install", "--root", root], { env: env(dir) })).code,
    ).toBe(0);
    const unitDir = path.join(root, "etc/systemd/system");
    const units = fs
      .readdirSync(unitDir)
      .filter((n) => /\.(timer|service)$/.test(n) && n !== "holdfast@.service")
      .concat([
        "holdfast@backup-job.service",
        "holdfast@weekly.service",
        "holdfast@cron-or.service",
        "holdfast@often.service",
      ])
      .map((n) => path.join(unitDir, n));
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", ...units], { encoding: "utf8" });
    expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: "" });

    // The check can fail: a broken setting in a drop-in is reported.
    fs.appendFileSync(path.join(unitDir, "holdfast@weekly.service.d/holdfast.conf"), "Nice=lots\n");
    const broken = spawnSync(
      "systemd-analyze",
      ["verify", "--man=no", path.join(unitDir, "holdfast@weekly.service")],
      { encoding: "utf8" },
    );
    expect(broken.stderr).toContain("Failed to parse nice priority 'lots'");
  });

  it.skipIf(analyze.status !== 0)(
    "every unit of a --user install (systemd-analyze --user, with a runtime dir)",
    async () => {
      const dir = makeTempDir();
      const config = writeSecretConfig(dir);
      expect(
        (await runCli(["--config", config, "schedule", "install", "--user"], { env: env(dir) })).code,
      ).toBe(0);
      const unitDir = path.join(dir, "home/.config/systemd/user");
      const runtime = path.join(dir, "run");
      fs.mkdirSync(runtime, { mode: 0o700 });
      const units = [
        "holdfast@backup-job.timer",
        "holdfast@backup-job.service",
        "holdfast@weekly.timer",
        "holdfast@weekly.service",
      ]
        .concat(["holdfast-watch.timer", "holdfast-watch.service"])
        .map((n) => path.join(unitDir, n));
      const verify = spawnSync("systemd-analyze", ["--user", "verify", "--man=no", ...units], {
        encoding: "utf8",
        env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      });
      expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: "" });
    },
  );
});

describe("schedule install refuses a schedule that does not parse", () => {
  it("exit 2 with file:line:col and the calendar's hint; nothing written", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeConfig(
      dir,
      `version: 1\nstate_dir: ${dir}/state\njobs:\n  bad:\n    schedule: "Mon..Fry 03:00"\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n`,
    );
    const result = await runCli(["--config", config, "schedule", "install", "--root", root]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `^${config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:15  jobs\\.bad\\.schedule  invalid schedule "Mon\\.\\.Fry 03:00"`,
        "m",
      ),
    );
    expect(fs.existsSync(root)).toBe(false);
    // The loader itself refuses it too, so every command that reads the config says the same.
    const list = await runCli(["--config", config, "schedule", "list", "--json"]);
    expect(list.code).toBe(2);
    expect(list.stderr).toContain(`${config}:5:15  jobs.bad.schedule`);
  });
});

describe("schedule list", () => {
  it("shows each job's schedule, normalized form, next run and whether its timer is installed", async () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    const config = writeSecretConfig(
      dir,
      `  manual:\n    steps:\n      - { name: x, type: exec, command: ["true"] }\n`,
    );
    let list = parseJson(
      await runCli(["--config", config, "schedule", "list", "--root", root, "--json"], { env: env(dir) }),
    );
    expect(
      list.jobs.map((j: { job: string; timer_installed: boolean }) => [j.job, j.timer_installed]),
    ).toEqual([
      ["backup-job", false],
      ["weekly", false],
      ["manual", false],
    ]);
    await runCli(["--config", config, "schedule", "install", "--root", root], { env: env(dir) });
    list = parseJson(
      await runCli(["--config", config, "schedule", "list", "--root", root, "--json"], { env: env(dir) }),
    );
    const [backup, weekly, manual] = list.jobs;
    expect(backup).toMatchObject({
      schedule: "*-*-* 03:00:00",
      normalized: "*-*-* 03:00:00",
      kind: "oncalendar",
      timer_installed: true,
      randomized_delay_ms: 600_000,
    });
    expect(backup.timer).toEqual({
      mode: "system",
      path: path.join(root, "etc/systemd/system/holdfast@backup-job.timer"),
    });
    expect(Date.parse(backup.next_run_at)).toBeGreaterThan(Date.now());
    expect(weekly).toMatchObject({
      kind: "cron",
      normalized: "Mon *-*-* 04:00:00",
      on_calendar: ["Mon *-*-* 04:00:00"],
    });
    expect(manual).toMatchObject({ schedule: null, next_run_at: null, timer_installed: false });
    const human = await runCli(["--config", config, "schedule", "list", "--root", root], { env: env(dir) });
    expect(human.stdout).toMatch(
      /^weekly\s+0 4 \* \* 1\s+Mon \*-\*-\* 04:00:00\s+\S+Z\s+installed \(system\)$/m,
    );
  });
});

describe("schedule next", () => {
  it("prints the normalized form and the next elapses as ISO UTC; needs no config", async () => {
    const cwd = makeTempDir();
    const result = await runCli(
      [
        "schedule",
        "next",
        "Mon..Fri *-*-* 03:00:00 UTC",
        "--count",
        "3",
        "--from",
        "2026-11-26T12:00:00Z",
        "--json",
      ],
      {
        cwd,
        env: { HOME: cwd, XDG_CONFIG_HOME: cwd },
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result)).toMatchObject({
      expression: "Mon..Fri *-*-* 03:00:00 UTC",
      normalized: "Mon..Fri *-*-* 03:00:00 UTC",
      next: ["2026-11-27T03:00:00.000Z", "2026-11-30T03:00:00.000Z", "2026-12-01T03:00:00.000Z"],
    });
    const cron = parseJson(
      await runCli(
        ["schedule", "next", "*/20 9 * * *", "--count", "2", "--from", "2026-01-01T00:00:00Z", "--json"],
        { cwd, env: { TZ: "UTC" } },
      ),
    );
    expect(cron).toMatchObject({
      normalized: "*-*-* 09:00/20:00",
      next: ["2026-01-01T09:00:00.000Z", "2026-01-01T09:20:00.000Z"],
    });
    const human = await runCli(
      ["schedule", "next", "daily", "--count", "2", "--from", "2026-01-01T10:00:00Z"],
      { cwd, env: { TZ: "UTC" } },
    );
    expect(human.stdout).toContain("Normalized form: *-*-* 00:00:00");
    expect(human.stdout).toContain("(in UTC): 2026-01-02T00:00:00.000Z");
    expect(human.stdout).toContain("(in UTC): 2026-01-03T00:00:00.000Z");
  });

  it("rejects an invalid expression with exit 2 and the calendar's hint", async () => {
    const result = await runCli(["schedule", "next", "0 3 * * * *"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid schedule "0 3 * * * *"');
    expect(result.stderr).toMatch(/hint: .*5-field cron/);
    const badCount = await runCli(["schedule", "next", "daily", "--count", "0"]);
    expect(badCount.code).toBe(2);
    const badFrom = await runCli(["schedule", "next", "daily", "--from", "yesterday-ish"]);
    expect(badFrom.code).toBe(2);
  });
});
