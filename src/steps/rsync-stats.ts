// rsync's own numbers, read from its `--stats` block (rsync 3.1+ layout; recorded 3.5.0 output is in
// test/fixtures/rsync/), and what its exit codes mean (rsync(1), EXIT VALUES).

export interface RsyncStats {
  files_total: number | null;
  files_regular: number | null;
  dirs_total: number | null;
  files_created: number | null;
  /** From "Number of deleted files" (rsync 3.1+), else the count of "deleting …" lines. */
  files_deleted: number | null;
  files_transferred: number | null;
  bytes_total: number | null;
  /** Size of the files that were transferred (what changed). */
  bytes_transferred: number | null;
  bytes_literal: number | null;
  bytes_sent: number | null;
  bytes_received: number | null;
}

/** Collects the stats block and the lines worth reporting while rsync runs. */
export interface RsyncOutputCollector {
  push(line: string, stream: "stdout" | "stderr"): void;
  stats(): RsyncStats;
  /** Paths from "file has vanished" lines (first 20). */
  vanished(): string[];
  /** stderr lines that are errors rsync reported ("rsync: …", "ssh: …"), last 20. */
  errors(): string[];
  /** The first line that says the destination is full, over quota or read-only, and how many said so. */
  diskFull(): { line: string; count: number } | null;
}

// rsync prints the errno text of the receiver's failed write/mkdir/rename (strerror, all versions).
const DISK_FULL = /No space left on device|Disk quota exceeded|Read-only file system|\(28\)|\(122\)|\(30\)/;

const LABELS: Record<string, keyof RsyncStats> = {
  "Number of files": "files_total",
  "Number of created files": "files_created",
  "Number of deleted files": "files_deleted",
  "Number of regular files transferred": "files_transferred",
  "Total file size": "bytes_total",
  "Total transferred file size": "bytes_transferred",
  "Literal data": "bytes_literal",
  "Total bytes sent": "bytes_sent",
  "Total bytes received": "bytes_received",
};

