import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { compareVersions, parseResticVersion, resticFeatures, versionAtLeast } from "./version.js";
import type { ResticFeatures } from "./version.js";

const ROOT = fileURLToPath(new URL("../../test/fixtures/restic/", import.meta.url));

const versionFixtures = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(join(ROOT, d.name))
      .filter((f) => /^version(-json)?\.stdout$/.test(f))
      .map((f) => [`${d.name}/${f}`, d.name, readFileSync(join(ROOT, d.name, f), "utf8")] as const),
  );

describe("parseResticVersion on every version fixture", () => {
  it("finds them", () => {
    expect(versionFixtures.map(([key]) => key).sort()).toEqual([
      "0.14.0/version-json.stdout",
      "0.14.0/version.stdout",
      "0.16.4/version.stdout",
      "0.17.3/version-json.stdout",
      "0.17.3/version.stdout",
      "0.18.0/version-json.stdout",
      "0.18.0/version.stdout",
      "0.18.1/version-json.stdout",
      "0.19.1/version.stdout",
    ]);
  });

  it.each(versionFixtures)("%s", (_key, folder, text) => {
    expect(parseResticVersion(text)?.text).toBe(folder);
  });

  it("0.14.0 recorded: text even with --json", () => {
    const text = readFileSync(join(ROOT, "0.14.0/version-json.stdout"), "utf8");
    expect(parseResticVersion(text)).toEqual({
      major: 0,
      minor: 14,
      patch: 0,
      suffix: null,
      build: null,
      goVersion: "go1.19.8",
      os: "linux",
      arch: "amd64",
      text: "0.14.0",
    });
  });

  it("0.18.0 recorded: text, and JSON with --json (0.17+)", () => {
    const expected = {
      major: 0,
      minor: 18,
      patch: 0,
      suffix: null,
      build: null,
      goVersion: "go1.24.4",
      os: "linux",
      arch: "amd64",
      text: "0.18.0",
    };
    expect(parseResticVersion(readFileSync(join(ROOT, "0.18.0/version.stdout"), "utf8"))).toEqual(expected);
    expect(parseResticVersion(readFileSync(join(ROOT, "0.18.0/version-json.stdout"), "utf8"))).toEqual(
      expected,
    );
  });

  it("0.17.3 --json", () => {
    const text = readFileSync(join(ROOT, "0.17.3/version-json.stdout"), "utf8");
    expect(parseResticVersion(text)).toEqual({
      major: 0,
      minor: 17,
      patch: 3,
      suffix: null,
      build: null,
      goVersion: "go1.23.3",
      os: "linux",
      arch: "amd64",
      text: "0.17.3",
    });
  });
});

describe("parseResticVersion on other builds", () => {
  it("git builds carry the describe output in parentheses", () => {
    expect(
      parseResticVersion("restic 0.17.3 (v0.17.3-12-gabc1234) compiled with go1.23.3 on linux/arm64\n"),
    ).toEqual({
      major: 0,
      minor: 17,
      patch: 3,
      suffix: null,
      build: "v0.17.3-12-gabc1234",
      goVersion: "go1.23.3",
      os: "linux",
      arch: "arm64",
      text: "0.17.3",
    });
  });

  it("dev builds keep the suffix", () => {
    expect(
      parseResticVersion("restic 0.17.3-dev (compiled manually) compiled with go1.23.1 on darwin/arm64"),
    ).toMatchObject({
      minor: 17,
      patch: 3,
      suffix: "dev",
      build: "compiled manually",
      os: "darwin",
      text: "0.17.3-dev",
    });
    expect(parseResticVersion("restic 0.16.0-rc1 compiled with go1.20.6 on linux/amd64")?.suffix).toBe("rc1");
  });

  it("skips lines before the version, tolerates a missing build line and a leading v", () => {
    expect(
      parseResticVersion("some warning\nrestic 0.15.2 compiled with go1.20.3 on windows/amd64\r\n")?.text,
    ).toBe("0.15.2");
    expect(parseResticVersion("restic v0.18.1")).toMatchObject({
      text: "0.18.1",
      goVersion: null,
      os: null,
      arch: null,
    });
  });

  it("returns null for anything else", () => {
    expect(parseResticVersion("")).toBeNull();
    expect(parseResticVersion("rustic 0.9.0")).toBeNull();
    expect(parseResticVersion("restic: command not found")).toBeNull();
    expect(parseResticVersion('{"message_type":"version"}')).toBeNull();
    expect(parseResticVersion('{"message_type":"version","version":"latest"}')).toBeNull();
    expect(parseResticVersion("{broken")).toBeNull();
  });
});

