// Every parser against every fixture of every version in test/fixtures/restic/<version>/ (recorded
// with restic 0.14.0, synthesized from restic's docs for newer versions), with exact expectations.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import {
  ResticParseError,
  describeResticError,
  goTimeToIso,
  parseBackupLine,
  parseCheckOutput,
  parseCopyLine,
  parseDiffLine,
  parseExitErrorLine,
  parseFindJson,
  parseForgetOutput,
  parseInitOutput,
  parseKeyListJson,
  parseLockFile,
  parseLsLine,
  parseRepoConfig,
  parseRestoreLine,
  parseSnapshotsJson,
  parseStatsJson,
  stripAnsi,
  summarizeBackupErrors,
} from "./outputs.js";
import type { BackupLine, BackupSummary, LsLine } from "./outputs.js";

// ---------------------------------------------------------------------------------------------
// Fixture loading

const ROOT = fileURLToPath(new URL("../../test/fixtures/restic/", import.meta.url));

interface Meta {
  case: string;
  restic: string;
  provenance: "recorded" | "synthesized-from-docs";
  command: string;
  exitCode: number;
  signal: string | null;
}

interface Fixture {
  key: string;
  version: string;
  name: string;
  stdout: string;
  stderr: string;
  meta: Meta;
}

function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  const versions = readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  for (const version of versions) {
    const dir = join(ROOT, version);
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith(".meta.json"))
      .sort()) {
      const name = file.slice(0, -".meta.json".length);
      out.push({
        key: `${version}/${name}`,
        version,
        name,
        stdout: readFileSync(join(dir, `${name}.stdout`), "utf8"),
        stderr: readFileSync(join(dir, `${name}.stderr`), "utf8"),
        meta: JSON.parse(readFileSync(join(dir, file), "utf8")) as Meta,
      });
    }
  }
  return out;
}

const FIXTURES = loadFixtures();
const byKey = new Map(FIXTURES.map((f) => [f.key, f]));

const used = new Set<string>();

function fx(key: string): Fixture {
  used.add(key);
  const f = byKey.get(key);
  if (!f) throw new Error(`missing fixture ${key}`);
  return f;
}

