// What `schedule install` says about the environment its units run in, and what it writes for it
// (issue 17 item 8): PrivateTmp= hides /tmp paths from system units, a user manager without
// lingering stops at log-out, the unit's PATH holds only what the job runs, and lines that reach the
// journal carry their sd-daemon priority.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  installWarnings,
  lingerEnabled,
  minimalPath,
  pathsUnderPrivateTmp,
  SYSTEMD_DEFAULT_PATH,
} from "../../src/scheduler/install-checks.js";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";

function executable(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
}

describe("the unit's PATH", () => {
  it("keeps the installer's entries where a program the job runs lives, in order, then systemd's default", () => {
    const dir = makeTempDir();
    executable(path.join(dir, "nix/bin/restic"));
    executable(path.join(dir, "opt/tools/pg_dumpish"));
    fs.mkdirSync(path.join(dir, "games"), { recursive: true });
    fs.writeFileSync(path.join(dir, "games/restic"), "not executable", { mode: 0o644 });
    const installer = [
      path.join(dir, "games"),
      path.join(dir, "nix/bin"),
      "",
      ".",
      "/usr/bin",
      path.join(dir, "opt/tools"),
      path.join(dir, "nix/bin"),
    ].join(":");

    const result = minimalPath(installer, ["restic", "pg_dumpish", "/abs/never-a-path-entry"]);

    expect(result.path).toBe(`${dir}/nix/bin:${dir}/opt/tools:${SYSTEMD_DEFAULT_PATH}`);
    // A relative entry would make the service look up programs in its working directory.
    expect(result.dropped).toEqual([path.join(dir, "games"), "."]);
  });

  it("is systemd's default when the installer has nothing more", () => {
    expect(minimalPath(undefined, ["restic"])).toEqual({ path: SYSTEMD_DEFAULT_PATH, dropped: [] });
  });
});

describe("install warnings", () => {
  const config = {
    file: "/etc/holdfast/config.yaml",
    state_dir: "/var/lib/holdfast",
    repositories: { scratch: { url: "local:/tmp/repo" }, nas: { url: "rest:http://nas:8000/x" } },
    jobs: {
      nightly: {
        steps: [
          { name: "mirror", target: "/var/tmp/mirror" },
          { name: "home", path: "/tmpfoo" },
        ],
      },
    },
  };

  it("names every path under /tmp or /var/tmp for a system install, with where it is", () => {
    expect(pathsUnderPrivateTmp(config).map((p) => `${p.where}=${p.value}`)).toEqual([
      "repositories.scratch.url=local:/tmp/repo",
      "jobs.nightly.steps[0].target=/var/tmp/mirror",
    ]);
    const [warning, ...rest] = installWarnings({ mode: "system", config, user: "root", lingerEnabled: true });
    expect(rest).toEqual([]);
    expect(warning).toContain("PrivateTmp=yes");
    expect(warning).toContain("repositories.scratch.url: local:/tmp/repo");
    expect(warning).toContain("jobs.nightly.steps[0].target: /var/tmp/mirror");
    // A user manager has no PrivateTmp= in our units: nothing to say about /tmp there.
    expect(installWarnings({ mode: "user", config, user: "ann", lingerEnabled: true })).toEqual([]);
  });

  it("says how to keep user timers running after log-out when lingering is off", () => {
    const lingerDir = makeTempDir();
    expect(lingerEnabled("ann", lingerDir)).toBe(false);
    const [warning] = installWarnings({ mode: "user", config: {}, user: "ann", lingerEnabled: false });
    expect(warning).toContain("loginctl enable-linger ann");
    fs.writeFileSync(path.join(lingerDir, "ann"), "");
    expect(lingerEnabled("ann", lingerDir)).toBe(true);
  });

  it("schedule install --system --dry-run --json warns about a repository under /tmp and writes a minimal PATH", async () => {
    const dir = makeTempDir();
    executable(path.join(dir, "bin/restic-wrapper"));
    writeTree(dir, { pass: "pw\n" });
    const file = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
restic: { binary: restic-wrapper }
repositories:
  local: { url: ${dir}/repo, password_file: ${dir}/pass }
sources:
  docs: { paths: [${dir}/docs] }
jobs:
  nightly:
    schedule: "*-*-* 03:00:00"
    steps:
      - { name: docs, type: backup, source: docs, repos: [local] }
`,
    );
    const result = await runCli(
      [
        "--config",
        file,
        "schedule",
        "install",
        "--system",
        "--root",
        path.join(dir, "root"),
        "--dry-run",
        "--json",
      ],
      { env: { HOME: path.join(dir, "home"), PATH: `${dir}/unrelated:${dir}/bin:${process.env.PATH}` } },
    );
    expect(result.code, result.stderr).toBe(0);
    const report = parseJson<{ warnings: string[]; files: { path: string; content: string }[] }>(result);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toContain(`repositories.local.url: ${dir}/repo`);
    expect(report.warnings[0]).toContain(`state_dir: ${dir}/state`);
    const envFile = report.files.find((f) => f.path.endsWith("systemd.env"));
    const pathLine = envFile?.content.split("\n").find((l) => l.startsWith("PATH="));
    expect(pathLine?.startsWith(`PATH=${dir}/bin:`), pathLine).toBe(true);
    expect(pathLine).not.toContain(`${dir}/unrelated`);
    expect(envFile?.content).toContain(`# Left out of the installer's PATH`);
  });
});

