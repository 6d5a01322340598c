// The 3-2-1 count of the redundancy matrix counts media, not repositories: a repository on the
// source's own filesystem is a copy but not a second medium, two repositories on one disk or one
// REST server are one medium. Real filesystems: the temp dir and /dev/shm (tmpfs) are two devices.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { mediumOfRepository } from "../../src/server/media.js";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { makeTempDir } from "../helpers/tmp.js";
import { recordRun } from "./fixture.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function otherFilesystemDir(): string {
  const dir = fs.mkdtempSync(path.join("/dev/shm", "holdfast-media-"));
  dirs.push(dir);
  return dir;
}

describe("mediumOfRepository", () => {
  it("names a local repository by its filesystem, even before it exists", () => {
    const dir = makeTempDir("holdfast-media-");
    const shm = otherFilesystemDir();
    // The precondition of this test: two devices.
    expect(fs.statSync(dir).dev).not.toBe(fs.statSync(shm).dev);
    const a = mediumOfRepository({ name: "a", url: path.join(dir, "repo-a") });
    expect(a).toBe(`dev:${fs.statSync(dir).dev}`);
    expect(mediumOfRepository({ name: "b", url: `local:${path.join(dir, "not", "made", "yet")}` })).toBe(a);
    expect(mediumOfRepository({ name: "c", url: path.join(shm, "repo") })).toBe(
      `dev:${fs.statSync(shm).dev}`,
    );
  });

  it("names a remote repository by its host or bucket, never by credentials or path", () => {
    const m = (url: string) => mediumOfRepository({ name: "r", url });
    expect(m("rest:http://user:secret@127.0.0.1:8000/one")).toBe(m("rest:https://127.0.0.1:9000/two"));
    expect(m("rest:http://user:secret@127.0.0.1:8000/one")).toBe("host:127.0.0.1");
    expect(m("sftp:backup@nas.example:/srv/restic")).toBe("host:nas.example");
    expect(m("sftp://backup@NAS.example:2222//srv/restic")).toBe("host:nas.example");
    expect(m("s3:https://s3.us-west-004.backblazeb2.com/sig-backups/restic")).toBe(
      "s3:s3.us-west-004.backblazeb2.com/sig-backups",
    );
    expect(m("s3:s3.amazonaws.com/bucket-a/x")).not.toBe(m("s3:s3.amazonaws.com/bucket-b/x"));
    expect(m("b2:bucket:path/a")).toBe(m("b2:bucket:path/b"));
    expect(m("rclone:gdrive:restic")).toBe("rclone:gdrive");
    // A URL kept in a file (it may hold credentials) is not read: a medium of its own.
    expect(mediumOfRepository({ name: "hidden" })).toBe("repo:hidden");
  });
});

describe("the redundancy matrix counts media", () => {
  async function matrix(repoUrls: Record<string, string>, sourceDir: string) {
    const repos = Object.entries(repoUrls)
      .map(([name, url]) => `  ${name}:\n    url: ${url}\n    password_file: ${sourceDir}/../pw\n`)
      .join("");
    const names = Object.keys(repoUrls);
    const yaml = `version: 1
state_dir: ${sourceDir}/../state
repositories:
${repos}sources:
  home:
    paths: [${sourceDir}]
jobs:
  nightly:
    steps:
      - { name: home, type: backup, source: home, repos: [${names.join(", ")}] }
`;
    const config = parseConfigText(yaml, path.join(sourceDir, "..", "holdfast.yaml"), {});
    const store = createMemoryStore();
    const now = new Date("2026-12-03T12:00:00Z");
    await recordRun(store, {
      id: "01JMEDIA000000000000000000",
      job: "nightly",
      startedAt: new Date(now.getTime() - 3_600_000),
      status: "succeeded",
      steps: [
        {
          name: "home",
          type: "backup",
          status: "succeeded",
          patch: {
            targets: names.map((repo) => ({
              repo,
              status: "succeeded" as const,
              duration_ms: 1,
              error: null,
              snapshot_id: `${repo}0000000`,
            })),
          },
        },
      ],
    });
    const m = await computeRedundancy(config, store, now);
    await store.close();
    return m.sources.find((s) => s.source === "home")!;
  }

  it("two repositories on the source's disk are three copies on one medium: at risk, and said why", async () => {
    const root = makeTempDir("holdfast-media-");
    const home = path.join(root, "home");
    fs.mkdirSync(home);
    const row = await matrix({ local: path.join(root, "repo-a"), usb: path.join(root, "repo-b") }, home);
    expect(row.copies).toBe(3);
    expect(row.media).toBe(1);
    expect(row.verdict).toBe("at_risk");
    expect(row.cells.map((c) => [c.repo, c.same_medium_as_source])).toEqual([
      ["local", true],
      ["usb", true],
    ]);
    expect(row.problems).toContain(
      "local, usb are on the source's own filesystem: one medium in all; 3-2-1 needs 2 media",
    );
  });

  it("a repository on another filesystem is a second medium; two REST repositories on one server are one", async () => {
    const root = makeTempDir("holdfast-media-");
    const home = path.join(root, "home");
    fs.mkdirSync(home);
    const shm = otherFilesystemDir();
    const row = await matrix(
      {
        local: path.join(root, "repo"),
        usb: path.join(shm, "repo"),
        rest1: "rest:http://127.0.0.1:8000/one",
        rest2: "rest:http://127.0.0.1:8000/two",
      },
      home,
    );
    expect(row.copies).toBe(5);
    // The source's disk (with `local`), /dev/shm, the REST host.
    expect(row.media).toBe(3);
    expect(row.cells.find((c) => c.repo === "usb")?.same_medium_as_source).toBe(false);
    expect(row.problems.some((p) => p.includes("media"))).toBe(false);
  });
});