describe("versionAtLeast and compareVersions", () => {
  const v = (t: string) => parseResticVersion(`restic ${t} compiled with go1.22 on linux/amd64`);

  it("compares major.minor.patch numerically", () => {
    expect(versionAtLeast(v("0.17.1"), "0.17.1")).toBe(true);
    expect(versionAtLeast(v("0.17.0"), "0.17.1")).toBe(false);
    expect(versionAtLeast(v("0.17.10"), "0.17.9")).toBe(true);
    expect(versionAtLeast(v("1.0.0"), "0.19")).toBe(true);
    expect(versionAtLeast(v("0.9.6"), "0.14.0")).toBe(false);
    expect(versionAtLeast(null, "0.14.0")).toBe(false);
    expect(compareVersions("0.14.0", "0.14.0")).toBe(0);
    expect(compareVersions("0.14.0", "0.16.1")).toBeLessThan(0);
    expect(() => compareVersions("x", "0.1.0")).toThrow(/not a version/);
  });

  it("a -dev build has its base release's features (restic bumps VERSION to X-dev after releasing X)", () => {
    expect(versionAtLeast(v("0.17.1-dev"), "0.17.1")).toBe(true);
  });
});

describe("resticFeatures", () => {
  const features = (t: string | null) =>
    resticFeatures(t === null ? null : parseResticVersion(`restic ${t} compiled with go1.22 on linux/amd64`));
  const on = (f: ResticFeatures) =>
    Object.entries(f)
      .filter(([, value]) => value === true)
      .map(([key]) => key)
      .sort();

  it("0.14.0 and an unknown version: nothing new, 60 progress lines/s", () => {
    expect(on(features("0.14.0"))).toEqual([]);
    expect(features("0.14.0").defaultProgressFps).toBe(60);
    expect(features(null)).toEqual(features("0.14.0"));
  });

  it("0.16.0 and 0.16.1", () => {
    expect(on(features("0.16.0"))).toEqual([
      "copySkipNeedsVerbose",
      "fullSnapshotIds",
      "initJson",
      "lsUnknownIdFails",
      "restoreJson",
      "retryLock",
      "scanFinishedIsVerbose",
      "snapshotProgramVersion",
    ]);
    expect(on(features("0.16.1"))).toEqual(on(features("0.16.0")).concat(["restUserEnv", "sftpArgs"]).sort());
  });

  it("0.17.0 has exit codes 10/11 but not 12; 0.17.1 has 12 and {message} errors", () => {
    const f170 = features("0.17.0");
    expect(f170.exitCodes10to12).toBe(true);
    expect(f170.exitCode12).toBe(false);
    expect(f170.jsonErrorMessages).toBe(false);
    expect(f170.sigtermClean && f170.lsMessageType && f170.dataAddedPacked && f170.versionJson).toBe(true);
    const f171 = features("0.17.1");
    expect(f171.exitCode12 && f171.jsonErrorMessages).toBe(true);
    expect(f171.jsonExitErrors).toBe(false);
  });

  it("0.18.1 and 0.19.1", () => {
    const f18 = features("0.18.1");
    expect(f18.jsonExitErrors && f18.checkJson && f18.backupStartEnd && f18.tagJson).toBe(true);
    expect(f18.missingSourceIsPartial).toBe(false);
    expect(f18.defaultProgressFps).toBe(60);
    const f19 = features("0.19.1");
    expect(f19.missingSourceIsPartial).toBe(true);
    expect(f19.defaultProgressFps).toBe(10);
    expect(on(f19)).toHaveLength(Object.keys(f19).length - 1);
  });
});
