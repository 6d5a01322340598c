// The restic version, detected once per run from `restic version`, and the features it implies.
// Users run anything from 0.14 to 0.19 (restic-notes.md); every version-specific fact below names
// the release it belongs to, so the parsers and the classifier can ask "does this restic do X?".

export interface ResticVersion {
  major: number;
  minor: number;
  patch: number;
  /** Text after the dash: "dev" for a development build ("0.17.3-dev"), "rc1", …; null for a release. */
  suffix: string | null;
  /** Text in parentheses after the version: "v0.17.3-12-gabc1234", "compiled manually"; null when absent. */
  build: string | null;
  /** "go1.19.8", or null when the line does not say. */
  goVersion: string | null;
  os: string | null;
  arch: string | null;
  /** "0.17.3" or "0.17.3-dev". */
  text: string;
}

// `restic version` prints `restic 0.14.0 compiled with go1.19.8 on linux/amd64` (release),
// `restic 0.17.3 (v0.17.3-5-g1a2b3c4) compiled with …` (built from git), or
// `restic 0.17.3-dev (compiled manually) compiled with …` (dev build). Some packagers prefix a "v".
const VERSION_LINE =
  /^restic\s+v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z][0-9A-Za-z.+-]*))?(?:\s+\(([^)]*)\))?(?:\s+compiled with\s+(\S+)\s+on\s+([^/\s]+)\/(\S+))?/;
const BARE_VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z][0-9A-Za-z.+-]*))?(?:\s+\(([^)]*)\))?\s*$/;

/**
 * Parses the output of `restic version` (text in every version) or `restic version --json` (0.17+:
 * `{"message_type":"version","version":"0.17.3","go_version":"go1.23.3","go_os":"linux","go_arch":"amd64"}`).
 * Returns null when no restic version is found.
 */
export function parseResticVersion(text: string): ResticVersion | null {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("{")) {
      const fromJson = parseVersionJson(line);
      if (fromJson) return fromJson;
      continue;
    }
    const m = VERSION_LINE.exec(line);
    if (m) {
      return makeVersion(m[1], m[2], m[3], m[4], m[5], m[6] ?? null, m[7] ?? null, m[8] ?? null);
    }
  }
  return null;
}

function parseVersionJson(line: string): ResticVersion | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const o = value as Record<string, unknown>;
  if (typeof o.version !== "string") return null;
  const m = BARE_VERSION.exec(o.version.trim());
  if (!m) return null;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  return makeVersion(m[1], m[2], m[3], m[4], m[5], str(o.go_version), str(o.go_os), str(o.go_arch));
}

function makeVersion(
  major: string | undefined,
  minor: string | undefined,
  patch: string | undefined,
  suffix: string | undefined,
  build: string | undefined,
  goVersion: string | null,
  os: string | null,
  arch: string | null,
): ResticVersion {
  const v = {
    major: Number(major),
    minor: Number(minor),
    patch: Number(patch),
    suffix: suffix ?? null,
    build: build?.trim() || null,
    goVersion,
    os,
    arch,
  };
  return { ...v, text: `${v.major}.${v.minor}.${v.patch}${v.suffix ? `-${v.suffix}` : ""}` };
}