export function createRsyncCollector(): RsyncOutputCollector {
  const stats = emptyStats();
  let deletingLines = 0;
  let sawDeletedStat = false;
  const vanished: string[] = [];
  const errors: string[] = [];
  let diskFull: { line: string; count: number } | null = null;
  return {
    push(line, stream) {
      if (stream === "stdout") {
        if (line.startsWith("deleting ")) deletingLines++;
        const parsed = parseStatsLine(line);
        if (parsed) {
          Object.assign(stats, parsed);
          if ("files_deleted" in parsed) sawDeletedStat = true;
        }
        return;
      }
      const gone = /^file has vanished: "(.*)"$/.exec(line);
      if (gone) {
        if (vanished.length < 20) vanished.push(gone[1] as string);
        return;
      }
      if (stream === "stderr" && DISK_FULL.test(line)) {
        if (diskFull) diskFull.count++;
        else diskFull = { line, count: 1 };
      }
      if (/^(rsync|ssh|rsync error|rsync warning)[:( ]/.test(line) || line.startsWith("ssh:")) {
        errors.push(line);
        if (errors.length > 20) errors.shift();
      }
    },
    stats() {
      return sawDeletedStat ? { ...stats } : { ...stats, files_deleted: deletingLines };
    },
    vanished: () => [...vanished],
    errors: () => [...errors],
    diskFull: () => (diskFull ? { ...diskFull } : null),
  };
}

/** Parses one line of the stats block; null for any other line. */
export function parseStatsLine(line: string): Partial<RsyncStats> | null {
  const colon = line.indexOf(": ");
  if (colon === -1) return null;
  const key = LABELS[line.slice(0, colon)];
  if (!key) return null;
  const rest = line.slice(colon + 2);
  const value = parseRsyncNumber(rest.split(" ")[0] ?? "");
  if (value === null) return null;
  const out: Partial<RsyncStats> = { [key]: value };
  if (key === "files_total") {
    // "Number of files: 8 (reg: 6, dir: 2, link: 1)"
    const reg = /\breg: ([\d,.]+[KMGTP]?)/.exec(rest);
    const dir = /\bdir: ([\d,.]+[KMGTP]?)/.exec(rest);
    out.files_regular = reg ? parseRsyncNumber(reg[1] as string) : value === 0 ? 0 : null;
    out.dirs_total = dir ? parseRsyncNumber(dir[1] as string) : value === 0 ? 0 : null;
  }
  return out;
}

/**
 * A number as rsync prints it: "15002", "15,002" (its default thousands separators), or with
 * --human-readable "1.23M" (units of 1000 with one -h, approximated — holdfast passes --no-h).
 */
export function parseRsyncNumber(text: string): number | null {
  const m = /^([\d,]+(?:\.\d+)?)([KMGTP]?)$/.exec(text.trim());
  if (!m) return null;
  const base = Number((m[1] as string).replace(/,/g, ""));
  if (!Number.isFinite(base)) return null;
  const power = m[2] ? "KMGTP".indexOf(m[2]) + 1 : 0;
  return Math.round(base * 1000 ** power);
}

export function emptyStats(): RsyncStats {
  return {
    files_total: null,
    files_regular: null,
    dirs_total: null,
    files_created: null,
    files_deleted: null,
    files_transferred: null,
    bytes_total: null,
    bytes_transferred: null,
    bytes_literal: null,
    bytes_sent: null,
    bytes_received: null,
  };
}

/** rsync(1) "EXIT VALUES". */
export const RSYNC_EXIT_CODES: Readonly<Record<number, string>> = {
  1: "syntax or usage error",
  2: "protocol incompatibility",
  3: "errors selecting input/output files, dirs",
  4: "requested action not supported (an option the other side does not support, or 64-bit files)",
  5: "error starting client-server protocol",
  6: "daemon unable to append to log-file",
  10: "error in socket I/O",
  11: "error in file I/O",
  12: "error in rsync protocol data stream",
  13: "errors with program diagnostics",
  14: "error in IPC code",
  20: "received SIGUSR1 or SIGINT",
  21: "some error returned by waitpid()",
  22: "error allocating core memory buffers",
  23: "partial transfer due to error",
  24: "partial transfer due to vanished source files",
  25: "the --max-delete limit stopped deletions",
  30: "timeout in data send/receive",
  35: "timeout waiting for daemon connection",
  255: "unexplained error (usually the remote shell, ssh, failed)",
};

export function describeRsyncExit(code: number): string {
  return RSYNC_EXIT_CODES[code] ?? `unknown rsync exit code ${code}`;
}

/** What to try for a failing rsync exit code. */
export function hintForRsyncExit(code: number): string {
  switch (code) {
    case 1:
      return "check rsync_args and exclude in the step's config; `holdfast run --dry-run` shows the exact command";
    case 2:
    case 4:
      return "the two sides run incompatible rsync versions or options; update rsync on the remote, or drop the option";
    case 3:
      return "check that `from` exists and `to` is writable";
    case 5:
    case 10:
    case 12:
    case 255:
      return "check that the host is reachable and that `ssh HOST rsync --version` works non-interactively (keys, known_hosts; ssh_command)";
    case 11:
      return "check free space and permissions on the destination";
    case 25:
      return "more files would be deleted than --max-delete allows; check that the source is complete";
    case 30:
    case 35:
      return "the other side stopped answering; check the network, or raise --timeout in rsync_args";
    default:
      return "see rsync's messages in the step log: holdfast logs RUN --step NAME";
  }
}

export interface RsyncVerdict {
  status: "succeeded" | "warning" | "failed";
  kind: "partial" | "network" | "exit_code" | "disk_full" | null;
  message: string | null;
  hint: string | null;
}

/** Turns rsync's exit code and what it printed into a step status with rsync's own reason. */
export function judgeRsyncExit(
  code: number,
  collector: Pick<RsyncOutputCollector, "stats" | "vanished" | "errors"> &
    Partial<Pick<RsyncOutputCollector, "diskFull">>,
  remoteHost: string | null,
): RsyncVerdict {
  if (code === 0) return { status: "succeeded", kind: null, message: null, hint: null };
  // A full, over-quota or read-only destination is no partial transfer (code 23 or 11/12 alike): the
  // mirror is missing whatever did not fit, so the step fails and says so.
  const full = collector.diskFull?.() ?? null;
  if (full) {
    const what = /quota|\(122\)/i.test(full.line)
      ? "over its quota"
      : /read-only|\(30\)/i.test(full.line)
        ? "read-only"
        : "out of space (or inodes)";
    return {
      status: "failed",
      kind: "disk_full",
      message: `the destination is ${what}: ${full.line}${full.count > 1 ? ` (and ${full.count - 1} more such errors)` : ""} (rsync code ${code})`,
      hint: "free space or inodes on the destination (df -h; df -i), raise its quota or remount it read-write, then run the mirror again: files that did not fit are missing from the mirror",
    };
  }
  const errors = collector.errors().filter((l) => !/^rsync (error|warning):/.test(l));
  const meaning = describeRsyncExit(code);
  const firstErrors = errors.slice(0, 3).join("; ");
  if (code === 24) {
    const gone = collector.vanished();
    return {
      status: "warning",
      kind: "partial",
      message:
        `some files vanished before they could be transferred (rsync code 24)` +
        (gone.length ? `: ${gone.slice(0, 5).join(", ")}${gone.length > 5 ? ", …" : ""}` : ""),
      hint: "files were deleted while rsync ran; the next run picks up the current state",
    };
  }
  const filesSeen = collector.stats().files_total;
  if (code === 23 && filesSeen !== null && filesSeen > 0) {
    return {
      status: "warning",
      kind: "partial",
      message: `partial transfer due to error (rsync code 23)${firstErrors ? `: ${firstErrors}` : ""}`,
      hint: "some files or attributes were not copied (permissions?); see the step log",
    };
  }
  // ssh's own line comes first when the remote side never started; rsync then reports code 12 or 255.
  const sshLine = errors.find(
    (l) => l.startsWith("ssh:") || /^ssh_exchange|^Connection (closed|timed out)/.test(l),
  );
  const neverConnected = errors.some((l) =>
    l.includes("connection unexpectedly closed (0 bytes received so far)"),
  );
  if (
    remoteHost !== null &&
    [5, 10, 12, 35, 255].includes(code) &&
    (sshLine !== undefined || neverConnected)
  ) {
    return {
      status: "failed",
      kind: "network",
      message: `cannot reach ${remoteHost}: ${sshLine ?? errors[0] ?? meaning} (rsync code ${code}: ${meaning})`,
      hint: hintForRsyncExit(code),
    };
  }
  if (code === 23) {
    return {
      status: "failed",
      kind: "exit_code",
      message: `nothing was transferred (rsync code 23: ${meaning})${firstErrors ? `: ${firstErrors}` : ""}`,
      hint: "check that `from` exists and is readable (an unmounted disk?)",
    };
  }
  const missingParent = errors.some((l) => /\bmkdir ".*" failed: No such file or directory/.test(l));
  return {
    status: "failed",
    kind: "exit_code",
    message: `rsync failed with code ${code} (${meaning})${firstErrors ? `: ${firstErrors}` : ""}`,
    hint: missingParent
      ? `the destination's parent directory does not exist; rsync creates only the last level${remoteHost ? ` (on ${remoteHost}: ssh ${remoteHost} mkdir -p DIR)` : ""}`
      : hintForRsyncExit(code),
  };
}
