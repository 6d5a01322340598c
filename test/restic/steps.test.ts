// The restic step types through `holdfast run`: one backup step into a local and a REST repository
// (two sub-results whose snapshot ids restic itself confirms), then copy, forget (with prune) and
// check, and the dry-run plan.
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
  startRestServer,
  writePassword,
  writeSampleTree,
  type RestServer,
} from "../helpers/restic-backends.js";

let root: string;
let rest: RestServer;
let cfg: TestConfig;
let local: { repo: string; passwordFile: string };
let remote: { repo: string; passwordFile: string };
let copyTarget: { repo: string; passwordFile: string };
let src: string;

beforeAll(async () => {
  root = makeSharedDir("holdfast-steps-");
  rest = await startRestServer(root);
  src = path.join(root, "src");
  writeSampleTree(src);
  const other = path.join(root, "other");
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, "x.txt"), "other source\n");
  local = {
    repo: path.join(root, "local"),
    passwordFile: writePassword(path.join(root, "local.pass"), "local-pw-1"),
  };
  remote = {
    repo: `${rest.base}remote`,
    passwordFile: writePassword(path.join(root, "remote.pass"), "remote-pw-2"),
  };
  copyTarget = {
    repo: path.join(root, "copy"),
    passwordFile: writePassword(path.join(root, "copy.pass"), "copy-pw-3"),
  };
  resticInit(local);
  resticInit(remote);
  resticInit(copyTarget);
  cfg = writeTestConfig(root, {
    repositories: {
      local: { url: local.repo, password_file: local.passwordFile },
      remote: { url: remote.repo, password_file: remote.passwordFile },
      copy: { url: copyTarget.repo, password_file: copyTarget.passwordFile },
    },
    sources: { home: { paths: [src], exclude: ["*.tmp"] }, other: { paths: [other] } },
    jobs: {
      nightly: {
        steps: [
          { name: "both", type: "backup", source: "home", repos: ["local", "remote"], tags: ["nightly"] },
          { name: "other", type: "backup", source: "other", repos: ["local"] },
          { name: "offsite", type: "copy", from: "local", to: ["copy"] },
          { name: "retention", type: "forget", repos: ["local", "remote"], keep: { last: 1 }, prune: true },
          { name: "integrity", type: "check", repos: ["local", "remote"], read_data_subset: "50%" },
        ],
      },
    },
  });
});

afterAll(async () => {
  await rest?.stop();
  removeDir(root);
});

describe("restic steps", () => {
  it("one backup step to a local and a REST repository: two sub-results that restic confirms; then copy, forget, check", async () => {
    fs.writeFileSync(path.join(src, "skip.tmp"), "excluded");
    const first = await cfg.run(["run", "--json"]);
    expectExit(first, 0);
    const run = parseJson(first);
    const both = run.steps.find((s: { name: string }) => s.name === "both");
    expect(both.status).toBe("succeeded");
    expect(both.targets).toHaveLength(2);
    const byRepo = Object.fromEntries(both.targets.map((t: { repo: string }) => [t.repo, t]));
    for (const [name, target] of [
      ["local", local],
      ["remote", remote],
    ] as const) {
      const t = byRepo[name];
      expect(t).toMatchObject({ status: "succeeded", error: null, files_new: 5, total_files_processed: 5 });
      expect(t.data_added).toBeGreaterThan(200_000);
      expect(t.duration_ms).toBeGreaterThan(0);
      const snaps = resticSnapshots(target).filter((s) => s.tags?.includes("source:home"));
      expect(snaps).toHaveLength(1);
      expect(snaps[0]!.id.startsWith(t.snapshot_id)).toBe(true);
      expect(snaps[0]!.tags).toEqual(
        expect.arrayContaining(["holdfast", "source:home", "job:nightly", "nightly"]),
      );
      expect(snaps[0]!.hostname).toBe("testhost");
    }
    // copy: the latest snapshot of each source of the job, into the copy repository.
    const offsite = run.steps.find((s: { name: string }) => s.name === "offsite");
    expect(offsite.targets[0]).toMatchObject({ repo: "copy", status: "succeeded", snapshots_copied: 2 });
    expect(resticSnapshots(copyTarget)).toHaveLength(2);
    const integrity = run.steps.find((s: { name: string }) => s.name === "integrity");
    expect(integrity.targets.map((t: { status: string; errors: number }) => [t.status, t.errors])).toEqual([
      ["succeeded", 0],
      ["succeeded", 0],
    ]);

    // A second run: forget keeps the last snapshot per source and host, copy skips what it has.
    fs.writeFileSync(path.join(src, "new.txt"), "second run\n");
    const second = await cfg.run(["run", "--json"]);
    expectExit(second, 0);
    const run2 = parseJson(second);
    const retention = run2.steps.find((s: { name: string }) => s.name === "retention");
    const localForget = retention.targets.find((t: { repo: string }) => t.repo === "local");
    expect(localForget).toMatchObject({
      status: "succeeded",
      snapshots_removed: 2,
      snapshots_kept: 2,
      pruned: true,
    });
    expect(resticSnapshots(local)).toHaveLength(2);
    expect(resticSnapshots(remote)).toHaveLength(1);
    const copy2 = run2.steps.find((s: { name: string }) => s.name === "offsite");
    expect(copy2.targets[0]).toMatchObject({ snapshots_copied: 2 });
  });

  it("--dry-run prints the exact restic commands without secrets", async () => {
    const dry = await cfg.run(["run", "--dry-run", "--json"]);
    expectExit(dry, 0);
    const plan = parseJson(dry);
    const both = plan.steps.find((s: { name: string }) => s.name === "both");
    expect(both.commands.join("\n")).toContain(
      "backup --json --host testhost --tag holdfast --tag source:home --tag job:nightly",
    );
    expect(both.commands.join("\n")).toContain(`RESTIC_PASSWORD_FILE=${local.passwordFile}`);
    expect(dry.stdout).not.toContain("local-pw-1");
    expect(dry.stdout).not.toContain("remote-pw-2");
  });
});
