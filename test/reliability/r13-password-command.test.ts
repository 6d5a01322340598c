// R13 (the password_command half; the PostgreSQL hub half comes with the hub): a repository's
// password_command hangs (a gpg-agent waiting for a PIN, a vault CLI waiting for its server). What must
// hold: every caller — a backup step (the guard's snapshot listing and the backup itself), `snapshots`,
// `unlock`, `doctor` — stops within the command's own limit (`password_command_timeout`, here 3 s)
// plus holdfast's start/stop cost, names the password command (not the backend), and leaves no process
// behind. Real restic: the suite's pass (restic 0.14, then 0.18 — the restic first on PATH); the
// hanging command is a real `sh -c 'sleep …'`, marked by a unique duration.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { killMatching, processesMatching } from "../helpers/reliability.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
const LIMIT_MS = 3_000;
// holdfast's own start, restic's start and our margin on a shared 2-core machine.
const SLACK_MS = 10_000;
const versions = [{ name: resticUnderTest.version, binary: "restic" }];

let root: string;
const figures: string[] = [];
const marker = `300.${String(process.pid).slice(-4)}7`;

beforeAll(() => {
  root = makeSharedDir("holdfast-r13-");
  fs.mkdirSync(path.join(root, "src"));
  fs.writeFileSync(path.join(root, "src", "a.txt"), "a\n");
  const passwordFile = writePassword(path.join(root, "pw"), "r13-pw");
  resticInit({ repo: path.join(root, "repo"), passwordFile });
});

afterAll(async () => {
  await killMatching(`sleep ${marker}`);
  removeDir(root);
  if (figures.length > 0) console.log(`R13 figures (password_command_timeout 3 s):\n${figures.join("\n")}`);
});

function configFor(binary: string, name: string): TestConfig {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  return writeTestConfig(dir, {
    restic: { binary },
    repositories: {
      r: {
        url: path.join(root, "repo"),
        password_command: ["sh", "-c", `echo waiting for a PIN >&2; sleep ${marker}`],
        password_command_timeout: "3s",
      },
    },
    sources: { s: { paths: [path.join(root, "src")], guard: { max_shrink: "50%" } } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"], timeout: "60s" }] } },
  });
}

const NAMED = /password_command of repository "r" \(sh -c .*\) did not answer within 3\.0s/;

describe.each(versions)("R13: a hanging password_command, restic $name", ({ name, binary }) => {
  let cfg: TestConfig;
  beforeAll(() => {
    cfg = configFor(binary, name);
  });

  const timed = async (args: string[]) => {
    const started = Date.now();
    const result = await cfg.run(args, { timeoutMs: 90_000 });
    return { result, ms: Date.now() - started };
  };

  test("a backup step: failed with kind password_command, named in the record and the step log", async () => {
    const { result, ms } = await timed(["run", "j", "--json"]);
    expect(result.code).toBe(1);
    const run = JSON.parse(result.stdout);
    const step = run.steps[0];
    expect(step.status).toBe("failed");
    const error = step.error.kind === "password_command" ? step.error : step.targets?.[0]?.error;
    expect(error.kind).toBe("password_command");
    expect(error.message).toMatch(NAMED);
    const log = await cfg.run(["logs", run.id, "--step", "b"]);
    expect(log.stdout).toContain("waiting for a PIN");
    expect(log.stdout).toMatch(NAMED);
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
    figures.push(`  restic ${name}  run (backup step)  ${ms} ms`);
    expect(ms).toBeLessThan(LIMIT_MS * 2 + SLACK_MS); // the guard's listing and the backup each wait once
  });

  for (const command of [["snapshots"], ["unlock", "r"], ["doctor"]]) {
    test(`\`${command.join(" ")}\` names the password command within its limit`, async () => {
      const { result, ms } = await timed(command);
      expect(result.code).not.toBe(0);
      expect(`${result.stdout}\n${result.stderr}`).toMatch(NAMED);
      expect(`${result.stdout}\n${result.stderr}`).not.toMatch(/network|backend|unreachable/i);
      expect(processesMatching(`sleep ${marker}`)).toEqual([]);
      figures.push(`  restic ${name}  ${command.join(" ").padEnd(17)} ${ms} ms`);
      expect(ms).toBeLessThan(LIMIT_MS + SLACK_MS);
    });
  }
});