/** Lines of a captured stream, without the empty string after the final newline. */
function linesOf(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

const backupLines = (text: string): BackupLine[] => linesOf(text).map(parseBackupLine);
const ofType = <T extends BackupLine["type"]>(lines: BackupLine[], type: T) =>
  lines.filter((l): l is Extract<BackupLine, { type: T }> => l.type === type);
const summaryOf = (text: string): BackupSummary => {
  const summaries = ofType(backupLines(text), "summary");
  expect(summaries).toHaveLength(1);
  return summaries[0]!;
};

const REC = "/tmp/holdfast-restic-rec";

// ---------------------------------------------------------------------------------------------

describe("fixture set", () => {
  it("has recorded 0.14 fixtures and synthesized fixtures of newer versions", () => {
    const versions = [...new Set(FIXTURES.map((f) => f.version))];
    expect(versions).toEqual(["0.14.0", "0.16.4", "0.17.3", "0.18.1", "0.19.1"]);
    expect(
      FIXTURES.filter((f) => f.version === "0.14.0").every((f) => f.meta.provenance === "recorded"),
    ).toBe(true);
    expect(
      FIXTURES.filter((f) => f.version !== "0.14.0").every(
        (f) => f.meta.provenance === "synthesized-from-docs",
      ),
    ).toBe(true);
    expect(FIXTURES.length).toBeGreaterThanOrEqual(90);
  });

  it.each(FIXTURES.map((f) => [f.key, f] as const))("%s has a complete meta.json", (_key, f) => {
    expect(f.meta.case).toBe(f.name);
    expect(f.meta.restic).toBe(f.version);
    expect(typeof f.meta.command).toBe("string");
    expect(f.meta.command).toMatch(/restic/);
    expect(Number.isInteger(f.meta.exitCode)).toBe(true);
  });

  it("labels every version folder's provenance in its README.md", () => {
    for (const version of new Set(FIXTURES.map((f) => f.version))) {
      const readme = join(ROOT, version, "README.md");
      expect(existsSync(readme), readme).toBe(true);
      const text = readFileSync(readme, "utf8");
      const provenance = version === "0.14.0" ? "recorded" : "synthesized-from-docs";
      expect(text).toContain(provenance);
      // Every case of the folder is described.
      for (const f of FIXTURES.filter((x) => x.version === version))
        expect(text, f.key).toContain(`\`${f.name}\``);
    }
  });
});

describe("line parsers on every line of every fixture", () => {
  const allLines = FIXTURES.flatMap((f) =>
    [...linesOf(f.stdout), ...linesOf(f.stderr)].map((line) => ({ key: f.key, line })),
  );

  it("never throw, and hand back non-JSON lines as text with ANSI removed", () => {
    expect(allLines.length).toBeGreaterThan(400);
    for (const { key, line } of allLines) {
      const parsers = [parseBackupLine, parseLsLine, parseDiffLine, parseCopyLine, parseRestoreLine];
      for (const parse of parsers) {
        const result = parse(line);
        if (!line.startsWith("{") && result.type === "text") expect(result.text, key).toBe(stripAnsi(line));
      }
      const exitError = parseExitErrorLine(line);
      if (exitError) expect(line, key).toContain('"exit_error"');
    }
  });

  it("parseBackupLine gives every JSON line of backup output a known type", () => {
    for (const f of FIXTURES.filter((x) => x.name.startsWith("backup") || x.name.startsWith("rest-backup"))) {
      for (const line of [...linesOf(f.stdout), ...linesOf(f.stderr)]) {
        const parsed = parseBackupLine(line);
        if (line.startsWith("{")) expect(parsed.type, `${f.key}: ${line}`).not.toBe("text");
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("parseBackupLine", () => {
  it("0.14 backup-json: omitempty status fields default to 0, summary with a short ID", () => {
    expect(backupLines(fx("0.14.0/backup-json").stdout)).toEqual([
      {
        type: "status",
        secondsElapsed: 0,
        secondsRemaining: 0,
        percentDone: 0,
        totalFiles: 1,
        filesDone: 0,
        totalBytes: 15,
        bytesDone: 0,
        errorCount: 0,
        currentFiles: [],
      },
      {
        type: "summary",
        dryRun: false,
        filesNew: 4,
        filesChanged: 0,
        filesUnmodified: 0,
        dirsNew: 4,
        dirsChanged: 0,
        dirsUnmodified: 0,
        dataBlobs: 4,
        treeBlobs: 5,
        dataAdded: 202865,
        dataAddedPacked: null,
        totalFilesProcessed: 4,
        totalBytesProcessed: 200054,
        totalDuration: 0.212998736,
        backupStart: null,
        backupEnd: null,
        snapshotId: "e4dc3abc",
      },
    ]);
    expect(fx("0.14.0/backup-json").stderr).toBe("");
  });

  it("0.14 re-run, quiet, dry-run, REST and missing-source summaries", () => {
    expect(summaryOf(fx("0.14.0/backup-json-rerun").stdout)).toMatchObject({
      filesNew: 0,
      filesUnmodified: 4,
      dirsUnmodified: 4,
      dataAdded: 0,
      snapshotId: "831ef66d",
    });
    const quiet = backupLines(fx("0.14.0/backup-json-quiet").stdout);
    expect(quiet.map((l) => l.type)).toEqual(["summary"]);
    expect(quiet[0]).toMatchObject({ snapshotId: "0993215d", dryRun: false });
    const dry = backupLines(fx("0.14.0/backup-json-dry-run").stdout);
    expect(dry[0]).toMatchObject({ type: "status", filesDone: 1, totalFiles: 0, totalBytes: 0 });
    expect(dry[1]).toMatchObject({ type: "summary", dryRun: true, snapshotId: "a80eda79", dataAdded: 0 });
    expect(summaryOf(fx("0.14.0/rest-backup-json").stdout)).toMatchObject({
      filesNew: 4,
      snapshotId: "af9f628f",
    });
    const missing = fx("0.14.0/backup-missing-one-source");
    expect(summaryOf(missing.stdout)).toMatchObject({
      dirsChanged: 1,
      snapshotId: "ec08c82a",
      dataAdded: 351,
    });
    expect(backupLines(missing.stderr)).toEqual([
      { type: "text", text: `${REC}/nope does not exist, skipping` },
    ]);
  });

  it("0.14 large backup: status lines with current_files, then one summary", () => {
    const lines = backupLines(fx("0.14.0/backup-json-large").stdout);
    expect(lines).toHaveLength(36);
    const statuses = ofType(lines, "status");
    expect(statuses).toHaveLength(35);
    expect(lines.at(-1)?.type).toBe("summary");
    expect(statuses[1]).toEqual({
      type: "status",
      secondsElapsed: 0,
      secondsRemaining: 0,
      percentDone: 0.016546183824539186,
      totalFiles: 20,
      filesDone: 0,
      totalBytes: 167772160,
      bytesDone: 2775989,
      errorCount: 0,
      currentFiles: [`${REC}/big/f1.bin`, `${REC}/big/f10.bin`],
    });
    expect(statuses.every((s) => s.percentDone >= 0 && s.percentDone <= 1)).toBe(true);
    expect(statuses.filter((s) => s.currentFiles.length > 0).length).toBeGreaterThan(20);
    expect(lines.at(-1)).toMatchObject({
      filesNew: 20,
      dataBlobs: 122,
      dataAdded: 167787065,
      snapshotId: "168873f4",
    });
  });

  it("0.14 -v: scan_finished typed `status` becomes verbose_status", () => {
    const lines = backupLines(fx("0.14.0/backup-json-verbose").stdout);
    expect(lines.map((l) => (l.type === "verbose_status" ? l.action : l.type))).toEqual([
      "status",
      "scan_finished",
      "unchanged",
      "unchanged",
      "modified",
      "new",
      "modified",
      "modified",
      "modified",
      "modified",
      "summary",
    ]);
    expect(lines[1]).toEqual({
      type: "verbose_status",
      action: "scan_finished",
      item: "",
      duration: 0.210878829,
      dataSize: 200063,
      dataSizeInRepo: 0,
      metadataSize: 0,
      metadataSizeInRepo: 0,
      totalFiles: 4,
    });
    expect(lines[5]).toEqual({
      type: "verbose_status",
      action: "new",
      item: `${REC}/src/sub/new.txt`,
      duration: 0.006157855,
      dataSize: 9,
      dataSizeInRepo: 91,
      metadataSize: 0,
      metadataSizeInRepo: 0,
      totalFiles: 0,
    });
    expect(lines[10]).toMatchObject({
      filesNew: 1,
      filesChanged: 1,
      filesUnmodified: 2,
      dirsChanged: 4,
      dataAdded: 2860,
    });
  });

  it("0.14 unreadable files: error structs `{}` and {Op,Path,Err} become messages", () => {
    const f = fx("0.14.0/backup-unreadable");
    expect(summaryOf(f.stdout)).toMatchObject({
      filesNew: 1,
      totalFilesProcessed: 1,
      snapshotId: "aab1042e",
    });
    const lines = backupLines(f.stderr);
    expect(lines).toEqual([
      { type: "error", during: "scan", item: `${REC}/u/src/locked`, message: "unknown error" },
      { type: "error", during: "archival", item: "src/locked", message: "unknown error" },
      {
        type: "error",
        during: "archival",
        item: `${REC}/u/src/secret.txt`,
        message: "open src/secret.txt: permission denied",
      },
      { type: "text", text: "Warning: at least one source file could not be read" },
    ]);
    expect(summarizeBackupErrors(ofType(lines, "error"))).toEqual({
      paths: [`${REC}/u/src/locked`, `${REC}/u/src/secret.txt`],
      items: [
        { path: `${REC}/u/src/locked`, during: "scan", message: "unknown error" },
        {
          path: `${REC}/u/src/secret.txt`,
          during: "archival",
          message: "open src/secret.txt: permission denied",
        },
      ],
      message: `could not read 2 paths: ${REC}/u/src/locked, ${REC}/u/src/secret.txt (open src/secret.txt: permission denied)`,
    });
  });

  it("0.14 SIGINT: status lines only, and the `\\x1b[2K` stderr line comes back clean", () => {
    const f = fx("0.14.0/sigint-backup");
    expect(f.meta.exitCode).toBe(130);
    const lines = backupLines(f.stdout);
    expect(lines).toHaveLength(14);
    expect(lines.every((l) => l.type === "status")).toBe(true);
    expect(f.stderr).toBe("\u001b[2Ksignal interrupt received, cleaning up\n");
    expect(backupLines(f.stderr)).toEqual([{ type: "text", text: "signal interrupt received, cleaning up" }]);
  });

  it("0.16.4: scan_finished is verbose_status, snapshot_id is the full ID", () => {
    const lines = backupLines(fx("0.16.4/backup-json-verbose").stdout);
    expect(lines.map((l) => (l.type === "verbose_status" ? l.action : l.type))).toEqual([
      "status",
      "unchanged",
      "scan_finished",
      "modified",
      "new",
      "modified",
      "summary",
    ]);
    expect(lines[2]).toMatchObject({
      type: "verbose_status",
      action: "scan_finished",
      dataSize: 200063,
      totalFiles: 4,
    });
    const summary = lines.at(-1) as BackupSummary;
    expect(summary.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.dataAddedPacked).toBeNull();
  });

  it("0.17.3: data_added_packed, {message} errors, summary without snapshot_id when skipped", () => {
    expect(summaryOf(fx("0.17.3/backup-json").stdout)).toEqual({
      type: "summary",
      dryRun: false,
      filesNew: 4,
      filesChanged: 0,
      filesUnmodified: 0,
      dirsNew: 2,
      dirsChanged: 0,
      dirsUnmodified: 0,
      dataBlobs: 4,
      treeBlobs: 3,
      dataAdded: 202865,
      dataAddedPacked: 201455,
      totalFilesProcessed: 4,
      totalBytesProcessed: 200054,
      totalDuration: 1.213,
      backupStart: null,
      backupEnd: null,
      snapshotId: "47d3cec6777c5864519a97aed7814e7c993cfa23f7372bcb80fd717581ee9a87",
    });
    expect(ofType(backupLines(fx("0.17.3/backup-json").stdout), "status")[1]).toMatchObject({
      secondsElapsed: 1,
      secondsRemaining: 2,
      filesDone: 1,
      currentFiles: ["/srv/data/data.bin"],
    });
    expect(summaryOf(fx("0.17.3/backup-json-skipped").stdout)).toMatchObject({
      snapshotId: null,
      dataAddedPacked: 0,
    });
    expect(backupLines(fx("0.17.3/backup-unreadable").stderr)).toEqual([
      {
        type: "error",
        during: "scan",
        item: "/home/rtest/src/locked",
        message: "open /home/rtest/src/locked: permission denied",
      },
      {
        type: "error",
        during: "archival",
        item: "/home/rtest/src/secret.txt",
        message: "open /home/rtest/src/secret.txt: permission denied",
      },
      { type: "text", text: "Warning: at least one source file could not be read" },
    ]);
  });

  it("0.18.1: backup_start/backup_end, and the exit_error line on stderr", () => {
    expect(summaryOf(fx("0.18.1/backup-json").stdout)).toMatchObject({
      dataAddedPacked: 201455,
      backupStart: "2026-11-26T03:00:00.912345678Z",
      backupEnd: "2026-11-26T03:00:02.125345678Z",
      totalDuration: 1.213,
    });
    const stderr = backupLines(fx("0.18.1/backup-unreadable").stderr);
    expect(stderr.map((l) => l.type)).toEqual(["error", "exit_error"]);
    expect(stderr[1]).toEqual({
      type: "exit_error",
      code: 3,
      message: "Warning: at least one source file could not be read",
    });
  });

  it("0.19.1: missing source is a text warning plus exit_error code 3", () => {
    const f = fx("0.19.1/backup-missing-one-source");
    expect(f.meta.exitCode).toBe(3);
    expect(backupLines(f.stderr)).toEqual([
      { type: "text", text: "/srv/nope does not exist, skipping" },
      { type: "exit_error", code: 3, message: "Warning: at least one source file could not be read" },
    ]);
  });

  it("tolerates broken JSON, unknown message types, ANSI before JSON and non-object JSON", () => {
    expect(parseBackupLine('{"message_type":"status",')).toEqual({
      type: "text",
      text: '{"message_type":"status",',
    });
    expect(parseBackupLine('{"message_type":"tomorrow"}')).toEqual({
      type: "text",
      text: '{"message_type":"tomorrow"}',
    });
    expect(parseBackupLine('\u001b[2K{"message_type":"status","percent_done":0.5}')).toMatchObject({
      type: "status",
      percentDone: 0.5,
    });
    expect(parseBackupLine("")).toEqual({ type: "text", text: "" });
    expect(parseBackupLine("[1,2]")).toEqual({ type: "text", text: "[1,2]" });
    expect(
      parseBackupLine('{"message_type":"status","total_files":"many","current_files":"x"}'),
    ).toMatchObject({
      totalFiles: 0,
      currentFiles: [],
    });
  });
});

describe("describeResticError", () => {
  it("reads 0.17.1+ messages, 0.14 Go structs and empty structs", () => {
    expect(describeResticError({ message: "lstat /x: permission denied" })).toBe(
      "lstat /x: permission denied",
    );
    expect(describeResticError({ Op: "open", Path: "src/secret.txt", Err: 13 })).toBe(
      "open src/secret.txt: permission denied",
    );
    expect(describeResticError({ Op: "lstat", Path: "/gone", Err: 2 })).toBe(
      "lstat /gone: no such file or directory",
    );
    expect(describeResticError({ Op: "read", Path: "/f", Err: { Syscall: "read", Err: 5 } })).toBe(
      "read /f: read: input/output error",
    );
    expect(describeResticError({ Op: "open", Path: "/f", Err: 999 })).toBe("open /f: errno 999");
    expect(describeResticError({})).toBe("unknown error");
    expect(describeResticError(null)).toBe("unknown error");
    expect(describeResticError("plain text")).toBe("plain text");
  });
});

describe("summarizeBackupErrors", () => {
  it("limits the listed paths and says how many more", () => {
    const errors = Array.from({ length: 8 }, (_, i) => ({
      item: `/d/f${i}`,
      during: "archival",
      message: "unknown error",
    }));
    const s = summarizeBackupErrors(errors, 3);
    expect(s.paths).toHaveLength(8);
    expect(s.message).toBe("could not read 8 paths: /d/f0, /d/f1, /d/f2, and 5 more");
    expect(summarizeBackupErrors([]).message).toBe("");
    expect(summarizeBackupErrors([{ item: "/a", during: "scan", message: "m" }]).message).toBe(
      "could not read 1 path: /a (m)",
    );
  });
});

describe("stripAnsi and goTimeToIso", () => {
  it("removes CSI and OSC sequences, keeps everything else", () => {
    expect(stripAnsi("\u001b[2Ksignal interrupt received")).toBe("signal interrupt received");
    expect(stripAnsi("a\u001b[1;31mred\u001b[0m b")).toBe("ared b");
    expect(stripAnsi("\u001b]0;title\u0007x")).toBe("x");
    expect(stripAnsi("no escapes")).toBe("no escapes");
  });

  it("converts Go's time String() to ISO", () => {
    expect(goTimeToIso("2026-11-26 09:50:46.50193336 +0000 UTC")).toBe("2026-11-26T09:50:46.501Z");
    expect(goTimeToIso("2024-01-02 19:15:35.3779691 +0100 CET")).toBe("2024-01-02T18:15:35.377Z");
    expect(goTimeToIso("2026-11-26 09:50:46 +0000 UTC")).toBe("2026-11-26T09:50:46.000Z");
    expect(goTimeToIso("yesterday")).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------

describe("parseSnapshotsJson", () => {
  it("0.14: six snapshots, short IDs, parent omitted when empty", () => {
    const snaps = parseSnapshotsJson(fx("0.14.0/snapshots-json").stdout);
    expect(snaps.map((s) => s.shortId)).toEqual([
      "e4dc3abc",
      "831ef66d",
      "a11058a2",
      "0993215d",
      "168873f4",
      "ec08c82a",
    ]);
    expect(snaps.map((s) => s.parent?.slice(0, 8) ?? null)).toEqual([
      null,
      "e4dc3abc",
      "831ef66d",
      "a11058a2",
      null,
      "0993215d",
    ]);
    expect(snaps[0]).toEqual({
      id: "e4dc3abccf1d7de2bc2f443c1d9d4d4129aba1d2a86c883e293ff3f6562b2bc8",
      shortId: "e4dc3abc",
      time: "2026-11-26T09:50:45.033278904Z",
      paths: [`${REC}/src`],
      hostname: "vm",
      username: "root",
      tags: [],
      excludes: [],
      parent: null,
      tree: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(snaps.every((s) => s.programVersion === undefined && s.summary === undefined)).toBe(true);
  });

  it("0.14: empty repository, and --group-by flattened", () => {
    expect(parseSnapshotsJson(fx("0.14.0/snapshots-json-empty").stdout)).toEqual([]);
    const grouped = parseSnapshotsJson(fx("0.14.0/snapshots-json-group").stdout);
    const flat = parseSnapshotsJson(fx("0.14.0/snapshots-json").stdout);
    expect(grouped).toEqual(flat);
  });

  it("0.16.4: program_version; 0.17.3: summary object and tags", () => {
    const s16 = parseSnapshotsJson(fx("0.16.4/snapshots-json").stdout);
    expect(s16.map((s) => s.programVersion)).toEqual(["restic 0.16.4", "restic 0.16.4"]);
    expect(s16[1]?.tags).toEqual(["nightly"]);
    const s17 = parseSnapshotsJson(fx("0.17.3/snapshots-json").stdout);
    expect(s17).toHaveLength(2);
    expect(s17[1]).toMatchObject({
      shortId: "8c861b42",
      parent: "e84a9e9127676f0b72cb686bb327a2c986b6561bd613abcfbcbf27b25b0dca41",
      tags: ["nightly", "auto"],
      programVersion: "restic 0.17.3",
      summary: {
        backupStart: "2026-11-26T03:00:01.2Z",
        backupEnd: "2026-11-26T03:00:02.731Z",
        filesNew: 0,
        filesChanged: 1,
        filesUnmodified: 3,
        dirsNew: 0,
        dirsChanged: 1,
        dirsUnmodified: 1,
        dataBlobs: 1,
        treeBlobs: 2,
        dataAdded: 1520,
        dataAddedPacked: 998,
        totalFilesProcessed: 4,
        totalBytesProcessed: 200071,
      },
    });
  });

  it("derives shortId when short_id is gone, skips entries without an ID, finds the array among text", () => {
    const id = "a".repeat(64);
    expect(
      parseSnapshotsJson(`[{"id":"${id}","time":"t","tree":"x","paths":["/p"]},{"time":"no id"}]`),
    ).toEqual([
      {
        id,
        shortId: "aaaaaaaa",
        time: "t",
        paths: ["/p"],
        hostname: "",
        username: "",
        tags: [],
        excludes: [],
        parent: null,
        tree: "x",
      },
    ]);
    expect(parseSnapshotsJson(`some warning\n[{"id":"${id}"}]\n`)).toHaveLength(1);
    expect(parseSnapshotsJson("")).toEqual([]);
    expect(() => parseSnapshotsJson("Fatal: nope")).toThrow(ResticParseError);
    expect(() => parseSnapshotsJson('{"id":"x"}')).toThrow(/not an array/);
  });
});

describe("parseLsLine", () => {
  const kinds = (lines: LsLine[]) =>
    lines.map((l) =>
      l.type === "node" ? `${l.node.type}:${l.node.name}` : l.type === "snapshot" ? "snapshot" : "text",
    );

  it("0.14: struct_type only; the snapshot line then one node per entry", () => {
    const lines = linesOf(fx("0.14.0/ls-json-latest").stdout).map(parseLsLine);
    expect(kinds(lines)).toEqual([
      "snapshot",
      "dir:tmp",
      "dir:holdfast-restic-rec",
      "dir:src",
      "file:a.txt",
      "file:c.txt",
      "file:data.bin",
      "dir:sub",
      "file:new.txt",
    ]);
    expect(lines[0]).toMatchObject({
      type: "snapshot",
      snapshot: {
        id: "ec08c82a16e0031883106a6c3959b3a532245f8f680945c3eca8c58f162c8f04",
        shortId: "ec08c82a",
      },
    });
    expect(lines[4]).toEqual({
      type: "node",
      node: {
        name: "a.txt",
        type: "file",
        path: `${REC}/src/a.txt`,
        uid: 0,
        gid: 0,
        size: 15,
        mode: 420,
        permissions: "-rw-r--r--",
        mtime: "2026-11-26T09:50:40.595385572Z",
        atime: "2026-11-26T09:50:40.595385572Z",
        ctime: "2026-11-26T09:50:40.595385572Z",
        inode: null,
      },
    });
    expect(lines[1]).toMatchObject({ node: { size: 0, permissions: "dtrwxrwxrwx" } });
  });

  it("0.14: an unknown ID prints a text warning (exit 0)", () => {
    const f = fx("0.14.0/ls-unknown-id");
    expect(f.meta.exitCode).toBe(0);
    expect(f.stdout).toBe("");
    expect(linesOf(f.stderr).map(parseLsLine)).toEqual([
      { type: "text", text: 'Ignoring "deadbeef": no matching ID found for prefix "deadbeef"' },
    ]);
  });

  it("0.16.4 (struct_type + inode), 0.17.3 and 0.18.1 (message_type)", () => {
    for (const key of ["0.16.4/ls-json-latest", "0.17.3/ls-json-latest", "0.18.1/ls-json-latest"]) {
      const lines = linesOf(fx(key).stdout).map(parseLsLine);
      expect(kinds(lines), key).toEqual(["snapshot", "dir:data", "file:a.txt", "symlink:link"]);
      expect(lines[2], key).toMatchObject({ node: { path: "/srv/data/a.txt", size: 15, inode: 1310722 } });
    }
    expect(parseLsLine('{"message_type":"node","name":"x","type":"file"}')).toMatchObject({
      node: { name: "x" },
    });
    expect(parseLsLine('{"struct_type":"other"}')).toEqual({ type: "text", text: '{"struct_type":"other"}' });
  });
});

describe("parseForgetOutput", () => {
  it("0.14 --keep-last 1: removes four, the other group's remove is null", () => {
    const out = parseForgetOutput(fx("0.14.0/forget-json").stdout);
    expect(out.pruneLines).toEqual([]);
    expect(
      out.groups.map((g) => [g.host, g.paths, g.keep.map((s) => s.shortId), g.remove.map((s) => s.shortId)]),
    ).toEqual([
      ["vm", [`${REC}/src`], ["ec08c82a"], ["0993215d", "a11058a2", "831ef66d", "e4dc3abc"]],
      ["vm", [`${REC}/big`], ["168873f4"], []],
    ]);
    // 0.14 reasons carry no ID: it is found in `keep` by time and tree.
    expect(out.groups[0]?.reasons).toEqual([
      {
        snapshotId: "ec08c82a16e0031883106a6c3959b3a532245f8f680945c3eca8c58f162c8f04",
        time: "2026-11-26T09:50:52.808754Z",
        matches: ["last snapshot"],
        counters: {},
      },
    ]);
    expect(out.groups[0]?.tags).toEqual([]);
  });

  it("0.14 nothing to remove: remove null → []", () => {
    const out = parseForgetOutput(fx("0.14.0/forget-json-remove-null").stdout);
    expect(out.groups.map((g) => [g.keep.length, g.remove])).toEqual([
      [5, []],
      [1, []],
    ]);
    expect(out.groups[0]?.reasons.map((r) => [r.snapshotId?.slice(0, 8), r.counters])).toEqual([
      ["ec08c82a", { last: 99 }],
      ["0993215d", { last: 98 }],
      ["a11058a2", { last: 97 }],
      ["831ef66d", { last: 96 }],
      ["e4dc3abc", { last: 95 }],
    ]);
  });

  it("0.14 --prune: the JSON line, then the prune report as text", () => {
    const out = parseForgetOutput(fx("0.14.0/forget-json-prune").stdout);
    expect(
      out.groups.map((g) => [g.paths[0], g.keep.map((s) => s.shortId), g.remove.map((s) => s.shortId)]),
    ).toEqual([
      [`${REC}/big`, ["168873f4"], []],
      [`${REC}/src`, ["aa7929e1"], ["5c8eab3c", "ec08c82a"]],
    ]);
    expect(out.pruneLines).toHaveLength(20);
    expect(out.pruneLines[0]).toBe("loading indexes...");
    expect(out.pruneLines).toContain("remaining:           135 blobs / 160.207 MiB");
    expect(out.pruneLines.at(-1)).toBe("done");
  });

  it("0.14 without a policy prints nothing; 0.17.3 reasons carry the ID", () => {
    expect(parseForgetOutput(fx("0.14.0/forget-json-no-policy").stdout)).toEqual({
      groups: [],
      pruneLines: [],
    });
    const out = parseForgetOutput(fx("0.17.3/forget-json").stdout);
    expect(out.groups[0]?.keep.map((s) => s.shortId)).toEqual(["8c861b42"]);
    expect(out.groups[0]?.remove.map((s) => s.shortId)).toEqual(["e84a9e91"]);
    expect(out.groups[0]?.reasons[0]).toEqual({
      snapshotId: "8c861b42f378f0a6bc138c55271cf09d6f288b51bdf2d28cf481ff338b84db87",
      time: "2026-11-26T03:00:02.731Z",
      matches: ["last snapshot"],
      counters: { last: 0 },
    });
    expect(() => parseForgetOutput("[{broken")).toThrow(ResticParseError);
  });
});

describe("parseCheckOutput", () => {
  it("0.14 clean (also with --json, which prints text)", () => {
    for (const key of ["0.14.0/check", "0.14.0/check-json"]) {
      const out = parseCheckOutput(fx(key).stdout, fx(key).stderr);
      expect(out).toMatchObject({
        errors: 0,
        errorLines: [],
        fatal: null,
        brokenPacks: [],
        suggestPrune: false,
      });
      expect(out.lines.at(-1)).toBe("no errors were found");
      expect(out.lines[1]).toBe("create exclusive lock for repository");
    }
  });

  it("0.14 corrupted pack: one error line, `repository contains errors`", () => {
    const f = fx("0.14.0/check-corrupt");
    expect(parseCheckOutput(f.stdout, f.stderr)).toMatchObject({
      errors: 1,
      errorLines: [
        "Pack ID does not match, want 3cfe76f183dbddc1cb25c8616b1f019e57834c03a2be2090bfb3fd3d85fa9ee3, got f2c35ab431ff1572a8dcd6407a7ffa9a0a244abd3091845d6f427d96dc5f2b68",
      ],
      fatal: "repository contains errors",
      suggestRepairIndex: false,
      repairCommands: [],
    });
  });

  it("a check that could not start (lock) has an unknown error count", () => {
    for (const key of ["0.14.0/locked-live", "0.14.0/locked-stale", "0.16.4/locked", "0.17.3/locked"]) {
      const out = parseCheckOutput(fx(key).stdout, fx(key).stderr);
      expect(out.errors, key).toBeNull();
      expect(out.errorLines, key).toEqual([]);
    }
  });

  it("0.18.1 JSON summary, error lines and exit_error", () => {
    expect(parseCheckOutput(fx("0.18.1/check-json").stdout, "")).toEqual({
      errors: 0,
      errorLines: [],
      fatal: null,
      lines: [],
      brokenPacks: [],
      suggestRepairIndex: false,
      repairCommands: [],
      suggestPrune: false,
    });
    const f = fx("0.18.1/check-json-corrupt");
    const out = parseCheckOutput(f.stdout, f.stderr);
    expect(out.errors).toBe(1);
    expect(out.fatal).toBe("repository contains errors");
    expect(out.brokenPacks).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(out.errorLines).toHaveLength(1);
    expect(out.errorLines[0]).toMatch(/^pack [0-9a-f]{8}: Pack ID does not match/);
  });

  it("text hints about prune and index repair", () => {
    const out = parseCheckOutput(
      "no errors were found\n7 additional files were found in the repo, which likely contain duplicate data.\nThis is non-critical, you can run `restic prune` to correct this.\n",
      "",
    );
    expect(out).toMatchObject({ errors: 0, suggestPrune: true, suggestRepairIndex: false });
  });
});

describe("parseStatsJson", () => {
  it("0.14: all four modes", () => {
    expect(parseStatsJson(fx("0.14.0/stats-json").stdout)).toEqual({
      totalSize: 168772457,
      totalFileCount: 63,
      totalBlobCount: null,
      snapshotsCount: 6,
      totalUncompressedSize: null,
      compressionRatio: null,
      compressionProgress: null,
      compressionSpaceSaving: null,
    });
    expect(parseStatsJson(fx("0.14.0/stats-json-raw-data").stdout)).toMatchObject({
      totalSize: 167990515,
      totalFileCount: 0,
      totalBlobCount: 143,
      snapshotsCount: 6,
    });
    expect(parseStatsJson(fx("0.14.0/stats-json-files-by-contents").stdout)).toMatchObject({
      totalSize: 167972262,
      totalFileCount: 27,
      totalBlobCount: null,
    });
    expect(parseStatsJson(fx("0.14.0/stats-json-blobs-per-file").stdout)).toMatchObject({
      totalSize: 167972262,
      totalFileCount: 25,
      totalBlobCount: 128,
    });
  });

  it("0.17.3 raw-data: compression fields, file count omitted", () => {
    expect(parseStatsJson(fx("0.17.3/stats-json-raw-data").stdout)).toEqual({
      totalSize: 167990814,
      totalFileCount: 0,
      totalBlobCount: 147,
      snapshotsCount: 6,
      totalUncompressedSize: 168772457,
      compressionRatio: 1.0046525,
      compressionProgress: 100,
      compressionSpaceSaving: 0.4631,
    });
    expect(() => parseStatsJson("[]")).toThrow(ResticParseError);
  });
});

describe("parseDiffLine", () => {
  const stats = {
    type: "statistics",
    sourceSnapshot: "e4dc3abccf1d7de2bc2f443c1d9d4d4129aba1d2a86c883e293ff3f6562b2bc8",
    targetSnapshot: "a11058a204d55dd8d90dbd177f5ff099d4f0e65285a220c6223bb12fd64d80de",
    changedFiles: 1,
    added: { files: 1, dirs: 0, others: 0, dataBlobs: 2, treeBlobs: 5, bytes: 2860 },
    removed: { files: 1, dirs: 0, others: 0, dataBlobs: 2, treeBlobs: 5, bytes: 2850 },
  };

  it("0.14: changes then statistics", () => {
    expect(linesOf(fx("0.14.0/diff-json").stdout).map(parseDiffLine)).toEqual([
      { type: "change", path: `${REC}/src/c.txt`, modifier: "M" },
      { type: "change", path: `${REC}/src/sub/b.txt`, modifier: "-" },
      { type: "change", path: `${REC}/src/sub/new.txt`, modifier: "+" },
      stats,
    ]);
  });

  it("0.14 --metadata adds U modifiers", () => {
    const lines = linesOf(fx("0.14.0/diff-json-metadata").stdout).map(parseDiffLine);
    expect(lines.map((l) => (l.type === "change" ? l.modifier : l.type))).toEqual([
      "U",
      "U",
      "U",
      "M",
      "U",
      "-",
      "+",
      "statistics",
    ]);
    expect(lines.at(-1)).toEqual(stats);
  });
});

describe("parseFindJson", () => {
  it("0.14: one entry per snapshot with hits; [] for none", () => {
    const found = parseFindJson(fx("0.14.0/find-json").stdout);
    expect(found.map((r) => [r.snapshot.slice(0, 8), r.hits, r.matches.length])).toEqual([
      ["ec08c82a", 1, 1],
      ["831ef66d", 1, 1],
      ["a11058a2", 1, 1],
      ["e4dc3abc", 1, 1],
      ["0993215d", 1, 1],
    ]);
    expect(found[0]?.matches[0]).toEqual({
      path: `${REC}/src/a.txt`,
      type: "file",
      size: 15,
      mtime: "2026-11-26T09:50:40.595385572Z",
      permissions: "-rw-r--r--",
    });
    expect(parseFindJson(fx("0.14.0/find-json-none").stdout)).toEqual([]);
  });
});

describe("parseCopyLine", () => {
  const copyEvents = (text: string) =>
    linesOf(text)
      .map(parseCopyLine)
      .filter((l) => l.type !== "text")
      .map((l) =>
        l.type === "snapshot"
          ? `snapshot ${l.shortId}`
          : l.type === "saved"
            ? `saved ${l.shortId}`
            : l.type === "skipped"
              ? `skipped ${l.sourceId}->${l.copiedTo}`
              : l.type,
      );

  it("0.14 first copy: source snapshot, started, saved", () => {
    const events = copyEvents(fx("0.14.0/copy").stdout);
    expect(events).toHaveLength(18);
    expect(events.slice(0, 6)).toEqual([
      "snapshot 831ef66d",
      "copy_started",
      "saved 20eb0153",
      "snapshot ec08c82a",
      "copy_started",
      "saved 9ca99ade",
    ]);
    expect(linesOf(fx("0.14.0/copy").stdout).map(parseCopyLine)[1]).toEqual({
      type: "snapshot",
      shortId: "831ef66d",
      paths: [`${REC}/src`],
      pathsText: `${REC}/src`,
      time: "2026-11-26 09:50:46.50193336 +0000 UTC",
      timeIso: "2026-11-26T09:50:46.501Z",
      username: null,
      hostname: null,
    });
  });

  it("0.14 re-run: every snapshot skipped", () => {
    const events = copyEvents(fx("0.14.0/copy-rerun").stdout);
    expect(events.filter((e) => e.startsWith("skipped"))).toEqual([
      "skipped ec08c82a->9ca99ade",
      "skipped 831ef66d->20eb0153",
      "skipped 168873f4->41a9ceb3",
      "skipped a11058a2->ab343aab",
      "skipped e4dc3abc->f1b45c93",
      "skipped 0993215d->ac165d19",
    ]);
  });

  it("newer versions add `by user@host` before the stray parenthesis", () => {
    expect(
      parseCopyLine("snapshot 7ca36a08 of [/srv/a /srv/b] at 2026-11-26 09:48:23.58 +0100 CET by root@vm)"),
    ).toEqual({
      type: "snapshot",
      shortId: "7ca36a08",
      paths: ["/srv/a", "/srv/b"],
      pathsText: "/srv/a /srv/b",
      time: "2026-11-26 09:48:23.58 +0100 CET",
      timeIso: "2026-11-26T08:48:23.580Z",
      username: "root",
      hostname: "vm",
    });
    expect(parseCopyLine("[0:00] 100.00%  2 / 2 packs copied")).toEqual({
      type: "text",
      text: "[0:00] 100.00%  2 / 2 packs copied",
    });
  });
});

describe("parseRestoreLine", () => {
  it("0.14 text: restoring … to TARGET, and --verify", () => {
    expect(linesOf(fx("0.14.0/restore").stdout).map(parseRestoreLine)).toEqual([
      { type: "restoring", shortId: "ec08c82a", target: `${REC}/rst` },
    ]);
    expect(linesOf(fx("0.14.0/restore-verify").stdout).map(parseRestoreLine)).toEqual([
      { type: "restoring", shortId: "ec08c82a", target: `${REC}/rst2` },
      { type: "text", text: `verifying files in ${REC}/rst2` },
      { type: "verified", files: 4 },
    ]);
  });

  it("0.16+ JSON status, summary and errors (doc/075_scripting.rst)", () => {
    expect(
      parseRestoreLine(
        '{"message_type":"summary","seconds_elapsed":2,"total_files":4,"files_restored":4,"total_bytes":200063,"bytes_restored":200063}',
      ),
    ).toEqual({
      type: "summary",
      secondsElapsed: 2,
      percentDone: 0,
      totalFiles: 4,
      filesRestored: 4,
      filesSkipped: 0,
      filesDeleted: 0,
      totalBytes: 200063,
      bytesRestored: 200063,
      bytesSkipped: 0,
    });
    expect(
      parseRestoreLine(
        '{"message_type":"error","error":{"message":"lchown /x: operation not permitted"},"during":"restore","item":"/x"}',
      ),
    ).toEqual({ type: "error", item: "/x", message: "lchown /x: operation not permitted" });
  });
});

describe("init, key list, cat config, cat lock", () => {
  it("parseInitOutput: 0.14 text (short ID) and 0.15+ JSON", () => {
    expect(parseInitOutput(fx("0.14.0/init").stdout)).toEqual({
      repositoryId: "10bdf324d1",
      location: `${REC}/repo1`,
    });
    expect(parseInitOutput(fx("0.14.0/init-copy-chunker").stdout)).toEqual({
      repositoryId: "ef7cd14119",
      location: `${REC}/repo2`,
    });
    expect(parseInitOutput(fx("0.14.0/rest-init").stdout)).toEqual({
      repositoryId: "4c0448c6da",
      location: "rest:http://127.0.0.1:18480/repoA/",
    });
    expect(parseInitOutput(fx("0.17.3/init-json").stdout)).toEqual({
      repositoryId: "56565beb376bd2e95cfe13a1c4669c60607d7595903876b9991d3ca5537afcf8",
      location: "/srv/restic-repo",
    });
    expect(parseInitOutput("")).toEqual({ repositoryId: null, location: null });
  });

  it("parseKeyListJson: short ID in 0.14, full ID in 0.17", () => {
    expect(parseKeyListJson(fx("0.14.0/key-list-json").stdout)).toEqual([
      { current: true, id: "076ba4b2", userName: "root", hostName: "vm", created: "2026-11-26 09:50:43" },
    ]);
    expect(parseKeyListJson(fx("0.17.3/key-list-json").stdout)[0]?.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("parseRepoConfig and parseLockFile (pretty-printed JSON)", () => {
    expect(parseRepoConfig(fx("0.14.0/cat-config").stdout)).toEqual({
      version: 2,
      id: "10bdf324d1e0f08a9c1c2598a4e26bf30bc2f3a04690c8d3b0eca1c177ee622b",
      chunkerPolynomial: "2b6cb5b5e01299",
    });
    expect(parseLockFile(fx("0.14.0/cat-lock").stdout)).toEqual({
      time: "2026-11-26T09:51:37.620702221Z",
      exclusive: false,
      hostname: "vm",
      username: "root",
      pid: 8189,
      uid: 0,
      gid: 0,
    });
  });

  it("list locks prints IDs and unlock prints text (no parser needed)", () => {
    expect(linesOf(fx("0.14.0/list-locks").stdout)).toEqual([
      "314e3f6c9c1ecd1ad27e77b55d33870d2a323ca2a6977b489a9a18a7c52f5d4f",
    ]);
    expect(fx("0.14.0/unlock").stdout).toBe("successfully removed locks\n");
  });
});

// Last in the file (tests run in order): every fixture that is not a failure (errors.test.ts) or a
// version string (version.test.ts) was checked with exact values above.
describe("coverage", () => {
  it("every successful fixture has exact expectations in this file", () => {
    const expected = FIXTURES.filter((f) => f.meta.exitCode === 0 && !f.name.startsWith("version")).map(
      (f) => f.key,
    );
    expect(expected.filter((key) => !used.has(key))).toEqual([]);
  });
});
