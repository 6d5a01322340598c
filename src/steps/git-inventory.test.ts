import { describe, expect, it } from "vitest";
import {
  bundleFileName,
  bundleMatches,
  countUnpushed,
  maskRemoteUrl,
  parseBundleHeader,
  parseRefs,
  parseRemoteUrls,
  parseStatusV2,
  renderInventoryText,
  type RepositoryRecord,
} from "./git-inventory.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const D = "d".repeat(40);
const E = "e".repeat(40);

describe("git status --porcelain=v2 --branch --show-stash -z (git 2.39)", () => {
  it("reads branch, upstream, counts and stashes", () => {
    const out = [
      `# branch.oid ${A}`,
      "# branch.head main",
      "# branch.upstream origin/main",
      "# branch.ab +2 -1",
      "# stash 3",
      `1 .M N... 100644 100644 100644 ${A} ${A} src/a.ts`,
      `1 A. N... 000000 100644 100644 ${"0".repeat(40)} ${B} new file.txt`,
      `2 R. N... 100644 100644 100644 ${A} ${A} R100 renamed.txt`,
      "old name.txt",
      `u UU N... 100644 100644 100644 100644 ${A} ${B} ${C} conflict.txt`,
      "? untracked.txt",
      "? untracked-dir/",
      "! ignored.log",
      "",
    ].join("\0");
    expect(parseStatusV2(out)).toEqual({
      oid: A,
      branch: "main",
      upstream: "origin/main",
      ahead: 2,
      behind: 1,
      stashes: 3,
      dirty: 4,
      untracked: 2,
    });
  });

  it("reads a fresh repository and a detached HEAD", () => {
    expect(parseStatusV2("# branch.oid (initial)\0# branch.head main\0")).toMatchObject({
      oid: null,
      branch: "main",
      stashes: 0,
    });
    expect(parseStatusV2(`# branch.oid ${A}\0# branch.head (detached)\0`)).toMatchObject({
      oid: A,
      branch: null,
    });
  });
});

describe("refs and remotes", () => {
  it("parses for-each-ref lines", () => {
    const out = ` \t${A}\trefs/heads/feature\n*\t${B}\trefs/heads/main\n \t${B}\trefs/remotes/origin/main\n`;
    expect(parseRefs(out)).toEqual([
      { ref: "refs/heads/feature", oid: A, head: false },
      { ref: "refs/heads/main", oid: B, head: true },
      { ref: "refs/remotes/origin/main", oid: B, head: false },
    ]);
  });

  it("parses remote URLs and masks credentials", () => {
    const out =
      "remote.origin.url\nhttps://sig:s3cr3t@git.example.com/x.git\0remote.gh.url\nhttps://ghp_token123@github.com/sig/x\0remote.nas.url\ngit@nas:repos/x.git\0";
    expect(parseRemoteUrls(out)).toEqual([
      { name: "origin", url: "https://sig:***@git.example.com/x.git" },
      { name: "gh", url: "https://***@github.com/sig/x" },
      { name: "nas", url: "git@nas:repos/x.git" },
    ]);
    expect(maskRemoteUrl("ssh://git@host/x")).toBe("ssh://git@host/x");
    expect(maskRemoteUrl("ssh://git:pw@host/x")).toBe("ssh://git:***@host/x");
    // A password (or token) with an unencoded "@" runs to the last "@" before the path, as git reads it.
    expect(maskRemoteUrl("https://u:p@ssw0rd-tail@host/x")).toBe("https://u:***@host/x");
    expect(maskRemoteUrl("https://tok@en-tail@github.com/x")).toBe("https://***@github.com/x");
    expect(maskRemoteUrl("/srv/git/x.git")).toBe("/srv/git/x.git");
  });
});

