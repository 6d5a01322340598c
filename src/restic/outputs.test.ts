// Every parser against every fixture of every version in test/fixtures/restic/<version>/ (recorded
// with restic 0.14.0 and 0.18.0, synthesized from restic's docs for versions that cannot be run
// here), with exact expectations.
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
  readableStderrLine,
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
/** Where record.sh recorded restic 0.18.0. */
const R18 = "/tmp/holdfast-restic-rec-0.18";
const RECORDED = ["0.14.0", "0.18.0"];

// ---------------------------------------------------------------------------------------------

describe("fixture set", () => {
  it("has recorded 0.14.0 and 0.18.0 fixtures and synthesized fixtures of versions not run here", () => {
    const versions = [...new Set(FIXTURES.map((f) => f.version))];
    expect(versions).toEqual(["0.14.0", "0.16.4", "0.17.3", "0.18.0", "0.18.1", "0.19.1"]);
    expect(
      FIXTURES.filter((f) => RECORDED.includes(f.version)).every((f) => f.meta.provenance === "recorded"),
    ).toBe(true);
    expect(
      FIXTURES.filter((f) => !RECORDED.includes(f.version)).every(
        (f) => f.meta.provenance === "synthesized-from-docs",
      ),
    ).toBe(true);
    expect(FIXTURES.filter((f) => f.version === "0.14.0")).toHaveLength(63);
    expect(FIXTURES.filter((f) => f.version === "0.18.0")).toHaveLength(85);
  });

  it("keeps no synthesized 0.18.1 case that real 0.18.0 output contradicts", () => {
    // 0.18.0 retries a refused connection (rest-down), prints check's advice as JSON error lines
    // (check-json-corrupt), `broken_packs: null` (check-json), other error texts (backup-unreadable)
    // and a snapshot summary in `ls` (ls-json-latest): the synthesized guesses were removed.
    const synthesized = FIXTURES.filter((f) => f.version === "0.18.1").map((f) => f.name);
    expect(synthesized).toEqual([
      "backup-json",
      "locked-stale",
      "repo-not-found",
      "version-json",
      "wrong-password",
    ]);
  });

  it.each(FIXTURES.map((f) => [f.key, f] as const))("%s has a complete meta.json", (_key, f) => {
    expect(f.meta.case).toBe(f.name);
    expect(f.meta.restic).toBe(f.version);
    expect(typeof f.meta.command).toBe("string");
    expect(f.meta.command).toMatch(/restic/);
    // A restic ended by a signal (record-failures.sh's sigkill-backup) has no exit code, only the signal.
    if (f.meta.exitCode === null) expect(f.meta.signal).toMatch(/^SIG[A-Z]+$/);
    else expect(Number.isInteger(f.meta.exitCode)).toBe(true);
  });

  it("labels every version folder's provenance in its README.md", () => {
    for (const version of new Set(FIXTURES.map((f) => f.version))) {
      const readme = join(ROOT, version, "README.md");
      expect(existsSync(readme), readme).toBe(true);
      const text = readFileSync(readme, "utf8");
      const provenance = RECORDED.includes(version) ? "recorded" : "synthesized-from-docs";
      expect(text).toContain(provenance);
      // Every case of the folder is described.
      for (const f of FIXTURES.filter((x) => x.version === version))
        expect(text, f.key).toContain(`\`${f.name}\``);
    }
  });
});

