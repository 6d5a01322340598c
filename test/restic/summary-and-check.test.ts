// What holdfast records from restic's own figures, with the suite's restic (0.14, and 0.18 in the
// second pass; issue 11 item 6): the backup's backup_start/backup_end (0.18+), never restic 0.18.0's
// impossible ones for a skipped backup (a warning in the step log instead), and a check of a
// repository with one damaged pack — one error, not restic 0.18's advice paragraph counted as five,
// the damaged pack by id and restic's own `restic repair packs …` in the hint (0.18's check --json).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";
import { requireRestic, resticUnderTest } from "../helpers/restic-version.js";

type Target = Record<string, unknown> & { repo: string; status: string };
type Step = { name: string; status: string; targets: Target[] };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let root: string;
let quiet: string | null = null;
beforeAll(() => {
  root = makeSharedDir("holdfast-summary-");
});
afterAll(() => {
  removeDir(root);
  if (quiet) removeDir(quiet);
});

function setup(name: string, src: string): { cfg: TestConfig; repo: string } {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const repo = path.join(dir, "repo");
  const passwordFile = writePassword(path.join(dir, "pw"), "summary-pw");
  resticInit({ repo, passwordFile });
  const cfg = writeTestConfig(dir, {
    repositories: { r: { url: repo, password_file: passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      backup: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"] }] },
      unchanged: {
        steps: [{ name: "b", type: "backup", source: "s", repos: ["r"], skip_if_unchanged: true }],
      },
      check: {
        steps: [{ name: "c", type: "check", repos: ["r"], read_data_subset: "100%", timeout: "60s" }],
      },
    },
  });
  return { cfg, repo };
}

function tree(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `f${i}.bin`), Buffer.alloc(60_000, i + 1));
  return dir;
}

describe("the backup record carries restic's own clock", () => {
  it("backup_start and backup_end on 0.18+, neither on 0.14", async () => {
    const { cfg } = setup("clock", tree(path.join(root, "clock-src")));
    const before = Date.now();
    const result = await cfg.run(["run", "backup", "--json"]);
    expectExit(result, 0);
    const target = (parseJson(result).steps[0] as Step).targets[0]!;
    expect(target.status).toBe("succeeded");
    expect(target.restic_duration_ms).toEqual(expect.any(Number));
    if (!resticUnderTest.has("backupStartEnd")) {
      expect(target.backup_start).toBeUndefined();
      expect(target.backup_end).toBeUndefined();
      return;
    }
    expect(target.backup_start).toMatch(RFC3339);
    expect(target.backup_end).toMatch(RFC3339);
    const start = Date.parse(target.backup_start as string);
    const end = Date.parse(target.backup_end as string);
    expect(start).toBeGreaterThanOrEqual(before - 1_000);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end).toBeLessThanOrEqual(Date.now());
  });

  it("a skipped unchanged backup: restic 0.18.0's negative duration and year-1 end are not recorded, the step log says so", async (ctx) => {
    requireRestic(ctx, "skipIfUnchanged");
    // restic compares the source's parent directories too: below /tmp nothing is ever unchanged.
    quiet = fs.mkdtempSync("/holdfast-test-summary-");
    const { cfg } = setup("skip", tree(path.join(quiet, "src")));
    expectExit(await cfg.run(["run", "unchanged"]), 0);
    const result = await cfg.run(["run", "unchanged", "--json"]);
    expectExit(result, 0);
    const run = parseJson(result);
    const target = (run.steps[0] as Step).targets[0]!;
    expect(target).toMatchObject({ status: "succeeded", skipped_unchanged: true });
    expect(target.restic_duration_ms).toBeUndefined();
    expect(target.backup_end).toBeUndefined();
    if (resticUnderTest.has("backupStartEnd")) expect(target.backup_start).toMatch(RFC3339);
    expect(JSON.stringify(run)).not.toContain("0001-01-01");
    expect(JSON.stringify(run)).not.toContain("-9223372036");
    const logs = await cfg.run(["logs", run.id, "--step", "b"]);
    expectExit(logs, 0);
    expect(logs.stdout).toContain(
      `[r] restic's summary has an impossible backup_end "0001-01-01T00:00:00Z" (year 1); not recorded`,
    );
    expect(logs.stdout).toContain(
      "[r] restic's summary has an impossible total_duration -9223372036.854776 (negative); not recorded",
    );
  });
});

describe("check of a repository with one damaged pack", () => {
  it("one error exactly; on 0.18 the pack by id and restic's repair command in the hint", async () => {
    const { cfg, repo } = setup("check", tree(path.join(root, "check-src")));
    expectExit(await cfg.run(["run", "backup"]), 0);
    // The same damage the fixture recorder makes: 19 bytes of the biggest data pack overwritten.
    const packs = fs
      .readdirSync(path.join(repo, "data"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    const pack = packs[0]!;
    const fd = fs.openSync(pack, "r+");
    fs.writeSync(fd, Buffer.from("holdfast-corruption"), 0, 19, 4096);
    fs.closeSync(fd);
    const packId = path.basename(pack);

    const result = await cfg.run(["run", "check", "--json"]);
    expectExit(result, 1);
    const run = parseJson(result);
    const step = run.steps[0] as Step;
    expect(step.status).toBe("failed");
    const target = step.targets[0]!;
    const error = target.error as { kind: string; message: string; hint: string };
    expect(error.kind).toBe("repository_damaged");
    expect(error.message).toMatch(/^repository contains errors: /);
    // restic 0.18 follows the error with its advice paragraph: not counted.
    expect(target.errors).toBe(1);
    if (resticUnderTest.has("checkJson")) {
      expect(target.broken_packs).toEqual([packId]);
      expect(error.hint).toContain(`\`restic repair packs ${packId}\``);
      expect(error.hint).toContain("`restic repair snapshots --forget`");
      const logs = await cfg.run(["logs", run.id, "--step", "c"]);
      expect(logs.stdout).toContain(`[r] check: 1 error; damaged packs: ${packId}`);
      expect(logs.stdout).not.toContain('{"message_type"');
    } else {
      // 0.14 has no check --json and no `repair packs`: the pack is named in the message.
      expect(target.broken_packs).toBeUndefined();
      expect(error.message).toContain(packId);
      expect(error.hint).toMatch(/Do not prune until this is fixed/);
    }
  });
});