describe("unpushed commits", () => {
  // A is on a remote; main is A ← B ← C, feature branches off at B (D), topic is a root commit (E).
  const revList = `${C} ${B}\n${D} ${B}\n${B} ${A}\n${E}\n`;

  it("counts the total and per branch from one rev-list --parents", () => {
    const counts = countUnpushed(
      revList,
      new Map([
        ["refs/heads/main", C],
        ["refs/heads/feature", D],
        ["refs/heads/topic", E],
        ["refs/heads/pushed", A],
      ]),
    );
    expect(counts.total).toBe(4);
    expect(counts.overflow).toBe(false);
    expect(Object.fromEntries(counts.perTip)).toEqual({
      "refs/heads/main": 2,
      "refs/heads/feature": 2,
      "refs/heads/topic": 1,
    });
  });

  it("counts nothing for an empty list", () => {
    expect(countUnpushed("", new Map([["refs/heads/main", A]]))).toEqual({
      total: 0,
      perTip: new Map(),
      overflow: false,
    });
  });
});

describe("bundles", () => {
  it("names bundles readably and uniquely", () => {
    expect(bundleFileName("/home/sig/src/my repo")).toMatch(/^home_sig_src_my_repo-[0-9a-f]{8}\.bundle$/);
    expect(bundleFileName("/a/b_c")).not.toBe(bundleFileName("/a/b/c"));
    expect(bundleFileName("/")).toMatch(/^root-/);
  });

  it("reads a bundle header and compares its refs", () => {
    const head = Buffer.from(`# v2 git bundle\n${A} refs/heads/feature\n${B} HEAD\n\nPACK…`);
    const header = parseBundleHeader(head);
    expect(header).toEqual({
      version: 2,
      objectFormat: "sha1",
      prerequisites: [],
      refs: [
        { oid: A, ref: "refs/heads/feature" },
        { oid: B, ref: "HEAD" },
      ],
    });
    expect(
      bundleMatches(header, [
        { oid: B, ref: "HEAD" },
        { oid: A, ref: "refs/heads/feature" },
      ]),
    ).toBe(true);
    expect(
      bundleMatches(header, [
        { oid: C, ref: "refs/heads/feature" },
        { oid: B, ref: "HEAD" },
      ]),
    ).toBe(false);
    const thin = parseBundleHeader(
      Buffer.from(`# v3 git bundle\n@object-format=sha256\n-${C} base\n${A} refs/heads/x\n\n`),
    );
    expect(thin).toMatchObject({ version: 3, objectFormat: "sha256", prerequisites: [C] });
    expect(bundleMatches(thin, [{ oid: A, ref: "refs/heads/x" }])).toBe(false);
    expect(parseBundleHeader(Buffer.from("not a bundle\n\n"))).toBeNull();
  });
});

describe("inventory.txt", () => {
  it("marks the repositories with work that exists only here", () => {
    const base: RepositoryRecord = {
      path: "/src/clean",
      bare: false,
      branch: "main",
      head: A,
      detached: false,
      upstream: "origin/main",
      ahead: 0,
      behind: 0,
      remotes: [{ name: "origin", url: "git@h:x" }],
      dirty: 0,
      untracked: 0,
      stashes: 0,
      unpushed_commits: 0,
      unpushed_branches: [],
      bundle: null,
      error: null,
    };
    const text = renderInventoryText({
      version: 1,
      generated_at: "2026-11-26T03:00:00.000Z",
      host: "vm",
      roots: ["/src"],
      repositories: [
        base,
        {
          ...base,
          path: "/src/work",
          dirty: 2,
          unpushed_commits: 3,
          unpushed_branches: [{ branch: "feature", commits: 3 }],
          bundle: "bundles/x.bundle",
        },
      ],
    });
    expect(text).toContain("2 repositories, 1 with work that exists only here");
    expect(text).toContain("  /src/clean  [main aaaaaaaaaaaa]  clean");
    expect(text).toContain(
      "! /src/work  [main aaaaaaaaaaaa]  3 unpushed (feature 3); 2 modified; bundle bundles/x.bundle",
    );
  });
});
