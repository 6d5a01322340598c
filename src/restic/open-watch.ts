// Is restic still trying to open the repository? restic 0.17+ retries a backend that refuses the
// connection (or presents a TLS certificate from an unknown CA) for up to 15 minutes while opening
// the repository, printing only lines like
//   Stat(<config/>) returned error, retrying after 1.157898275s: Head "http://…/config": dial tcp …: connect: connection refused
// (measured with 0.18.0, restic-notes.md §9); 0.14 fails at once. The watch reads restic's output
// line by line and answers "still retrying to open, since when, and why" so that exec.ts can stop
// restic after restic.open_timeout and report `network` with restic's own cause — for every command,
// because every command opens the repository the same way.
//
// Opening means: the config file (Stat/Load of <config/>) and the keys (List(key), Load of <key/…>).
// Any other backend operation, any stdout line other than the few restic prints before opening, and
// 0.15+'s "operation successful after N retries" mean restic got past that point; after it, retries
// belong to the work itself (an outage mid-run), which restic's own retries and the step's deadline
// handle (exec.ts, stopBeforeDeadline).
import { parseGoDuration } from "./errors.js";
import { stripAnsi } from "./outputs.js";

/** `OP(<handle>) returned error, retrying after DURATION: CAUSE` (every restic version). */
const RETRY_LINE = /^(.*?) returned error, retrying after ([0-9.]+[a-zµμ]+): (.*)$/;
/** The operations of opening a repository: its config file and its keys. */
const OPEN_OPERATION = /<config\/|<key\/|^List\(key\)|^Stat\(<config|^Load\(<config/;
/** What restic prints before it opens the repository (check, prune: on stdout, as text). */
const BEFORE_OPEN_TEXT =
  /^(using temporary cache in |create (exclusive )?lock for repository|unable to create temporary directory for cache|created new cache in |no parent snapshot found|read password from |enter password for repository)/i;
/**
 * How long after a retry line restic may take before its next one: the announced wait plus the
 * attempt itself (restic's HTTP client gives a connection 30 s to be made, a blackholed address
 * takes that long to fail). Without a new line by then the retry succeeded silently (0.14 says nothing).
 */
const ATTEMPT_ALLOWANCE_MS = 35_000;

export interface RetryLine {
  /** "Stat(<config/>)", "Save(<data/aec147c496>)". */
  operation: string;
  /** The wait restic announced, in ms. */
  waitMs: number;
  /** restic's underlying error: `Head "http://…/config": dial tcp 127.0.0.1:1: connect: connection refused`. */
  cause: string;
}

/** Reads one of restic's backend retry lines, or null. */
export function parseRetryLine(line: string): RetryLine | null {
  const m = RETRY_LINE.exec(stripAnsi(line).trim());
  if (!m) return null;
  return {
    operation: m[1]?.trim() ?? "",
    waitMs: parseGoDuration(m[2] ?? "") ?? 0,
    cause: (m[3] ?? "").trim(),
  };
}

const RETRY_MARK = " returned error, retrying after ";

/** The underlying error of the last retry line among `lines`, or null (for messages after a stop). */
export function lastRetryCause(lines: readonly string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    // Lines are sometimes glued together with no newline (restic-notes.md §5): take the last mark.
    const text = stripAnsi(lines[i] ?? "");
    const at = text.lastIndexOf(RETRY_MARK);
    if (at === -1) continue;
    const rest = text.slice(at + RETRY_MARK.length);
    const colon = rest.indexOf(": ");
    if (colon !== -1) return rest.slice(colon + 2).trim();
  }
  return null;
}

export interface OpenWatch {
  /** Feed every line restic prints, with the time it arrived (epoch ms). */
  line(text: string, stream: "stdout" | "stderr", at: number): void;
  /** True while restic has not opened the repository and is retrying to (its last retry is still live). */
  stillOpening(now: number): boolean;
  /** restic got past opening (or never had to retry). */
  opened(): boolean;
  /** The cause of restic's last retry while opening. */
  cause(): string | null;
  /** How many times restic retried while opening. */
  retries(): number;
}

export function createOpenWatch(): OpenWatch {
  let opened = false;
  let last: { at: number; waitMs: number; cause: string } | null = null;
  let count = 0;
  return {
    line(text, stream, at) {
      if (opened) return;
      for (const piece of stripAnsi(text).split("\n")) {
        const line = piece.trim();
        if (line === "") continue;
        const retry = parseRetryLine(line);
        if (retry) {
          if (OPEN_OPERATION.test(retry.operation)) {
            last = { at, waitMs: retry.waitMs, cause: retry.cause };
            count++;
          } else opened = true;
          continue;
        }
        // 0.15+: "Load(<key/…>, 0, 0) operation successful after 3 retries".
        if (/operation successful after \d+ retr/.test(line)) {
          last = null;
          continue;
        }
        if (stream === "stdout" && !BEFORE_OPEN_TEXT.test(line)) opened = true;
      }
    },
    stillOpening(now) {
      if (opened || last === null) return false;
      return now <= last.at + last.waitMs + ATTEMPT_ALLOWANCE_MS;
    },
    opened: () => opened,
    cause: () => last?.cause ?? null,
    retries: () => count,
  };
}