function parseTriple(min: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(min.trim());
  if (!m) throw new Error(`not a version: "${min}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/**
 * Orders versions by major.minor.patch only. restic's `-dev` suffix marks a build made *after* that
 * release (the VERSION file is bumped to "0.17.3-dev" once 0.17.3 is out), so a dev build has every
 * feature of its base release; that is why the suffix is ignored rather than sorted before the release.
 */
export function compareVersions(a: ResticVersion | string, b: ResticVersion | string): number {
  const [a1, a2, a3] = typeof a === "string" ? parseTriple(a) : [a.major, a.minor, a.patch];
  const [b1, b2, b3] = typeof b === "string" ? parseTriple(b) : [b.major, b.minor, b.patch];
  return a1 - b1 || a2 - b2 || a3 - b3;
}

/** True when v is at least `min` ("0.17.1"). An unknown version (null) is at least nothing. */
export function versionAtLeast(v: ResticVersion | null, min: string): boolean {
  return v !== null && compareVersions(v, min) >= 0;
}

/** What a restic version does differently. Unknown version → every flag false (behave as for 0.14). */
export interface ResticFeatures {
  /** 0.15: backup summary `snapshot_id` is the full 64-hex ID (0.14: the 8-char short ID). */
  fullSnapshotIds: boolean;
  /** 0.15: `init --json` prints `{"message_type":"initialized",…}` (0.14: text). */
  initJson: boolean;
  /** 0.15: copy prints "skipping source snapshot …, was already copied …" only with -v (0.14: always). */
  copySkipNeedsVerbose: boolean;
  /** 0.15: `ls <unknown id>` exits 1 (0.14: prints "Ignoring …" and exits 0). */
  lsUnknownIdFails: boolean;
  /** 0.16: `--retry-lock <duration>` exists (0.14 has no lock retry: the wrapper retries). */
  retryLock: boolean;
  /** 0.16: restore prints JSON status/summary lines with `--json` (0.14: text only). */
  restoreJson: boolean;
  /** 0.16: `scan_finished` is typed `verbose_status` (0.14 typed it `status`). */
  scanFinishedIsVerbose: boolean;
  /** 0.16: snapshots carry `program_version`. */
  snapshotProgramVersion: boolean;
  /** 0.16.1: RESTIC_REST_USERNAME / RESTIC_REST_PASSWORD (0.14: credentials only in the URL). */
  restUserEnv: boolean;
  /** 0.16.1: `-o sftp.args=…` exists. */
  sftpArgs: boolean;
  /** 0.17.0: exit codes 10 (repository does not exist) and 11 (failed to lock). */
  exitCodes10to12: boolean;
  /** 0.17.1: exit code 12 (wrong password). */
  exitCode12: boolean;
  /** 0.17.0: SIGTERM is handled like SIGINT (lock removed); 0.14 dies and leaves its lock. */
  sigtermClean: boolean;
  /** 0.17.0: `ls --json` lines carry `message_type` besides the deprecated `struct_type`. */
  lsMessageType: boolean;
  /** 0.17.0: backup summary has `data_added_packed`; snapshots carry a `summary` object. */
  dataAddedPacked: boolean;
  snapshotSummary: boolean;
  /** 0.17.0: `version --json` prints JSON (0.14: text even with --json). */
  versionJson: boolean;
  /** 0.17.0: backend operations are retried for up to 15 minutes (0.14: 10 tries, ~45 s). */
  longBackendRetries: boolean;
  /** 0.17.1: backup/restore JSON `error` lines carry `{"message": …}` (0.14: a raw Go error struct, often {}). */
  jsonErrorMessages: boolean;
  /** 0.18.0: fatal errors with --json are printed as one `exit_error` JSON line on stderr. */
  jsonExitErrors: boolean;
  /** 0.18.0: backup summary has `backup_start` / `backup_end`. */
  backupStartEnd: boolean;
  /** 0.18.0: `check --json` prints a JSON `summary` (and `error` lines on stderr); 0.14: text. */
  checkJson: boolean;
  /** 0.18.0: `tag --json` prints `changed`/`summary` lines. */
  tagJson: boolean;
  /** 0.19.0: a missing source path makes backup exit 3 (0.14: 0 with a warning, 1 if all are missing). */
  missingSourceIsPartial: boolean;
  /** 0.19.0: default progress rate with --json is 10 lines/s (0.14–0.18: 60/s regardless of TTY). */
  defaultProgressFps: number;
}

export function resticFeatures(v: ResticVersion | null): ResticFeatures {
  const at = (min: string) => versionAtLeast(v, min);
  return {
    fullSnapshotIds: at("0.15.0"),
    initJson: at("0.15.0"),
    copySkipNeedsVerbose: at("0.15.0"),
    lsUnknownIdFails: at("0.15.0"),
    retryLock: at("0.16.0"),
    restoreJson: at("0.16.0"),
    scanFinishedIsVerbose: at("0.16.0"),
    snapshotProgramVersion: at("0.16.0"),
    restUserEnv: at("0.16.1"),
    sftpArgs: at("0.16.1"),
    exitCodes10to12: at("0.17.0"),
    exitCode12: at("0.17.1"),
    sigtermClean: at("0.17.0"),
    lsMessageType: at("0.17.0"),
    dataAddedPacked: at("0.17.0"),
    snapshotSummary: at("0.17.0"),
    versionJson: at("0.17.0"),
    longBackendRetries: at("0.17.0"),
    jsonErrorMessages: at("0.17.1"),
    jsonExitErrors: at("0.18.0"),
    backupStartEnd: at("0.18.0"),
    checkJson: at("0.18.0"),
    tagJson: at("0.18.0"),
    missingSourceIsPartial: at("0.19.0"),
    defaultProgressFps: at("0.19.0") ? 10 : 60,
  };
}
