// skip_if_unchanged (restic 0.17+ `backup --skip-if-unchanged`), through `holdfast run` with real
// restic. On restic 0.14 the option is a config error (exit 2, with the position and a hint) in
// `config validate` and before a run; on 0.18 an unchanged source makes no snapshot, the step
// succeeds with skipped_unchanged, the forget after it still thins, and the metrics keep the
// repository at its existing snapshot. `extra_args: [--skip-if-unchanged]` is the same option.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
  writeSampleTree,
} from "../helpers/restic-backends.js";
import { requireRestic, resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let cfg: TestConfig;
let local: { repo: string; passwordFile: string };
let src: string;
let other: string;

type Target = Record<string, unknown> & { repo: string; status: string };
type Step = { name: string; status: string; targets: Target[] };
const stepOf = (run: { steps: Step[] }, name: string) => run.steps.find((s) => s.name === name) as Step;

let quiet: string | null = null;

beforeAll(() => {
  root = makeSharedDir("holdfast-skip-unchanged-");
  // restic compares the whole tree, the parent directories of the source paths included (their
  // mtime): a source below /tmp is never "unchanged" while other tests create files there. The
  // sources live in a directory of their own at the top, whose only parent is "/", and only in the
  // pass that backs them up.
  quiet = resticUnderTest.has("skipIfUnchanged") ? fs.mkdtempSync("/holdfast-test-unchanged-") : null;
  const base = quiet ?? path.join(root, "not-backed-up");
  src = path.join(base, "src");
  other = path.join(base, "other");
  if (quiet) {
    writeSampleTree(src);
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, "x.txt"), "other source\n");
  }
  local = { repo: path.join(root, "local"), passwordFile: writePassword(path.join(root, "pw"), "skip-pw") };
  resticInit(local);
  cfg = writeTestConfig(root, {
    repositories: { local: { url: local.repo, password_file: local.passwordFile } },
    sources: { home: { paths: [src] }, other: { paths: [other] } },
    metrics: { textfile: path.join(root, "holdfast.prom") },
    jobs: {
      nightly: {
        steps: [
          { name: "home", type: "backup", source: "home", repos: ["local"], skip_if_unchanged: true },
          { name: "retention", type: "forget", repos: ["local"], keep: { last: 1 } },
        ],
      },
      flagged: {
        steps: [
          {
            name: "other",
            type: "backup",
            source: "other",
            repos: ["local"],
            extra_args: ["--skip-if-unchanged"],
          },
        ],
      },
    },
  });
});

afterAll(() => {
  removeDir(root);
  if (quiet) removeDir(quiet);
});