describe("journald priorities", () => {
  const job = (dir: string) =>
    writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
jobs:
  nightly:
    steps:
      - { name: ok, type: exec, command: ["true"] }
      - { name: odd, type: exec, command: [sh, -c, "exit 3"], warning_codes: [3] }
      - { name: broken, type: exec, command: ["false"] }
`,
    );

  /** Runs the job with stdout and stderr sent to a file, as systemd sends them to the journal's socket. */
  async function runInto(dir: string, journalIsStdout: boolean): Promise<string> {
    const file = job(dir);
    const out = path.join(dir, "journal.txt");
    const fd = fs.openSync(out, "w");
    const stat = fs.fstatSync(fd);
    const other = fs.statSync(dir);
    // JOURNAL_STREAM names the stream (systemd.exec(5)); here it is the file the output goes to.
    const stream = journalIsStdout ? `${stat.dev}:${stat.ino}` : `${other.dev}:${other.ino}`;
    const { spawnSync } = await import("node:child_process");
    const { CLI } = await import("../helpers/cli.js");
    spawnSync(process.execPath, [CLI, "--config", file, "run", "nightly"], {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, NO_COLOR: "1", JOURNAL_STREAM: stream, XDG_CACHE_HOME: path.join(dir, "cache") },
    });
    fs.closeSync(fd);
    return fs.readFileSync(out, "utf8");
  }

  it("prefixes failed steps and the failed run with <3> and a warning with <4> when stdout is the journal, and nothing else", async () => {
    const text = await runInto(makeTempDir(), true);
    const lines = text.split("\n").filter(Boolean);
    const prefixed = lines.filter((l) => /^<\d>/.test(l));
    expect(
      prefixed.some((l) => l.startsWith("<3>✗ [broken] failed")),
      text,
    ).toBe(true);
    expect(
      prefixed.some((l) => l.startsWith("<3>holdfast: run") && l.includes("failed")),
      text,
    ).toBe(true);
    expect(
      lines.some((l) => l.startsWith("✓ [ok] succeeded")),
      text,
    ).toBe(true);
    expect(
      prefixed.some((l) => l.startsWith("<4>! [odd] warning")),
      text,
    ).toBe(true);
    // Only failures and warnings carry a priority; everything else is the journal's default (info).
    expect(prefixed, text).toHaveLength(3);
  });

  it("writes no prefix when JOURNAL_STREAM names another stream (a pipe or file of the user's)", async () => {
    const text = await runInto(makeTempDir(), false);
    expect(text).toContain("[broken] failed");
    expect(text).not.toMatch(/^<\d>/m);
  });
});