describe("exit_error and error lines on every command", () => {
  const stderrLines = FIXTURES.flatMap((f) => linesOf(f.stderr).map((line) => ({ key: f.key, f, line })));

  it("every exit_error of every failing 0.18.0 command is parsed, and matches the exit code", () => {
    const failing = FIXTURES.filter((f) => f.version === "0.18.0" && f.meta.exitCode !== 0);
    const withJson = failing.filter((f) => /--json/.test(f.meta.command));
    // The JSON form comes with --json only (wrong-password-text, repo-not-found-text print text).
    for (const f of withJson) {
      const exitErrors = linesOf(f.stderr)
        .map(parseExitErrorLine)
        .filter((e) => e !== null);
      // Killed (SIGKILL) or crashed (exit 2: Go's runtime, here its SIGQUIT dump): restic's own
      // error printing never ran.
      if (f.meta.signal !== null || f.meta.exitCode === 2) {
        expect(exitErrors, f.key).toEqual([]);
        continue;
      }
      const stoppedByRecorder = f.meta.command.startsWith("timeout ");
      expect(exitErrors, f.key).toHaveLength(1);
      // restic's own code, except where the recorder's SIGINT ended a retrying restic (exit 1).
      if (!stoppedByRecorder) expect(exitErrors[0]!.code, f.key).toBe(f.meta.exitCode);
    }
    expect(withJson.length).toBeGreaterThan(20);
    for (const f of failing.filter((x) => !/--json/.test(x.meta.command)))
      expect(
        linesOf(f.stderr).some((l) => parseExitErrorLine(l) !== null),
        f.key,
      ).toBe(false);
  });

  it("the step log never shows one as JSON: readableStderrLine gives its text", () => {
    let seen = 0;
    for (const { key, line } of stderrLines) {
      const readable = readableStderrLine(line);
      if (/^\{"message_type":"(exit_error|error)"/.test(stripAnsi(line))) {
        seen++;
        expect(readable, key).not.toMatch(/^\{/);
        expect(readable.trim(), key).not.toBe("");
      }
    }
    expect(seen).toBe(43);
    expect(readableStderrLine(fx("0.18.0/backup-unreadable").stderr.split("\n")[2]!)).toBe(
      `${R18}/u/src/secret.txt: ${R18}/u/src/secret.txt: open src/secret.txt: permission denied`,
    );
    expect(readableStderrLine(fx("0.14.0/backup-unreadable").stderr.split("\n")[0]!)).toBe(
      `${REC}/u/src/locked: unknown error`,
    );
  });
});

describe("line parsers on every line of every fixture", () => {
  const allLines = FIXTURES.flatMap((f) =>
    [...linesOf(f.stdout), ...linesOf(f.stderr)].map((line) => ({ key: f.key, line })),
  );

  it("never throw, and hand back non-JSON lines as text with ANSI removed", () => {
    expect(allLines.length).toBeGreaterThan(2400);
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
        impossible: [],
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
      impossible: [],
    });
    expect(ofType(backupLines(fx("0.17.3/backup-json").stdout), "status")[1]).toMatchObject({
      secondsElapsed: 1,
      secondsRemaining: 2,
      filesDone: 1,
      currentFiles: ["/srv/data/data.bin"],
    });
    // 0.17 has no backup_end, so its duration of a skipped backup is a real one (0.18.0's is not).
    expect(summaryOf(fx("0.17.3/backup-json-skipped").stdout)).toMatchObject({
      snapshotId: null,
      dataAddedPacked: 0,
      totalDuration: 0.31,
      impossible: [],
    });
  });

  it("0.18.1: backup_start/backup_end, and the exit_error line on stderr", () => {
    expect(summaryOf(fx("0.18.1/backup-json").stdout)).toMatchObject({
      dataAddedPacked: 201455,
      backupStart: "2026-11-26T03:00:00.912345678Z",
      backupEnd: "2026-11-26T03:00:02.125345678Z",
      totalDuration: 1.213,
    });
  });

  it("0.18.0 backup-json: full id, data_added_packed, backup_start/backup_end", () => {
    expect(backupLines(fx("0.18.0/backup-json").stdout)).toEqual([
      {
        type: "status",
        secondsElapsed: 0,
        secondsRemaining: 0,
        percentDone: 0.999900026992712,
        totalFiles: 4,
        filesDone: 1,
        totalBytes: 200054,
        bytesDone: 200034,
        errorCount: 0,
        currentFiles: [`${R18}/src/c.txt`, `${R18}/src/data.bin`],
      },
      {
        type: "status",
        secondsElapsed: 0,
        secondsRemaining: 0,
        percentDone: 1,
        totalFiles: 4,
        filesDone: 4,
        totalBytes: 200054,
        bytesDone: 200054,
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
        dataAdded: 202873,
        dataAddedPacked: 202057,
        totalFilesProcessed: 4,
        totalBytesProcessed: 200054,
        totalDuration: 0.697085639,
        backupStart: "2026-12-02T19:37:49.124273578Z",
        backupEnd: "2026-12-02T19:37:49.821359269Z",
        snapshotId: "43227e85c957b92e36ad75045daef0bad8a81a1db438665baf4f97e61de8f235",
        impossible: [],
      },
    ]);
    expect(fx("0.18.0/backup-json").stderr).toBe("");
  });

  it("0.18.0 re-run, quiet, dry-run, REST and missing-source summaries", () => {
    expect(summaryOf(fx("0.18.0/backup-json-rerun").stdout)).toMatchObject({
      filesNew: 0,
      filesUnmodified: 4,
      // the recording's /tmp changed between the runs: one tree (a parent directory) is new
      dirsChanged: 1,
      dirsUnmodified: 3,
      dataAdded: 351,
      dataAddedPacked: 289,
      totalDuration: 0.682110117,
      backupStart: "2026-12-02T19:37:50.808548402Z",
      backupEnd: "2026-12-02T19:37:51.490658527Z",
      snapshotId: "7df9621a94ba175b7a02a698f3fcd5d7895eeffec115a4004cbe2b91d05d6150",
      impossible: [],
    });
    const quiet = backupLines(fx("0.18.0/backup-json-quiet").stdout);
    expect(quiet.map((l) => l.type)).toEqual(["summary"]);
    expect(quiet[0]).toMatchObject({
      snapshotId: "59aaac1f8897984a789d6f386c017f0e544cd2a9de0a2e3e2b31ca9424410ddd",
      dryRun: false,
    });
    // --dry-run: restic 0.18.0 still prints a (never saved) snapshot id.
    expect(backupLines(fx("0.18.0/backup-json-dry-run").stdout)).toEqual([
      expect.objectContaining({ type: "status", percentDone: 1, filesDone: 4, totalBytes: 200063 }),
      expect.objectContaining({
        type: "summary",
        dryRun: true,
        dataAdded: 351,
        dataAddedPacked: 288,
        totalDuration: 0.686446228,
        snapshotId: "46f3d7f90f81bac0caaaba68f5c0a01fe16ab595a2a22bd317d826c392933080",
      }),
    ]);
    expect(summaryOf(fx("0.18.0/rest-backup-json").stdout)).toMatchObject({
      filesNew: 4,
      dataAdded: 202883,
      dataAddedPacked: 202090,
      snapshotId: "4d86c81b045eb4d86402534191ea9d18f3a934ae4a4bde09b391e5d9854ce701",
    });
    const missing = fx("0.18.0/backup-missing-one-source");
    expect(summaryOf(missing.stdout)).toMatchObject({
      dirsChanged: 1,
      snapshotId: "7edc53f71f3dd0238641f10cc497cfc5800357057262a1b45bb55334cddc03e6",
      dataAdded: 351,
    });
    expect(backupLines(missing.stderr)).toEqual([
      { type: "text", text: `${R18}/nope does not exist, skipping` },
    ]);
  });

  it("0.18.0 --skip-if-unchanged: no snapshot_id; the negative duration and year-1 end are not facts", () => {
    const f = fx("0.18.0/backup-json-skip-unchanged");
    // What restic printed…
    expect(f.stdout).toContain('"total_duration":-9223372036.854776');
    expect(f.stdout).toContain('"backup_end":"0001-01-01T00:00:00Z"');
    // …and what the parser makes of it.
    expect(backupLines(f.stdout)).toEqual([
      {
        type: "summary",
        dryRun: false,
        filesNew: 0,
        filesChanged: 0,
        filesUnmodified: 4,
        dirsNew: 0,
        dirsChanged: 0,
        dirsUnmodified: 2,
        dataBlobs: 0,
        treeBlobs: 0,
        dataAdded: 0,
        dataAddedPacked: 0,
        totalFilesProcessed: 4,
        totalBytesProcessed: 200054,
        totalDuration: null,
        backupStart: "2026-12-02T19:37:54.377631874Z",
        backupEnd: null,
        snapshotId: null,
        impossible: [
          'backup_end "0001-01-01T00:00:00Z" (year 1)',
          "total_duration -9223372036.854776 (negative)",
        ],
      },
    ]);
    expect(f.stderr).toBe("");
  });

  it("impossible summary values: an end before the start, a non-time, a non-number duration", () => {
    const summary = (fields: string) =>
      parseBackupLine(
        `{"message_type":"summary","snapshot_id":"${"a".repeat(64)}",${fields}}`,
      ) as BackupSummary;
    expect(
      summary('"backup_start":"2026-12-02T10:00:00Z","backup_end":"2026-12-02T09:59:00Z","total_duration":1'),
    ).toMatchObject({
      backupStart: "2026-12-02T10:00:00Z",
      backupEnd: null,
      totalDuration: 1,
      impossible: ["backup_end 2026-12-02T09:59:00Z (before backup_start 2026-12-02T10:00:00Z)"],
    });
    expect(summary('"backup_start":"soon","total_duration":"long"')).toMatchObject({
      backupStart: null,
      totalDuration: null,
      impossible: ['backup_start "soon" (not a time)', 'total_duration "long" (not a number)'],
    });
    // 0.14 – 0.17 print neither time: nothing is impossible about that.
    expect(summary('"total_duration":0.2')).toMatchObject({
      backupStart: null,
      backupEnd: null,
      impossible: [],
    });
  });

  it("0.18.0 large backup: status lines with current_files and seconds_remaining, then one summary", () => {
    const lines = backupLines(fx("0.18.0/backup-json-large").stdout);
    expect(lines).toHaveLength(121);
    const statuses = ofType(lines, "status");
    expect(statuses).toHaveLength(120);
    expect(statuses[0]).toEqual({
      type: "status",
      secondsElapsed: 0,
      secondsRemaining: 1,
      percentDone: 0.01234898567199707,
      totalFiles: 20,
      filesDone: 0,
      totalBytes: 167772160,
      bytesDone: 2071816,
      errorCount: 0,
      currentFiles: [`${R18}/big/f1.bin`, `${R18}/big/f10.bin`],
    });
    expect(statuses.every((s) => s.percentDone >= 0 && s.percentDone <= 1)).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      filesNew: 20,
      dataBlobs: 122,
      dataAdded: 167787073,
      dataAddedPacked: 167792384,
      totalDuration: 2.898235078,
      snapshotId: "dbbabccced2009b5785477d013d5efb4e1ee15eae65677f7fbbe570849bc3b89",
    });
  });

  it("0.18.0 -v: scan_finished is verbose_status (0.16+), one line per item", () => {
    const lines = backupLines(fx("0.18.0/backup-json-verbose").stdout);
    expect(lines.map((l) => (l.type === "verbose_status" ? l.action : l.type))).toEqual([
      "unchanged",
      "scan_finished",
      "unchanged",
      "modified",
      "status",
      "new",
      "modified",
      "modified",
      "modified",
      "modified",
      "summary",
    ]);
    expect(lines[1]).toMatchObject({
      type: "verbose_status",
      action: "scan_finished",
      dataSize: 200063,
      totalFiles: 4,
    });
    expect(lines.at(-1)).toMatchObject({
      filesNew: 1,
      filesChanged: 1,
      filesUnmodified: 2,
      dirsChanged: 4,
      dataAdded: 2868,
      dataAddedPacked: 1905,
      snapshotId: "7a59025344b3fe7f8efd4f019c6c43595a5fb72166ee940be1823ee16a24334a",
    });
  });

  it("0.18.0 unreadable files: {message} errors, the directory twice, and exit_error code 3", () => {
    const f = fx("0.18.0/backup-unreadable");
    expect(f.meta.exitCode).toBe(3);
    expect(summaryOf(f.stdout)).toMatchObject({
      filesNew: 1,
      totalFilesProcessed: 1,
      snapshotId: "cff2a02a66215ad799ff4b4de74def8fb170434fa41d5984b1648f4b8f3193a6",
    });
    const lines = backupLines(f.stderr);
    expect(lines).toEqual([
      {
        type: "error",
        during: "scan",
        item: `${R18}/u/src/locked`,
        message: `openfile for readdirnames failed: open ${R18}/u/src/locked: permission denied`,
      },
      {
        type: "error",
        during: "archival",
        item: "src/locked",
        message: "openfile for readdirnames failed: open src/locked: permission denied",
      },
      {
        type: "error",
        during: "archival",
        item: `${R18}/u/src/secret.txt`,
        message: `${R18}/u/src/secret.txt: open src/secret.txt: permission denied`,
      },
      { type: "exit_error", code: 3, message: "Warning: at least one source file could not be read" },
    ]);
    expect(summarizeBackupErrors(ofType(lines, "error")).paths).toEqual([
      `${R18}/u/src/locked`,
      `${R18}/u/src/secret.txt`,
    ]);
  });

  it("0.18.0 SIGINT and SIGTERM: status lines only, then the signal line and an exit_error (exit 1)", () => {
    for (const [key, signalLine, fatal] of [
      [
        "0.18.0/sigint-backup",
        "signal interrupt received, cleaning up",
        `Fatal: unable to save snapshot: failed to save blob from file "${R18}/big/f17.bin": context canceled`,
      ],
      [
        "0.18.0/sigterm-backup",
        "signal terminated received, cleaning up",
        "Fatal: unable to save snapshot: context canceled",
      ],
    ] as const) {
      const f = fx(key);
      expect(f.meta.exitCode, key).toBe(1);
      const lines = backupLines(f.stdout);
      expect(lines.length, key).toBeGreaterThan(900);
      expect(new Set(lines.map((l) => l.type)), key).toEqual(new Set(["status"]));
      expect(backupLines(f.stderr), key).toEqual([
        { type: "text", text: signalLine },
        { type: "exit_error", code: 1, message: fatal },
      ]);
    }
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

  it("0.18.0: full ids, program_version and summary; --group-by flattened", () => {
    const snaps = parseSnapshotsJson(fx("0.18.0/snapshots-json").stdout);
    expect(snaps.map((s) => [s.shortId, s.paths[0], s.programVersion])).toEqual([
      ["43227e85", `${R18}/src`, "restic 0.18.0"],
      ["7df9621a", `${R18}/src`, "restic 0.18.0"],
      ["7a590253", `${R18}/src`, "restic 0.18.0"],
      ["59aaac1f", `${R18}/src`, "restic 0.18.0"],
      ["dbbabccc", `${R18}/big`, "restic 0.18.0"],
      ["7edc53f7", `${R18}/src`, "restic 0.18.0"],
    ]);
    expect(snaps[0]).toEqual({
      id: "43227e85c957b92e36ad75045daef0bad8a81a1db438665baf4f97e61de8f235",
      shortId: "43227e85",
      time: "2026-12-02T19:37:49.124273578Z",
      paths: [`${R18}/src`],
      hostname: "vm",
      username: "root",
      tags: [],
      excludes: [],
      parent: null,
      tree: "6d6d22d9209c5a73db6f515886f18ee56520740a4937d1a8f2019cf779830e2b",
      programVersion: "restic 0.18.0",
      summary: {
        backupStart: "2026-12-02T19:37:49.124273578Z",
        backupEnd: "2026-12-02T19:37:49.821359269Z",
        filesNew: 4,
        filesChanged: 0,
        filesUnmodified: 0,
        dirsNew: 4,
        dirsChanged: 0,
        dirsUnmodified: 0,
        dataBlobs: 4,
        treeBlobs: 5,
        dataAdded: 202873,
        dataAddedPacked: 202057,
        totalFilesProcessed: 4,
        totalBytesProcessed: 200054,
      },
    });
    expect(parseSnapshotsJson(fx("0.18.0/snapshots-json-group").stdout)).toEqual(snaps);
    expect(parseSnapshotsJson(fx("0.18.0/snapshots-json-empty").stdout)).toEqual([]);
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

  it("0.18.0: message_type + struct_type, inode, the snapshot with its summary", () => {
    const lines = linesOf(fx("0.18.0/ls-json-latest").stdout).map(parseLsLine);
    expect(kinds(lines)).toEqual([
      "snapshot",
      "dir:tmp",
      "dir:holdfast-restic-rec-0.18",
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
        id: "7edc53f71f3dd0238641f10cc497cfc5800357057262a1b45bb55334cddc03e6",
        shortId: "7edc53f7",
        parent: "59aaac1f8897984a789d6f386c017f0e544cd2a9de0a2e3e2b31ca9424410ddd",
        programVersion: "restic 0.18.0",
        summary: { dirsChanged: 1, dataAdded: 351, dataAddedPacked: 289 },
      },
    });
    expect(lines[4]).toEqual({
      type: "node",
      node: {
        name: "a.txt",
        type: "file",
        path: `${R18}/src/a.txt`,
        uid: 0,
        gid: 0,
        size: 15,
        mode: 420,
        permissions: "-rw-r--r--",
        mtime: "2026-12-02T19:37:43.086148133Z",
        atime: "2026-12-02T19:37:43.086148133Z",
        ctime: "2026-12-02T19:37:43.086148133Z",
        inode: 2148418,
      },
    });
  });

  it("0.18.0: an unknown ID is an exit_error line (exit 1), logged as its text", () => {
    const f = fx("0.18.0/ls-unknown-id");
    expect(f.meta.exitCode).toBe(1);
    expect(f.stdout).toBe("");
    const [line] = linesOf(f.stderr);
    expect(parseExitErrorLine(line!)).toEqual({
      code: 1,
      message: 'no matching ID found for prefix "deadbeef"',
    });
    expect(readableStderrLine(line!)).toBe('no matching ID found for prefix "deadbeef"');
  });

  it("0.16.4 (struct_type + inode), 0.17.3 (message_type)", () => {
    for (const key of ["0.16.4/ls-json-latest", "0.17.3/ls-json-latest"]) {
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

  it("0.14 without a policy prints nothing (0.18.0 fails: errors.test.ts); broken JSON throws", () => {
    expect(parseForgetOutput(fx("0.14.0/forget-json-no-policy").stdout)).toEqual({
      groups: [],
      pruneLines: [],
    });
    expect(() => parseForgetOutput("[{broken")).toThrow(ResticParseError);
  });
});

describe("parseForgetOutput on restic 0.18.0", () => {
  const view = (key: string) =>
    parseForgetOutput(fx(key).stdout).groups.map((g) => [
      g.paths[0],
      g.keep.map((s) => s.shortId),
      g.remove.map((s) => s.shortId),
    ]);

  it("--keep-last 1, nothing to remove (remove null), and reasons with the snapshot id", () => {
    expect(view("0.18.0/forget-json")).toEqual([
      [`${R18}/src`, ["452676ad"], ["7edc53f7", "59aaac1f", "7a590253", "7df9621a", "43227e85"]],
      [`${R18}/big`, ["dbbabccc"], []],
    ]);
    const out = parseForgetOutput(fx("0.18.0/forget-json").stdout);
    expect(out.pruneLines).toEqual([]);
    // 0.17+: the reason names its snapshot; 0.18.0 prints no counters for --keep-last.
    expect(out.groups[0]?.reasons).toEqual([
      {
        snapshotId: "452676ad0562c5c2b854f0d8e8c1e6adbdb77ddd1edb2842ef9fdf1402681b3b",
        time: "2026-12-02T19:38:49.41085652Z",
        matches: ["last snapshot"],
        counters: {},
      },
    ]);
    expect(view("0.18.0/forget-json-remove-null")).toEqual([
      [`${R18}/src`, ["452676ad", "7edc53f7", "59aaac1f", "7a590253", "7df9621a", "43227e85"], []],
      [`${R18}/big`, ["dbbabccc"], []],
    ]);
  });

  it("--prune: the JSON line, then the prune report as text on stdout", () => {
    expect(view("0.18.0/forget-json-prune")).toEqual([
      [`${R18}/big`, ["dbbabccc"], []],
      [`${R18}/src`, ["b6f8cc9f"], ["448c3d94", "452676ad"]],
    ]);
    const out = parseForgetOutput(fx("0.18.0/forget-json-prune").stdout);
    expect(out.pruneLines).toHaveLength(21);
    expect([out.pruneLines[0], out.pruneLines.at(-1)]).toEqual(["loading indexes...", "done"]);
  });

  it("an append-only server: the JSON lists the removal restic could not make (exit 0), snapshots shows both", () => {
    const f = fx("0.18.0/rest-403-append-only");
    expect(f.meta.exitCode).toBe(0);
    expect(view("0.18.0/rest-403-append-only")).toEqual([[`${R18}/src`, ["fa5bda70"], ["29317fb6"]]]);
    expect(linesOf(f.stderr)).toEqual([
      "Remove(<snapshot/29317fb68c>) failed: unexpected HTTP response (403): 403 Forbidden",
      "unable to remove snapshot/29317fb68ce9a0e1ce04ac28b02289140670bd8166e1a049da851f894521cfb1 from the repository",
    ]);
    // Both snapshots are still there: the JSON's `remove` is what restic meant to do, not what it did.
    expect(parseSnapshotsJson(fx("0.18.0/rest-403-snapshots-after").stdout).map((s) => s.shortId)).toEqual([
      "29317fb6",
      "fa5bda70",
    ]);
    // With --prune the prune report stops at the refused index delete (exit 1, below in errors.test.ts).
    const pruned = parseForgetOutput(fx("0.18.0/rest-403-prune").stdout);
    expect(pruned.groups.map((g) => g.remove.map((r) => r.shortId))).toEqual([["29317fb6"]]);
    expect(pruned.pruneLines).toHaveLength(18);
    expect(pruned.pruneLines.at(-1)).toBe("[0:00] 0.00%  0 / 3 old indexes deleted");
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
    for (const key of [
      "0.14.0/locked-live",
      "0.14.0/locked-stale",
      "0.16.4/locked",
      "0.17.3/locked",
      "0.18.0/locked-live",
      "0.18.0/locked-live-json",
      "0.18.0/locked-retry-lock",
      "0.18.0/locked-stale",
    ]) {
      const out = parseCheckOutput(fx(key).stdout, fx(key).stderr);
      expect(out.errors, key).toBeNull();
      expect(out.errorLines, key).toEqual([]);
    }
  });

  it("0.18.0 clean: text, and --json's summary (broken_packs null)", () => {
    const text = parseCheckOutput(fx("0.18.0/check").stdout, fx("0.18.0/check").stderr);
    expect(text).toMatchObject({
      errors: 0,
      errorLines: [],
      fatal: null,
      brokenPacks: [],
      repairCommands: [],
    });
    expect(text.lines.at(-1)).toBe("no errors were found");
    expect(parseCheckOutput(fx("0.18.0/check-json").stdout, fx("0.18.0/check-json").stderr)).toEqual({
      errors: 0,
      errorLines: [],
      fatal: null,
      lines: [],
      brokenPacks: [],
      suggestRepairIndex: false,
      repairCommands: [],
      suggestPrune: false,
    });
  });

  // One damaged pack. restic 0.18.0 follows the error with an advice paragraph (text: lines on
  // stderr; --json: three more `error` messages): none of it is an error of its own.
  const PACK = "d5928456e3d00d8dd647cab70fca6c543dab6a5f520e29e3fa0d69c2d9f2a671";
  const PACK_ERROR = `pack ${PACK} contains 2 errors: [blob ee6f770b8fb8a83cfb1f1bcf3c69b6df8bd7e131ecbeec2815d05227bb3b1c78: decrypting blob <data/ee6f770b> from d5928456 failed: ciphertext verification failed unexpected pack id b9f8c74766d6d305fc1916e369c8378a08f5da280b555040cd62a692aa80bcd2]`;
  const REPAIR = [`restic repair packs ${PACK}`, "restic repair snapshots --forget"];

  it("0.18.0 damaged pack, text: one error, not the advice; restic's repair commands", () => {
    const f = fx("0.18.0/check-corrupt");
    expect(linesOf(f.stderr).filter((l) => l !== "").length).toBe(6);
    expect(parseCheckOutput(f.stdout, f.stderr)).toEqual({
      errors: 1,
      errorLines: [PACK_ERROR],
      fatal: "repository contains errors",
      lines: [
        expect.stringMatching(new RegExp(`^using temporary cache in ${R18}/cache/restic-check-cache-\\d+$`)),
        "create exclusive lock for repository",
        "load indexes",
        "check all packs",
        "check snapshots, trees and blobs",
        "[0:00] 100.00%  7 / 7 snapshots",
        "read all data",
        "[0:00] 100.00%  19 / 19 packs",
      ],
      brokenPacks: [],
      suggestRepairIndex: false,
      suggestPrune: false,
      repairCommands: REPAIR,
    });
  });

  it("0.18.0 damaged pack, --json: num_errors 1 and broken_packs exactly, the advice messages left out", () => {
    const f = fx("0.18.0/check-json-corrupt");
    expect(linesOf(f.stderr).filter((l) => l.includes('"message_type":"error"'))).toHaveLength(4);
    expect(parseCheckOutput(f.stdout, f.stderr)).toEqual({
      errors: 1,
      errorLines: [PACK_ERROR],
      fatal: "repository contains errors",
      lines: [],
      brokenPacks: [PACK],
      suggestRepairIndex: false,
      suggestPrune: false,
      repairCommands: REPAIR,
    });
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

  it("0.18.0: all four modes; raw-data has the compression figures", () => {
    expect(parseStatsJson(fx("0.18.0/stats-json").stdout)).toEqual({
      totalSize: 168772457,
      totalFileCount: 63,
      totalBlobCount: null,
      snapshotsCount: 6,
      totalUncompressedSize: null,
      compressionRatio: null,
      compressionProgress: null,
      compressionSpaceSaving: null,
    });
    expect(parseStatsJson(fx("0.18.0/stats-json-raw-data").stdout)).toEqual({
      totalSize: 167990980,
      totalFileCount: 0,
      totalBlobCount: 145,
      snapshotsCount: 6,
      totalUncompressedSize: 167998507,
      compressionRatio: 1.0000448059770828,
      compressionProgress: 100,
      compressionSpaceSaving: 0.0044803969597162485,
    });
    expect(parseStatsJson(fx("0.18.0/stats-json-files-by-contents").stdout)).toMatchObject({
      totalSize: 167972262,
      totalFileCount: 27,
      totalBlobCount: null,
    });
    expect(parseStatsJson(fx("0.18.0/stats-json-blobs-per-file").stdout)).toMatchObject({
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

describe("parseDiffLine on restic 0.18.0", () => {
  it("changes then statistics; --metadata adds U", () => {
    const stats = {
      type: "statistics",
      sourceSnapshot: "43227e85c957b92e36ad75045daef0bad8a81a1db438665baf4f97e61de8f235",
      targetSnapshot: "7a59025344b3fe7f8efd4f019c6c43595a5fb72166ee940be1823ee16a24334a",
      changedFiles: 1,
      added: { files: 1, dirs: 0, others: 0, dataBlobs: 2, treeBlobs: 5, bytes: 2868 },
      removed: { files: 1, dirs: 0, others: 0, dataBlobs: 2, treeBlobs: 5, bytes: 2858 },
    };
    expect(linesOf(fx("0.18.0/diff-json").stdout).map(parseDiffLine)).toEqual([
      { type: "change", path: `${R18}/src/c.txt`, modifier: "M" },
      { type: "change", path: `${R18}/src/sub/b.txt`, modifier: "-" },
      { type: "change", path: `${R18}/src/sub/new.txt`, modifier: "+" },
      stats,
    ]);
    const meta = linesOf(fx("0.18.0/diff-json-metadata").stdout).map(parseDiffLine);
    expect(meta.map((l) => (l.type === "change" ? l.modifier : l.type))).toEqual([
      "U",
      "U",
      "U",
      "M",
      "U",
      "-",
      "+",
      "statistics",
    ]);
    expect(meta.at(-1)).toEqual(stats);
  });
});

describe("parseFindJson", () => {
  it("0.18.0: one entry per snapshot (full ids); [] for none", () => {
    const found = parseFindJson(fx("0.18.0/find-json").stdout);
    expect(found.map((r) => [r.snapshot.slice(0, 8), r.snapshot.length, r.hits, r.matches.length])).toEqual([
      ["7edc53f7", 64, 1, 1],
      ["59aaac1f", 64, 1, 1],
      ["7a590253", 64, 1, 1],
      ["7df9621a", 64, 1, 1],
      ["43227e85", 64, 1, 1],
    ]);
    expect(found[0]?.matches[0]).toEqual({
      path: `${R18}/src/a.txt`,
      type: "file",
      size: 15,
      mtime: "2026-12-02T19:37:43.086148133Z",
      permissions: "-rw-r--r--",
    });
    expect(parseFindJson(fx("0.18.0/find-json-none").stdout)).toEqual([]);
  });

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

  it("0.18.0: `by user@host`, no stray parenthesis; a re-run prints the skips only with -v", () => {
    const events = copyEvents(fx("0.18.0/copy").stdout);
    expect(events).toEqual([
      "snapshot 7edc53f7",
      "copy_started",
      "saved b851554f",
      "snapshot dbbabccc",
      "copy_started",
      "saved a9aff496",
      "snapshot 59aaac1f",
      "copy_started",
      "saved 773da321",
      "snapshot 7a590253",
      "copy_started",
      "saved 47f30ad7",
      "snapshot 43227e85",
      "copy_started",
      "saved fe14e31c",
      "snapshot 7df9621a",
      "copy_started",
      "saved d4a9ec7f",
    ]);
    expect(linesOf(fx("0.18.0/copy").stdout).map(parseCopyLine)[1]).toEqual({
      type: "snapshot",
      shortId: "7edc53f7",
      paths: [`${R18}/src`],
      pathsText: `${R18}/src`,
      time: "2026-12-02 19:38:01.925330328 +0000 UTC",
      timeIso: "2026-12-02T19:38:01.925Z",
      username: "root",
      hostname: "vm",
    });
    // Without -v (0.15+) an all-copied re-run says nothing at all: holdfast passes -v.
    expect(copyEvents(fx("0.18.0/copy-rerun").stdout)).toEqual([]);
    expect(copyEvents(fx("0.18.0/copy-rerun-verbose").stdout).filter((e) => e.startsWith("skipped"))).toEqual(
      [
        "skipped 7edc53f7->b851554f",
        "skipped dbbabccc->a9aff496",
        "skipped 59aaac1f->773da321",
        "skipped 7a590253->47f30ad7",
        "skipped 43227e85->fe14e31c",
        "skipped 7df9621a->d4a9ec7f",
      ],
    );
    const mixed = copyEvents(fx("0.18.0/copy-verbose").stdout);
    expect(mixed.filter((e) => e.startsWith("skipped"))).toHaveLength(6);
    expect(mixed.filter((e) => e.startsWith("saved"))).toEqual(["saved b2296099"]);
    expect(mixed.slice(6, 9)).toEqual(["snapshot 452676ad", "copy_started", "saved b2296099"]);
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

  it("0.18.0 text: `restoring snapshot …` (no angle brackets) and a Summary line", () => {
    expect(linesOf(fx("0.18.0/restore").stdout).map(parseRestoreLine)).toEqual([
      { type: "restoring", shortId: "7edc53f7", target: `${R18}/rst` },
      { type: "text", text: "Summary: Restored 8 files/dirs (195.374 KiB) in 0:00" },
    ]);
    expect(linesOf(fx("0.18.0/restore-verify").stdout).map(parseRestoreLine)).toEqual([
      { type: "restoring", shortId: "7edc53f7", target: `${R18}/rst2` },
      { type: "text", text: "Summary: Restored 8 files/dirs (195.374 KiB) in 0:00" },
      { type: "text", text: `verifying files in ${R18}/rst2` },
      { type: "verified", files: 4 },
    ]);
  });

  it("0.18.0 --json: the summary; -vv: a verbose_status per restored item", () => {
    const summary = {
      type: "summary",
      secondsElapsed: 0,
      percentDone: 0,
      totalFiles: 8,
      filesRestored: 8,
      filesSkipped: 0,
      filesDeleted: 0,
      totalBytes: 200063,
      bytesRestored: 200063,
      bytesSkipped: 0,
    };
    expect(linesOf(fx("0.18.0/restore-json").stdout).map(parseRestoreLine)).toEqual([summary]);
    const verbose = linesOf(fx("0.18.0/restore-json-verbose").stdout).map(parseRestoreLine);
    expect(verbose).toHaveLength(9);
    expect(verbose.at(-1)).toEqual(summary);
    expect(verbose.slice(0, 8).every((l) => l.type === "verbose_status" && l.action === "restored")).toBe(
      true,
    );
    expect(verbose).toContainEqual({
      type: "verbose_status",
      action: "restored",
      item: `${R18}/src/data.bin`,
      size: 200000,
    });
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
    // 0.18.0: text without --json (plus a note for copied chunker parameters), JSON with it.
    expect(parseInitOutput(fx("0.18.0/init").stdout)).toEqual({
      repositoryId: "6ff993d4a4",
      location: `${R18}/repo1`,
    });
    expect(parseInitOutput(fx("0.18.0/init-copy-chunker").stdout)).toEqual({
      repositoryId: "f400820806",
      location: `${R18}/repo2`,
    });
    expect(parseInitOutput(fx("0.18.0/init-json").stdout)).toEqual({
      repositoryId: "3947e3dddbd74db465301bb411aa7868b3e1ba36f0815a370ea1e499a33b4533",
      location: `${R18}/repo-initjson`,
    });
    expect(parseInitOutput(fx("0.18.0/rest-init").stdout)).toEqual({
      repositoryId: "684f8a438b",
      location: "rest:http://127.0.0.1:18580/repoA/",
    });
  });

  it("parseKeyListJson: short ID in 0.14, full ID in 0.17", () => {
    expect(parseKeyListJson(fx("0.14.0/key-list-json").stdout)).toEqual([
      { current: true, id: "076ba4b2", userName: "root", hostName: "vm", created: "2026-11-26 09:50:43" },
    ]);
    expect(parseKeyListJson(fx("0.17.3/key-list-json").stdout)[0]?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(parseKeyListJson(fx("0.18.0/key-list-json").stdout)).toEqual([
      {
        current: true,
        id: "8f41491e55123e0c54fd04839dd241ddf01461c8f60842832ca1a46dbcb0514a",
        userName: "root",
        hostName: "vm",
        created: "2026-12-02 19:37:45",
      },
    ]);
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

  it("0.18.0 cat config and cat lock", () => {
    expect(parseRepoConfig(fx("0.18.0/cat-config").stdout)).toEqual({
      version: 2,
      id: "6ff993d4a43d853b45af94616f0e31106174352f3b4e35e1e1251e4ec0181a44",
      chunkerPolynomial: "3f5b9e6507ee4b",
    });
    expect(parseLockFile(fx("0.18.0/cat-lock").stdout)).toEqual({
      time: "2026-12-02T19:39:41.677824699Z",
      exclusive: false,
      hostname: "vm",
      username: "root",
      pid: 13154,
      uid: 0,
      gid: 0,
    });
  });

  it("0.18.0: list locks, none left after a SIGTERM (0.17+ cleans up), and unlock counts what it removed", () => {
    expect(linesOf(fx("0.18.0/list-locks").stdout)).toEqual([
      "652fc4ed21e6b8b1b6a2570a8fd1471991f9a35b5ff56ab12934c79f8501ae4e",
    ]);
    expect(fx("0.18.0/list-locks-after-sigterm").stdout).toBe("");
    expect(fx("0.18.0/unlock").stdout).toBe("successfully removed 1 locks\n");
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
