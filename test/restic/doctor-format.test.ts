// `holdfast doctor` shows each repository's format (restic `cat config` → version) and the restic
// that made its latest snapshot (program_version, written by restic 0.16+), and warns for a
// format-1 repository (no compression). The repositories are real ones made by restic 0.14
// (`init --repository-version 1` and `2`, snapshots without program_version) and by restic 0.18
// (format 2, program_version "restic 0.18.0"); doctor runs with the restic of this pass.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { makeSharedDir, removeDir, writePassword, writeSampleTree } from "../helpers/restic-backends.js";
import { RESTIC_018_BIN_DIR } from "../helpers/restic-projects.js";
import { resticUnderTest } from "../helpers/restic-version.js";

/** The two restic builds that make the repositories, whatever the restic of this pass. */
const MAKERS = { "0.14": "/usr/bin/restic", "0.18": path.join(RESTIC_018_BIN_DIR, "restic") } as const;

let root: string;
let cfg: TestConfig;

function make(maker: keyof typeof MAKERS, name: string, initArgs: string[]): Record<string, string> {
  const repo = path.join(root, name);
  const passwordFile = writePassword(path.join(root, `${name}.pw`), `pw-${name}`);
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    RESTIC_REPOSITORY: repo,
    RESTIC_PASSWORD_FILE: passwordFile,
    RESTIC_CACHE_DIR: path.join(root, "cache"),
  };
  for (const args of [
    ["init", ...initArgs],
    ["backup", "-q", path.join(root, "src")],
  ]) {
    const r = spawnSync(MAKERS[maker], args, { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`restic ${maker} ${args.join(" ")}: ${r.stderr}`);
  }
  return { url: repo, password_file: passwordFile };
}

beforeAll(() => {
  root = makeSharedDir("holdfast-doctor-format-");
  writeSampleTree(path.join(root, "src"));
  cfg = writeTestConfig(root, {
    repositories: {
      v1by014: make("0.14", "v1by014", ["--repository-version", "1"]),
      v2by014: make("0.14", "v2by014", ["--repository-version", "2"]),
      by018: make("0.18", "by018", []),
    },
    jobs: { j: { steps: [{ name: "e", type: "exec", command: ["true"] }] } },
  });
  fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
});

afterAll(() => removeDir(root));

type DoctorCheck = {
  check: string;
  status: string;
  message: string;
  hint: string | null;
  format?: number | null;
  latest_snapshot_program_version?: string | null;
};

describe(`doctor: repository format and the restic of the latest snapshot, under ${resticUnderTest.label}`, () => {
  it("format 1 is a warning with the upgrade command; format 2 is fine; program_version where restic shows it", async () => {
    const result = await cfg.run(["doctor", "--json"]);
    // The format-1 repository is a warning: doctor exits 1.
    expectExit(result, 1);
    const checks = parseJson(result).checks as DoctorCheck[];
    const of = (repo: string) => checks.filter((c) => c.check === `repository ${repo}`);

    const [v1, v1warn, ...v1rest] = of("v1by014");
    expect(v1rest).toEqual([]);
    expect(v1).toMatchObject({ status: "ok", format: 1, latest_snapshot_program_version: null });
    expect(v1?.message).toMatch(/reachable, 1 snapshot .*; repository format 1 \(uncompressed\)$/);
    expect(v1warn).toMatchObject({ status: "warning", format: 1 });
    expect(v1warn?.message).toMatch(/^repository format 1: restic stores its data uncompressed/);
    expect(v1warn?.hint).toContain("restic migrate upgrade_repo_v2");

    expect(of("v2by014")).toHaveLength(1);
    expect(of("v2by014")[0]).toMatchObject({
      status: "ok",
      format: 2,
      latest_snapshot_program_version: null,
    });
    expect(of("v2by014")[0]?.message).toMatch(/repository format 2 \(compressed\)$/);

    // restic 0.14 made it: no program_version in the snapshot, whichever restic reads it.
    expect(v1?.message).toMatch(/made by an unknown restic \(/);
    const by018 = of("by018");
    expect(by018).toHaveLength(1);
    expect(by018[0]).toMatchObject({ status: "ok", format: 2 });
    if (resticUnderTest.has("programVersion")) {
      // restic 0.16+ shows the version that made the snapshot.
      expect(by018[0]?.latest_snapshot_program_version).toBe("restic 0.18.0");
      expect(by018[0]?.message).toMatch(/made by restic 0\.18\.0; repository format 2/);
      expect(v1?.message).toMatch(/records no program_version: made by restic older than 0\.16/);
    } else {
      // restic 0.14 does not show program_version even for a snapshot 0.18 made: doctor says so.
      expect(by018[0]?.latest_snapshot_program_version).toBeNull();
      expect(by018[0]?.message).toMatch(
        /made by an unknown restic \(restic 0\.14\.0 does not show program_version; 0\.16\+ does\)/,
      );
    }
  });

  it("the text output says the same, with the hint under the warning", async () => {
    const result = await cfg.run(["doctor"]);
    expectExit(result, 1);
    expect(result.stdout).toMatch(
      /! repository v1by014: repository format 1: restic stores its data uncompressed/,
    );
    expect(result.stdout).toMatch(/→ upgrade it with `restic migrate upgrade_repo_v2`/);
    expect(result.stdout).toMatch(
      /✓ repository v2by014: reachable, 1 snapshot .*repository format 2 \(compressed\)/,
    );
  });
});
