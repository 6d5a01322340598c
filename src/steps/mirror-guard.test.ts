// How the mirror guard reads rsync_args (which options delete, which are refused) and the remote
// count's output; the guard itself runs against real rsync and sshd in test/steps/mirror-guard.test.ts.
import { describe, expect, it } from "vitest";
import { effectiveTarget, maxDeleteLimit, parseRemoteCount, readRsyncArgs } from "./mirror-guard.js";

describe("readRsyncArgs", () => {
  it("finds deletion options as written, also passed on with --remote-option / -M", () => {
    expect(readRsyncArgs(["-v", "--delete-after"], false).deletion).toBe("--delete-after");
    expect(readRsyncArgs(["--remote-option", "--del"], false).deletion).toBe("--del");
    expect(readRsyncArgs(["--remote-option=--delete-delay"], false).deletion).toBe("--delete-delay");
    expect(readRsyncArgs(["-M--delete"], false).deletion).toBe("--delete");
    expect(readRsyncArgs(["-vM", "--delete-excluded"], false).deletion).toBe("--delete-excluded");
  });

  it("does not take an option's value for an option", () => {
    // rsync reads "--delete" here as the exclude pattern (and "-e…" as a filter rule).
    expect(readRsyncArgs(["--exclude", "--delete"], false)).toEqual({ deletion: null, problems: [] });
    expect(readRsyncArgs(["-f", "-e x"], false)).toEqual({ deletion: null, problems: [] });
    expect(readRsyncArgs(["--exclude=--delete", "-avz", "--bwlimit", "100"], false).deletion).toBeNull();
  });

  it("refuses what would undo the guard or the mirror, at its index", () => {
    const refused = (args: string[], deleting = true) =>
      readRsyncArgs(args, deleting).problems.map((p) => [p.path[1], p.message.split(" ")[0]]);
    expect(refused(["-a", "--remove-source-files"])).toEqual([[1, "--remove-source-files"]]);
    expect(refused(["--max-delete=5"])).toEqual([[0, "--max-delete"]]);
    expect(refused(["-avze", "ssh -p 2"])).toEqual([[0, "-e"]]);
    expect(refused(["--rsh=ssh"])).toEqual([[0, "--rsh"]]);
    expect(refused(["--", "/etc"])).toEqual([[0, '"--"']]);
    // --ignore-errors matters only to a mirror that deletes; rsync_args' own --delete makes it one.
    expect(refused(["--ignore-errors"], false)).toEqual([]);
    expect(refused(["--ignore-errors", "--delete"], false)).toEqual([[0, "--ignore-errors"]]);
  });
});

describe("the remote count and the limits", () => {
  it("parses the remote script's answer (wc -c may pad with spaces)", () => {
    expect(parseRemoteCount(["files       3", "entries 5", "missing /s"], ["/s", "/t"])).toEqual({
      exists: true,
      isDirectory: true,
      files: 3,
      entries: 4,
      missingSentinels: ["/s"],
    });
    expect(parseRemoteCount(["absent"], [])).toMatchObject({ exists: false });
    expect(parseRemoteCount(["garbage"], [])).toBeNull();
  });

  it("targets the directory rsync writes into and rounds a share down", () => {
    expect(effectiveTarget("/a/b/", "/m/")).toBe("/m/");
    expect(effectiveTarget("/a/b", "/m/")).toBe("/m/b");
    expect(effectiveTarget("data", "")).toBe("data");
    expect(maxDeleteLimit({ fraction: 0.1 }, 46)).toEqual({
      limit: 4,
      described: "max_delete 10% (4 of 46 entries)",
    });
    expect(maxDeleteLimit({ count: 0 }, 46).limit).toBe(0);
  });
});
