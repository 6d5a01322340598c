// Output conventions: human lines on stdout (colour only on a TTY and without NO_COLOR), JSON with
// --json, diagnostics on stderr. Plain lines without a TTY, so journald logs read well.
import fs from "node:fs";

export const isTTY = Boolean(process.stdout.isTTY);

// Output is best effort (issue 12, targets.md R9): a reader that goes away — `holdfast run | head`,
// a pager quit, journald restarted — must not stop a backup or print a stack trace. Node reports a
// write to a closed pipe as an 'error' event (EPIPE) on process.stdout/stderr, and an 'error' event
// with no listener ends the process. One listener per stream, installed before any command runs,
// turns that into "this stream is closed": later writes go nowhere, the command goes on.
const guardedStreams = new WeakSet<NodeJS.WriteStream>();
const closedStreams = new WeakSet<NodeJS.WriteStream>();

export function makeOutputBestEffort(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (guardedStreams.has(stream)) continue;
    guardedStreams.add(stream);
    stream.on("error", () => closedStreams.add(stream));
  }
}

/** True once stdout's reader has gone away: commands that would print forever (logs --follow) stop. */
export function stdoutClosed(): boolean {
  return closedStreams.has(process.stdout);
}

// Each stream decides for itself: `holdfast run 2>err.log` on a terminal colours stdout, not the file.
const colorsFor = (tty: boolean) => {
  const on = tty && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  const wrap = (code: number) => (text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { red: wrap(31), green: wrap(32), yellow: wrap(33), blue: wrap(34), dim: wrap(2), bold: wrap(1) };
};
/** Colour for what goes to stdout. */
export const color = colorsFor(isTTY);
/** Colour for what goes to stderr (error:, warning:, hint lines). */
export const errColor = colorsFor(Boolean(process.stderr.isTTY));

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function statusColor(status: string): string {
  switch (status) {
    case "succeeded":
    case "ok":
      return color.green(status);
    case "warning":
    case "running":
    case "never":
      return color.yellow(status);
    case "skipped":
    case "pending":
      return color.dim(status);
    default:
      return color.red(status);
  }
}

/** Fixed-width table for human output; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex -- ANSI colour codes have no width
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visible(cell))))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function age(fromIso: string | null, now = Date.now()): string {
  if (!fromIso) return "-";
  const ms = now - Date.parse(fromIso);
  if (ms < 0) return "in the future";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m ago`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h ago`;
}

// journald priorities (issue 17 item 8): under systemd, stdout and stderr are a stream into the
// journal, and a line starting with an sd-daemon(3) prefix such as "<3>" is stored with that
// priority — so `journalctl -p warning` finds failed steps and warnings. systemd says which stream is
// the journal in JOURNAL_STREAM ("DEVICE:INODE", systemd.exec(5)); anywhere else (a TTY, a pipe, a
// file, cron) the prefix would be noise and is never written.
export const SD_PREFIX = { err: "<3>", warning: "<4>", notice: "<5>" } as const;
export type JournalLevel = keyof typeof SD_PREFIX;
const journalFds = new Map<number, boolean>();

/** This file descriptor is the journal stream systemd connected (JOURNAL_STREAM matches its fstat). */
export function isJournalStream(fd: number): boolean {
  let result = journalFds.get(fd);
  if (result === undefined) {
    const match = /^(\d+):(\d+)$/.exec(process.env.JOURNAL_STREAM ?? "");
    try {
      const stat = match ? fs.fstatSync(fd, { bigint: true }) : null;
      result = stat !== null && stat.dev === BigInt(match![1]!) && stat.ino === BigInt(match![2]!);
    } catch {
      result = false;
    }
    journalFds.set(fd, result);
  }
  return result;
}

/** The sd-daemon prefix for a line of this level on this stream: "<3>" on the journal, "" elsewhere. */
export function journalPrefix(level: JournalLevel, stream: { fd?: number } = process.stdout): string {
  return typeof stream.fd === "number" && isJournalStream(stream.fd) ? SD_PREFIX[level] : "";
}
