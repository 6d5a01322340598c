// One snapshot id everywhere (issue 11): a backup, the copy of its snapshot, the restore drill
// (verify) of it and a `holdfast restore` of it name the same FULL 64-hex snapshot id — in the
// `run --json` output, in the history database (`show --json` reads it back), in the notification
// (a command notifier receives the webhook's JSON on stdin) and in `restore --json` — with a
// `short_id` beside it where a person reads it. restic 0.14 prints 8 characters from backup, copy
// and restore (0.15+ from copy and restore): holdfast resolves them.
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
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let cfg: TestConfig;
let a: { repo: string; passwordFile: string };
let b: { repo: string; passwordFile: string };
let notified: string;

type Target = Record<string, unknown> & { repo: string; status: string };
type Step = { name: string; status: string; targets: Target[] };
type Run = { id: string; status: string; steps: Step[] };
const target = (run: Run, step: string) => run.steps.find((s) => s.name === step)?.targets[0] as Target;

beforeAll(() => {
  root = makeSharedDir("holdfast-snapshot-ids-");
  const src = path.join(root, "src");
  writeSampleTree(src);
  a = { repo: path.join(root, "a"), passwordFile: writePassword(path.join(root, "a.pw"), "pw-a") };
  b = { repo: path.join(root, "b"), passwordFile: writePassword(path.join(root, "b.pw"), "pw-b") };
  resticInit(a);
  resticInit(b);
  notified = path.join(root, "notified.json");
  cfg = writeTestConfig(root, {
    repositories: {
      a: { url: a.repo, password_file: a.passwordFile },
      b: { url: b.repo, password_file: b.passwordFile },
    },
    sources: { s: { paths: [src] } },
    notifications: {
      file: { type: "command", events: ["success", "warning"], command: ["sh", "-c", `cat > '${notified}'`] },
    },
    jobs: {
      j: {
        notify: ["file"],
        steps: [
          { name: "backup", type: "backup", source: "s", repos: ["a"] },
          { name: "copy", type: "copy", from: "a", to: ["b"] },
          { name: "drill", type: "verify", source: "s", repos: ["a"], sample: "100%" },
        ],
      },
    },
  });
});

afterAll(() => removeDir(root));

describe(`one snapshot id everywhere, under ${resticUnderTest.label}`, () => {
  it("backup, copy, verify and restore of one run name the same full id (run --json, history, notification, restore --json)", async () => {
    const result = await cfg.run(["run", "j", "--json"]);
    expectExit(result, 0);
    const run = parseJson<Run>(result);
    const made = target(run, "backup");
    const id = made.snapshot_id as string;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // It is the snapshot restic has in the repository.
    expect(resticSnapshots(a).map((s) => s.id)).toEqual([id]);
    const short = id.slice(0, 8);

    const expectSame = (r: Run, where: string) => {
      for (const step of ["backup", "copy", "drill"]) {
        const t = target(r, step);
        expect(t.snapshot_id, `${where}: ${step}`).toBe(id);
        expect(t.short_id, `${where}: ${step}`).toBe(short);
      }
      expect(target(r, "copy").snapshot_ids, `${where}: copy`).toEqual([id]);
    };
    expectSame(run, "run --json");

    // The history database, read back.
    const shown = await cfg.run(["show", run.id, "--json"]);
    expectExit(shown, 0);
    expectSame(parseJson<Run>(shown), "history (show --json)");

    // The notification carries the run record.
    const message = JSON.parse(fs.readFileSync(notified, "utf8")) as { event: string; run: Run };
    expect(message.event).toBe("success");
    expectSame(message.run, "notification");

    // The copy in b is a snapshot of its own (restic gives it a new id); holdfast's record names the
    // source snapshot, the one the backup made.
    expect(resticSnapshots(b)).toHaveLength(1);

    // holdfast restore by the short id: the full one in its answer.
    const restored = await cfg.run([
      "restore",
      "a",
      short,
      "--target",
      path.join(root, "restored"),
      "--json",
    ]);
    expectExit(restored, 0);
    expect(parseJson(restored)).toMatchObject({ snapshot_id: id, short_id: short, ok: true });
  });
});