describe(`skip_if_unchanged under ${resticUnderTest.label}`, () => {
  it("restic older than 0.17: config validate and run refuse it with exit 2, where it is written and a hint", async (ctx) => {
    if (resticUnderTest.has("skipIfUnchanged")) ctx.skip("this restic has --skip-if-unchanged");
    const validate = await cfg.run(["config", "validate"]);
    expectExit(validate, 2);
    const lines = validate.stderr;
    expect(lines).toMatch(
      /holdfast\.yaml:\d+:\d+ +jobs\.nightly\.steps\[0\]\.skip_if_unchanged +skip_if_unchanged \(restic --skip-if-unchanged\) needs restic 0\.17 or newer; the configured restic is 0\.14\.0 \(upgrade restic to 0\.17\+/,
    );
    expect(lines).toMatch(/jobs\.flagged\.steps\[0\]\.extra_args\[0\] +extra_args --skip-if-unchanged/);
    expect(lines).not.toMatch(/at .*\.js:\d+/); // no stack trace

    const asJson = await cfg.run(["config", "validate", "--json"]);
    expectExit(asJson, 2);
    expect(parseJson(asJson).problems).toHaveLength(2);

    // A run refuses it before anything starts: no restic backup, no snapshot, no history record.
    const run = await cfg.run(["run", "nightly"]);
    expectExit(run, 2);
    expect(run.stderr).toContain("skip_if_unchanged (restic --skip-if-unchanged) needs restic 0.17");
    expect(resticSnapshots(local)).toHaveLength(0);
    // A run of the job's other steps (no skip_if_unchanged among them) is not refused.
    expectExit(await cfg.run(["run", "nightly", "--step", "retention"]), 0);
  });

  it("an unchanged source: succeeded, skipped_unchanged, no new snapshot; forget still thins; metrics stay at the existing snapshot", async (ctx) => {
    requireRestic(ctx, "skipIfUnchanged");
    expectExit(await cfg.run(["config", "validate"]), 0);

    const first = parseJson(await cfg.run(["run", "nightly", "--json"]));
    const made1 = stepOf(first, "home").targets[0] as Target;
    expect(made1).toMatchObject({ status: "succeeded" });
    expect(made1.skipped_unchanged).toBeUndefined();
    fs.writeFileSync(path.join(src, "second.txt"), "a change\n");
    const second = parseJson(await cfg.run(["run", "nightly", "--json"]));
    const made2 = stepOf(second, "home").targets[0] as Target;
    expect(made2.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    // keep last 1 removed the first snapshot; a backup alone (no forget) leaves two for the next
    // forget to thin.
    fs.writeFileSync(path.join(src, "third.txt"), "another change\n");
    const third = await cfg.run(["run", "nightly", "--step", "home", "--json"]);
    expectExit(third, 0);
    const made3 = stepOf(parseJson(third), "home").targets[0] as Target;
    expect(resticSnapshots(local).map((s) => s.id)).toEqual([made2.snapshot_id, made3.snapshot_id]);

    // Nothing changed since made3.
    const unchanged = await cfg.run(["run", "nightly", "--json"]);
    expectExit(unchanged, 0);
    const run = parseJson(unchanged);
    expect(run.status).toBe("succeeded");
    const home = stepOf(run, "home");
    expect(home.status).toBe("succeeded");
    const target = home.targets[0] as Target;
    expect(target).toMatchObject({
      status: "succeeded",
      error: null,
      skipped_unchanged: true,
      snapshot_new: false,
      snapshot_id: made3.snapshot_id,
      short_id: (made3.snapshot_id as string).slice(0, 8),
      files_new: 0,
      files_changed: 0,
    });
    // restic 0.18.0 reports total_duration -9223372036.85 here: not recorded.
    expect(target.restic_duration_ms).toBeUndefined();
    // The forget after it ran and thinned (no "backup failed" warning): made2 went, made3 stays.
    const retention = stepOf(run, "retention");
    expect(retention.status).toBe("succeeded");
    expect(retention.targets[0]).toMatchObject({ status: "succeeded", snapshots_removed: 1 });
    expect(unchanged.stderr).not.toContain("not forgetting");
    expect(resticSnapshots(local).map((s) => s.id)).toEqual([made3.snapshot_id]);

    // Metrics: the repository is still at made3's snapshot time, not gone.
    const made3Time = resticSnapshots(local)[0]!.time;
    const metrics = await cfg.run(["metrics"]);
    expectExit(metrics, 0);
    const series = (name: string) =>
      metrics.stdout.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes('repo="local"'));
    const latest = series("holdfast_repository_latest_snapshot_timestamp_seconds");
    const last = series("holdfast_backup_last_snapshot_timestamp_seconds");
    for (const line of [latest, last]) {
      expect(line).toBeDefined();
      expect(Number(line!.split(" ").at(-1))).toBeCloseTo(Date.parse(made3Time) / 1000, 0);
    }
  });

  it("extra_args: [--skip-if-unchanged] is the same option", async (ctx) => {
    requireRestic(ctx, "skipIfUnchanged");
    expectExit(await cfg.run(["run", "flagged"]), 0);
    const again = await cfg.run(["run", "flagged", "--json"]);
    expectExit(again, 0);
    const target = stepOf(parseJson(again), "other").targets[0] as Target;
    expect(target).toMatchObject({ status: "succeeded", skipped_unchanged: true });
    expect(target.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    const dry = await cfg.run(["run", "flagged", "--dry-run"]);
    // Passed once, as holdfast's own flag.
    expect(dry.stdout.match(/--skip-if-unchanged/g)).toHaveLength(1);
  });
});
