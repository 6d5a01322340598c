// Repository damage in restic's output, as recorded here (2026-12) on a real local repository with its
// index or its biggest data pack deleted (the end-to-end half is test/restic/repository-damage.test.ts).
import { describe, expect, it } from "vitest";
import { classifyResticFailure } from "./errors.js";
import { parseResticVersion } from "./version.js";

const v014 = parseResticVersion("restic 0.14.0 compiled with go1.19.8 on linux/amd64");
const v018 = parseResticVersion("restic 0.18.0 compiled with go1.24.4 on linux/amd64");

describe("repository damage", () => {
  it("0.14 backup without its index: an empty error on / (exit 3) is damage, not an unreadable /", () => {
    const e = classifyResticFailure({
      command: "backup",
      exitCode: 3,
      signal: null,
      version: v014,
      repo: "r",
      stderrLines: [
        '{"message_type":"error","error":{},"during":"archival","item":"/"}',
        "Warning: at least one source file could not be read",
      ],
    });
    expect(e.kind).toBe("repository_damaged");
    expect(e.message).toMatch(/^repository r is damaged: the index is probably missing/);
  });

  it("0.18 backup without its index: `is not known; the repository could be damaged`", () => {
    const e = classifyResticFailure({
      command: "backup",
      exitCode: 3,
      signal: null,
      version: v018,
      repo: "r",
      stderrLines: [
        '{"message_type":"error","error":{"message":"/: tree 312f2d30190a014c17187bd4eb0a1b0221b5d25227039e86dd22ac52f0428e2b is not known; the repository could be damaged, run `repair index` to try to repair it"},"during":"archival","item":"/"}',
        '{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}',
      ],
    });
    expect(e.kind).toBe("repository_damaged");
    expect(e.hint).toMatch(/check/);
  });

  it("a pack that is gone (0.14 retries, 0.18 fails) is damage, not a network retry", () => {
    for (const [version, line] of [
      [
        v014,
        "Load(<data/b18c5a54b4>, 2502100, 0) returned error, retrying after 552.330144ms: open dmg/data/b1/b18c5a54b49e: no such file or directory",
      ],
      [
        v018,
        "Load(<data/f09a40a70d>, 2502100, 0) failed: open dmg/data/f0/f09a40a70dec: no such file or directory",
      ],
    ] as const) {
      const e = classifyResticFailure({
        command: "restore",
        exitCode: 1,
        signal: null,
        version,
        repo: "r",
        stderrLines: [line],
      });
      expect(e.kind).toBe("repository_damaged");
    }
  });

  it("a real unreadable file or a backend that is down stays what it is", () => {
    const partial = classifyResticFailure({
      command: "backup",
      exitCode: 3,
      signal: null,
      version: v014,
      stderrLines: ['{"message_type":"error","error":{},"during":"archival","item":"src/locked"}'],
    });
    expect(partial.kind).toBe("partial");
    const network = classifyResticFailure({
      command: "restore",
      exitCode: 1,
      signal: null,
      version: v014,
      stderrLines: [
        "Load(<data/b18c5a54b4>, 0, 0) returned error, retrying after 1s: Get http://127.0.0.1:1/data/b1: dial tcp 127.0.0.1:1: connect: connection refused",
      ],
    });
    expect(network.kind).toBe("network");
  });
});
