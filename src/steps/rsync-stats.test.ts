import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createRsyncCollector, judgeRsyncExit, parseRsyncNumber } from "./rsync-stats.js";
import { buildRsyncArgs, quoteForRsyncRsh, splitRemote } from "./mirror.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/rsync");

/** Replays a recorded rsync run (test/fixtures/rsync/record.sh) through the collector. */
function replay(name: string) {
  const read = (ext: string) => fs.readFileSync(path.join(FIXTURES, `3.5.0-${name}.${ext}`), "utf8");
  const collector = createRsyncCollector();
  for (const line of read("stdout").split("\n")) collector.push(line, "stdout");
  for (const line of read("stderr").split("\n")) if (line) collector.push(line, "stderr");
  return { collector, code: Number(read("code").trim()) };
}

describe("rsync 3.5.0 --stats", () => {
  it("reads a first run with deletions", () => {
    const { collector, code } = replay("first-delete");
    expect(code).toBe(0);
    expect(collector.stats()).toEqual({
      files_total: 9,
      files_regular: 6,
      dirs_total: 2,
      files_created: 8,
      files_deleted: 3,
      files_transferred: 6,
      bytes_total: 15004,
      bytes_transferred: 15002,
      bytes_literal: 15002,
      bytes_sent: 15463,
      bytes_received: 174,
    });
    expect(judgeRsyncExit(code, collector, null).status).toBe("succeeded");
  });

  it("reads numbers with thousands separators (rsync's default without --no-h)", () => {
    const { collector } = replay("one-changed");
    expect(collector.stats()).toMatchObject({
      files_transferred: 1,
      bytes_total: 15012,
      bytes_transferred: 2008,
      bytes_sent: 2248,
    });
  });

  it("reports an unchanged tree as nothing transferred", () => {
    const { collector } = replay("unchanged");
    expect(collector.stats()).toMatchObject({
      files_total: 9,
      files_transferred: 0,
      files_deleted: 0,
      bytes_transferred: 0,
    });
  });

  it("makes code 24 (vanished files) a warning naming the files", () => {
    const { collector, code } = replay("vanished");
    expect(code).toBe(24);
    const verdict = judgeRsyncExit(code, collector, null);
    expect(verdict).toMatchObject({ status: "warning", kind: "partial" });
    expect(verdict.message).toContain("some files vanished before they could be transferred");
    expect(verdict.message).toContain("/tmp/T/v/src/z-small");
  });

  it("fails code 23 when nothing was transferred (a missing source)", () => {
    const { collector, code } = replay("missing-source");
    expect(code).toBe(23);
    const verdict = judgeRsyncExit(code, collector, null);
    expect(verdict.status).toBe("failed");
    expect(verdict.message).toContain('change_dir "/nonexistent-holdfast-src" failed');
  });

  it("makes code 23 with files seen a partial-transfer warning", () => {
    const collector = createRsyncCollector();
    collector.push("Number of files: 5 (reg: 4, dir: 1)", "stdout");
    collector.push('rsync: [sender] send_files failed to open "/s/secret": Permission denied (13)', "stderr");
    const verdict = judgeRsyncExit(23, collector, null);
    expect(verdict).toMatchObject({ status: "warning", kind: "partial" });
    expect(verdict.message).toContain("Permission denied");
  });

  it("reports an unreachable host as a network failure with ssh's reason", () => {
    for (const [name, reason] of [
      ["unresolvable-host", "Could not resolve hostname nosuchhost.invalid"],
      ["connection-refused", "Connection refused"],
    ] as const) {
      const { collector, code } = replay(name);
      const verdict = judgeRsyncExit(code, collector, "nosuchhost.invalid");
      expect(verdict).toMatchObject({ status: "failed", kind: "network" });
      expect(verdict.message).toContain("cannot reach nosuchhost.invalid");
      expect(verdict.message).toContain(reason);
      expect(verdict.hint).toContain("ssh");
    }
  });

  it("fails other codes with rsync's meaning of the code", () => {
    const io = replay("bad-destination");
    expect(judgeRsyncExit(io.code, io.collector, null)).toMatchObject({
      status: "failed",
      kind: "exit_code",
      message: expect.stringContaining("code 11 (error in file I/O)"),
    });
    const usage = replay("bad-option");
    const verdict = judgeRsyncExit(usage.code, usage.collector, null);
    expect(verdict.message).toContain("syntax or usage error");
    expect(verdict.message).toContain("--no-such-option: unknown option");
  });

  it("counts deleting lines when rsync does not print the deleted count", () => {
    const collector = createRsyncCollector();
    for (const l of ["deleting a", "deleting b/", "Number of files: 3 (reg: 2, dir: 1)"])
      collector.push(l, "stdout");
    expect(collector.stats().files_deleted).toBe(2);
  });

  it("parses rsync's number forms", () => {
    expect(parseRsyncNumber("15,002")).toBe(15002);
    expect(parseRsyncNumber("1.50K")).toBe(1500);
    expect(parseRsyncNumber("2M")).toBe(2_000_000);
    expect(parseRsyncNumber("x")).toBeNull();
  });
});

describe("mirror arguments", () => {
  it("splits host:path and leaves local paths alone", () => {
    expect(splitRemote("sig@nas:/backups/logseq/")).toEqual({ host: "sig@nas", path: "/backups/logseq/" });
    expect(splitRemote("/data/a:b")).toBeNull();
  });

  it("quotes ssh_command for rsync's own -e splitting", () => {
    expect(quoteForRsyncRsh(["ssh", "-p", "2222", "-i", "/k/my key", "-o", "X=it's"])).toBe(
      "ssh -p 2222 -i '/k/my key' -o 'X=it''s'",
    );
  });

  it("puts the statistics flags after the user's arguments and the paths after --", () => {
    const args = buildRsyncArgs({
      from: "/a/",
      to: "h:/b/",
      delete: true,
      exclude: ["*.tmp"],
      rsync_args: ["-h"],
      ssh_command: undefined,
    });
    expect(args.indexOf("--no-human-readable")).toBeGreaterThan(args.indexOf("-h"));
    expect(args).toContain("--delete");
    expect(args).toContain("--exclude=*.tmp");
    expect(args[args.indexOf("-e") + 1]).toBe("ssh -o BatchMode=yes -o ConnectTimeout=30");
    expect(args.slice(-3)).toEqual(["--", "/a/", "h:/b/"]);
  });
});
