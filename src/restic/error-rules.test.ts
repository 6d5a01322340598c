// The restic error table (errors.ts, RESTIC_ERROR_RULES) against every failing fixture of every
// version under test/fixtures/restic/ (recorded and synthesized): which rule decides each one, and
// that the rule answers with its declared kind. A rule that no fixture exercises fails here — record
// (or, for a version not run here, synthesize) the output it is for, beside the others.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { ERROR_KINDS } from "../errors.js";
import { explainResticFailure, RESTIC_ERROR_RULES } from "./errors.js";
import { parseResticVersion } from "./version.js";

const ROOT = fileURLToPath(new URL("../../test/fixtures/restic/", import.meta.url));

// restic's subcommands, to read the one a fixture ran out of its recorded command line.
const SUBCOMMANDS = new Set(
  "backup cat check copy diff dump find forget init key list ls prune repair restore rewrite snapshots stats tag unlock version".split(
    " ",
  ),
);

interface Failure {
  key: string;
  command: string;
  exitCode: number | null;
  signal: string | null;
  stderrLines: string[];
  version: string;
}

/** Every fixture restic did not succeed in: an exit code other than 0, or a signal. */
function failingFixtures(): Failure[] {
  const out: Failure[] = [];
  for (const version of readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)) {
    for (const file of readdirSync(join(ROOT, version)).filter((f) => f.endsWith(".meta.json"))) {
      const name = file.slice(0, -".meta.json".length);
      const meta = JSON.parse(readFileSync(join(ROOT, version, file), "utf8")) as {
        command: string;
        exitCode: number | null;
        signal: string | null;
      };
      if (meta.exitCode === 0 && meta.signal === null) continue;
      const words = meta.command.split(/\s+/);
      const command = words.slice(words.indexOf("restic") + 1).find((w) => SUBCOMMANDS.has(w));
      if (!command) throw new Error(`${version}/${name}: no restic subcommand in ${meta.command}`);
      const stderrLines = readFileSync(join(ROOT, version, `${name}.stderr`), "utf8").split("\n");
      if (stderrLines.at(-1) === "") stderrLines.pop();
      out.push({
        key: `${version}/${name}`,
        command,
        exitCode: meta.exitCode,
        signal: meta.signal,
        stderrLines,
        version,
      });
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

// Which rule decides each failing fixture. Every fixture is listed once, every rule at least once.
const DECIDED_BY: Record<string, string[]> = {
  "go-runtime-error": ["0.14.0/sigquit-backup", "0.18.0/sigquit-backup"],
  "killed-by-signal": ["0.14.0/sigkill-backup", "0.18.0/sigkill-backup"],
  interrupted: [
    "0.14.0/sigint-backup",
    // 0.17+ retries an unreachable backend; the recorder stopped these with SIGINT after 20 s.
    "0.18.0/rest-down",
    "0.18.0/rest-down-backup",
    "0.18.0/rest-tls-unknown-ca",
    "0.18.0/sigint-backup",
    "0.18.0/sigterm-backup",
  ],
  "repository-damaged": ["0.14.0/backup-index-missing", "0.18.0/backup-index-missing"],
  "backup-partial": [
    "0.14.0/backup-unreadable",
    "0.18.0/backup-unreadable",
    "0.19.1/backup-missing-one-source",
  ],
  locked: [
    "0.14.0/locked-exclusive",
    "0.14.0/locked-live",
    "0.14.0/locked-stale",
    "0.16.4/locked",
    "0.17.3/locked",
    "0.18.0/forget-locked-json",
    "0.18.0/locked-exclusive",
    "0.18.0/locked-exclusive-retry-lock",
    "0.18.0/locked-live",
    "0.18.0/locked-live-json",
    "0.18.0/locked-retry-lock",
    "0.18.0/locked-stale",
    "0.18.1/locked-stale",
  ],
  "wrong-password": [
    "0.14.0/wrong-password",
    "0.17.3/wrong-password",
    "0.18.0/wrong-password",
    "0.18.0/wrong-password-text",
    "0.18.1/wrong-password",
  ],
  "empty-password": ["0.14.0/no-password", "0.18.0/empty-password-file", "0.18.0/no-password"],
  "repo-not-found-code": [
    "0.17.3/repo-not-found",
    "0.18.0/repo-not-found",
    "0.18.0/repo-not-found-backup",
    "0.18.0/repo-not-found-text",
    "0.18.1/repo-not-found",
  ],
  "access-refused": [
    "0.14.0/rest-401",
    "0.14.0/rest-401-wrong-credentials",
    "0.14.0/rest-403-append-only",
    "0.18.0/rest-401",
    "0.18.0/rest-401-wrong-credentials",
    "0.18.0/rest-403-prune",
  ],
  "backend-unreachable": [
    "0.14.0/rest-down",
    "0.14.0/rest-tls-unknown-ca",
    "0.14.0/sftp-refused",
    "0.18.0/sftp-refused",
  ],
  "repo-not-found-text": ["0.14.0/repo-not-found"],
  "repo-exists": ["0.14.0/init-exists", "0.18.0/init-exists"],
  "unknown-option": ["0.14.0/unknown-flag", "0.18.0/unknown-flag"],
  "all-sources-missing": [
    "0.14.0/backup-missing-source",
    "0.18.0/backup-missing-source",
    "0.18.0/backup-missing-sources",
  ],
  "no-matching-id": ["0.18.0/ls-unknown-id", "0.18.0/restore-json-unknown-id"],
  "check-found-errors": ["0.14.0/check-corrupt", "0.18.0/check-corrupt", "0.18.0/check-json-corrupt"],
  "lock-refresh-failed": ["0.17.3/lock-refresh-failed"],
  "forget-partial": ["0.19.1/forget-remove-failed"],
  "permission-denied": ["0.14.0/permission-denied", "0.18.0/permission-denied"],
  unclassified: ["0.18.0/forget-json-no-policy"],
};

const FAILURES = failingFixtures();

function explain(f: Failure) {
  const version = parseResticVersion(`restic ${f.version} compiled with go1.22.0 on linux/amd64`);
  if (!version) throw new Error(f.version);
  return explainResticFailure({
    exitCode: f.exitCode,
    signal: f.signal,
    stderrLines: f.stderrLines,
    version,
    command: f.command,
  });
}

describe("the restic error table against every failing fixture of every version", () => {
  it("names each rule once, with a kind holdfast records", () => {
    const ids = RESTIC_ERROR_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rule of RESTIC_ERROR_RULES) expect(ERROR_KINDS).toContain(rule.kind);
    // The table ends with the rule that always answers.
    expect(ids.at(-1)).toBe("unclassified");
  });

  it("lists every failing fixture once, and every rule", () => {
    const listed = Object.values(DECIDED_BY).flat();
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(FAILURES.map((f) => f.key));
    expect(Object.keys(DECIDED_BY).sort()).toEqual(RESTIC_ERROR_RULES.map((r) => r.id).sort());
  });

  it.each(RESTIC_ERROR_RULES.map((rule) => [rule.id, rule] as const))(
    "%s: decides exactly its fixtures, each with its kind",
    (id, rule) => {
      const decided = FAILURES.filter((f) => explain(f).rule === id).map((f) => f.key);
      // A rule no fixture reaches is untested: record (or synthesize) the output it is written for.
      expect(decided.length, `rule ${id} matches no fixture`).toBeGreaterThan(0);
      expect(decided).toEqual([...(DECIDED_BY[id] ?? [])].sort());
      for (const f of FAILURES.filter((x) => decided.includes(x.key))) {
        const { error } = explain(f);
        expect(error.kind, f.key).toBe(rule.kind);
        // One readable line, never a dump.
        expect(error.message, f.key).not.toMatch(/\n|^\{|^Fatal:/);
        expect(error.message, f.key).not.toContain("\u001b");
      }
    },
  );

  it("a Go crash is named by the runtime's own header, not the last line of its register dump", () => {
    for (const key of DECIDED_BY["go-runtime-error"] ?? []) {
      const f = FAILURES.find((x) => x.key === key)!;
      expect(explain(f).error.message, key).toBe("SIGQUIT: quit");
    }
  });
});
