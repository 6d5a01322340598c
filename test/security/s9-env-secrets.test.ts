// S9: every env-file value and every inline `env:` value counts as a secret, unless its name is on
// the short harmless list (src/util/secret-names.ts). Three sides of one rule:
// - a secret-named inline variable (BORG_PASSPHRASE, RCLONE_CONFIG_PASS, MYSQL_PWD, HTTP_AUTH, …) is
//   refused when the config loads: exit 2, file:line:col, a hint to use env_file / password_file,
//   the value never echoed;
// - any other inline value is masked by `config show` and never stored in the config cache, unless
//   its name is harmless (TZ, LANG, LC_*, …), which stays readable;
// - every value of every env file, whatever its name, is redacted from step logs, `logs` and
//   `show --json`, while harmless inline values still show.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { readMaybeGzip, SecretScanner, walkFiles } from "./scan.js";

const hex = () => crypto.randomBytes(8).toString("hex");

let root: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-s9-");
  fs.writeFileSync(path.join(root, "pass"), "s9-password\n", { mode: 0o600 });
});
afterAll(() => removeDir(root));

let n = 0;
function writeYaml(lines: string[]): string {
  const file = path.join(root, `c${n++}.yaml`);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const cli = (file: string, args: string[]) =>
  runCli(["--config", file, ...args], {
    cwd: root,
    timeoutMs: 60_000,
    env: { XDG_STATE_HOME: path.join(root, "xdg-state"), XDG_CACHE_HOME: path.join(root, "xdg-cache") },
  });

function expectNoStack(r: CliResult) {
  expect(r.stdout + r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.stdout + r.stderr).not.toMatch(/internal error|holdfast bug/i);
}

const node = JSON.stringify(process.execPath);

describe("S9: secret-named inline env is refused at load", () => {
  it("at every level, with file:line:col, a hint, and never the value", async () => {
    const value = `s9Inline-${hex()}`;
    // [name, the line (1-based) it is written on]
    const refused: Array<[string, number]> = [];
    const lines = [
      "version: 1",
      `state_dir: ${JSON.stringify(path.join(root, "state"))}`,
      "env:",
      `  BORG_PASSPHRASE: ${value}`,
      `  PGPASSWORD: ${value}`,
      "  TZ: UTC",
      "repositories:",
      "  local:",
      `    url: ${JSON.stringify(path.join(root, "repo"))}`,
      `    password_file: ${JSON.stringify(path.join(root, "pass"))}`,
      "    env:",
      `      RCLONE_CONFIG_PASS: ${value}`,
      `      B2_ACCOUNT_KEY: ${value}`,
      "      AWS_ACCESS_KEY_ID: AKIAS9EXAMPLE",
      "jobs:",
      "  j:",
      "    env:",
      `      MYSQL_PWD: ${value}`,
      `      RESTIC_PASSWORD: ${value}`,
      "      KEYBOARD_LAYOUT: de",
      "    steps:",
      "      - name: e",
      "        type: exec",
      `        command: [${node}, "-e", "0"]`,
      "        env:",
      `          HTTP_AUTH: ${value}`,
      `          AZURE_ACCOUNT_SAS: ${value}`,
      "          SSH_AUTH_SOCK: /run/agent.sock",
    ];
    lines.forEach((line, i) => {
      const name = /^\s+([A-Z0-9_]+): /.exec(line)?.[1];
      if (name && line.includes(value)) refused.push([name, i + 1]);
    });
    expect(refused.length).toBe(8);
    const file = writeYaml(lines);

    for (const args of [
      ["config", "validate"],
      ["run", "--dry-run"],
      ["config", "show"],
    ]) {
      const r = await cli(file, args);
      expect(r.code, `${args.join(" ")}\n${r.stdout}${r.stderr}`).toBe(2);
      expectNoStack(r);
      expect(r.stdout + r.stderr).not.toContain(value);
      for (const [name, line] of refused) {
        const col = (lines[line - 1] ?? "").indexOf(name) + 1;
        expect(r.stderr, name).toContain(`${file}:${line}:${col}`);
        expect(r.stderr, name).toContain(`"${name}"`);
      }
      expect(r.stderr).toMatch(/env_file/);
      expect(r.stderr).toMatch(/password_file/);
      // The names that only point at a secret, or hold none, pass.
      for (const allowed of ["AWS_ACCESS_KEY_ID", "KEYBOARD_LAYOUT", "SSH_AUTH_SOCK", "TZ"])
        expect(r.stderr, allowed).not.toContain(`"${allowed}"`);
    }
  });
});

describe("S9: inline env values off the harmless list are masked", () => {
  it("by config show (text and --json) and in the config cache; harmless names stay readable", async () => {
    const secrets = {
      dbHost: `s9DbHost-${hex()}`,
      keyboard: `s9Keyboard-${hex()}`,
      awsId: `AKIAS9${hex().toUpperCase()}`,
      note: `s9Note-${hex()}`,
    };
    const file = writeYaml([
      "version: 1",
      `state_dir: ${JSON.stringify(path.join(root, "state-mask"))}`,
      "env:",
      `  DB_HOST: ${secrets.dbHost}`,
      "  TZ: Europe/Berlin",
      "  LC_TIME: de_DE.UTF-8",
      "repositories:",
      "  local:",
      `    url: ${JSON.stringify(path.join(root, "repo"))}`,
      `    password_file: ${JSON.stringify(path.join(root, "pass"))}`,
      "    env:",
      `      AWS_ACCESS_KEY_ID: ${secrets.awsId}`,
      "      RESTIC_PACK_SIZE: '32'",
      "jobs:",
      "  j:",
      "    env:",
      `      KEYBOARD_LAYOUT: ${secrets.keyboard}`,
      "    steps:",
      "      - name: e",
      "        type: exec",
      `        command: [${node}, "-e", "0"]`,
      "        env:",
      `          NOTE: ${secrets.note}`,
    ]);
    const scan = new SecretScanner(secrets);
    const text = await cli(file, ["config", "show"]);
    const json = await cli(file, ["config", "show", "--json"]);
    expect(text.code, text.stderr).toBe(0);
    expect(json.code, json.stderr).toBe(0);
    scan.scan("config show", text.stdout + text.stderr);
    scan.scan("config show --json", json.stdout + json.stderr);
    const shown = JSON.parse(json.stdout) as {
      env: Record<string, string>;
      repositories: Record<string, { env: Record<string, string> }>;
      jobs: Record<string, { env: Record<string, string>; steps: Array<{ env: Record<string, string> }> }>;
    };
    expect(shown.env).toEqual({ DB_HOST: "***", TZ: "Europe/Berlin", LC_TIME: "de_DE.UTF-8" });
    expect(shown.repositories.local?.env).toEqual({ AWS_ACCESS_KEY_ID: "***", RESTIC_PACK_SIZE: "32" });
    expect(shown.jobs.j?.env).toEqual({ KEYBOARD_LAYOUT: "***" });
    expect(shown.jobs.j?.steps[0]?.env).toEqual({ NOTE: "***" });

    // The read-only commands validate once and keep the result in the cache.
    for (const args of [["status"], ["history"], ["status", "--json"]]) {
      const r = await cli(file, args);
      expect(r.code, r.stderr).toBe(0);
      scan.scan(args.join(" "), r.stdout + r.stderr);
    }
    const cacheFiles = walkFiles(path.join(root, "xdg-cache"));
    expect(cacheFiles.length).toBeGreaterThan(0);
    for (const f of cacheFiles) scan.scan(`cache ${path.basename(f)}`, fs.readFileSync(f));
    expect(scan.hits).toEqual([]);
  });
});

describe("S9: every env-file value is a secret, whatever its name", () => {
  it("is redacted from the step log, `logs`, `show --json` and the history DB; harmless inline values show", async () => {
    const secrets = {
      borg: `s9Borg-${hex()}+a/b`,
      rclone: `s9Rclone-${hex()}`,
      mysql: `s9Mysql-${hex()}`,
      plain: `s9Plain-${hex()}`,
      jobFile: `s9JobFile-${hex()}`,
      topFile: `s9TopFile-${hex()}`,
    };
    const envDir = path.join(root, "env");
    fs.mkdirSync(envDir, { recursive: true, mode: 0o700 });
    const write = (name: string, text: string) => {
      const f = path.join(envDir, name);
      fs.writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    const stepEnv = write(
      "step.env",
      [
        `BORG_PASSPHRASE=${secrets.borg}`,
        `export RCLONE_CONFIG_PASS='${secrets.rclone}'`,
        `MYSQL_PWD="${secrets.mysql}"`,
        `FOO=${secrets.plain}`,
      ].join("\n"),
    );
    const stateDir = path.join(root, "state-run");
    // The step prints every variable it got, and fails, so its error carries the output too.
    const script =
      "for (const [k, v] of Object.entries(process.env)) console.log(k + '=' + v); " +
      "console.error('all: ' + JSON.stringify(process.env)); process.exit(3)";
    const file = writeYaml([
      "version: 1",
      `state_dir: ${JSON.stringify(stateDir)}`,
      `env_file: ${JSON.stringify(write("top.env", `SETTING=${secrets.topFile}\n`))}`,
      "env:",
      "  TZ: Pacific/Chatham",
      "jobs:",
      "  j:",
      `    env_file: ${JSON.stringify(write("job.env", `LABEL=${secrets.jobFile}\n`))}`,
      "    steps:",
      "      - name: printenv",
      "        type: exec",
      `        command: [${node}, "-e", ${JSON.stringify(script)}]`,
      `        env_file: ${JSON.stringify(stepEnv)}`,
      "        env:",
      "          LC_ALL: C.UTF-8",
    ]);
    const scan = new SecretScanner(secrets);
    const run = await cli(file, ["run", "--json"]);
    expect(run.code, run.stderr).toBe(1);
    scan.scan("run --json", run.stdout + run.stderr);
    const id = (JSON.parse(run.stdout) as { id: string }).id;
    const logs = await cli(file, ["logs", id]);
    expect(logs.code, logs.stderr).toBe(0);
    scan.scan("logs", logs.stdout + logs.stderr);
    // Not vacuous: the step did print its environment, masked where the env files' values were.
    for (const name of ["BORG_PASSPHRASE", "RCLONE_CONFIG_PASS", "MYSQL_PWD", "FOO", "LABEL", "SETTING"])
      expect(logs.stdout).toContain(`${name}=***`);
    expect(logs.stdout).toContain("TZ=Pacific/Chatham");
    expect(logs.stdout).toContain("LC_ALL=C.UTF-8");
    for (const args of [
      ["show", id, "--json"],
      ["show", id],
      ["history", "--json"],
    ]) {
      const r = await cli(file, args);
      expect(r.code, r.stderr).toBe(0);
      scan.scan(args.join(" "), r.stdout + r.stderr);
    }
    const stateFiles = walkFiles(stateDir);
    expect(stateFiles.some((f) => /\.db$/.test(f))).toBe(true);
    for (const f of stateFiles) scan.scan(`state ${path.relative(stateDir, f)}`, readMaybeGzip(f));
    expect(scan.hits).toEqual([]);
  });
});
