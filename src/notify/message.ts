// What every notifier says about an event: a one-line title, a plain-text body with the step table,
// the tail of the run's logs, and the figures. Everything here has passed the redactor (S1).
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { NotifyEvent } from "../config/types.js";
import type { RunRecord, StepRecord } from "../store/types.js";
import { createLineSplitter } from "../util/process.js";
import type { Redactor } from "../util/redact.js";
import { formatBytes, formatDuration } from "../util/units.js";
import { openFlags, READ_NO_FOLLOW } from "../util/trusted-dir.js";
import { findStepLog } from "../engine/step-log.js";
import type { NotifyMessage } from "./notifier-kind.js";
import { truncateStart } from "./truncate.js";

export interface MessageInput {
  event: NotifyEvent;
  job: string;
  host: string;
  run: RunRecord | null;
  details?: Record<string, unknown>;
  at: Date;
  /** The raw log tail (redacted again here). */
  logTail?: string;
}

export function createNotifyMessage(input: MessageInput, redactor: Redactor): NotifyMessage {
  const details = input.details ?? {};
  const run = input.run ? redactDeep(input.run, redactor) : null;
  return {
    event: input.event,
    job: input.job,
    host: input.host,
    at: input.at.toISOString(),
    run,
    title: redactor.redact(formatTitle(input.event, input.job, input.host, run, details)),
    text: redactor.redact(formatText(input.event, input.job, input.host, run, details, input.at)),
    logTail: redactor.redact(input.logTail ?? ""),
    details: redactDeep(details, redactor),
  };
}

/** Masks secrets in every string of a JSON-like value (keys included), keeping its shape. */
export function redactDeep<T>(value: T, redactor: Redactor): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactor.redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [redactor.redact(k), walk(x)]),
      );
    }
    return v;
  };
  return walk(value) as T;
}

const firstFailedStep = (run: RunRecord): StepRecord | undefined =>
  run.steps.find((s) => s.status === "failed" || s.status === "timed_out" || s.status === "cancelled");

export function formatTitle(
  event: NotifyEvent,
  job: string,
  host: string,
  run: RunRecord | null,
  details: Record<string, unknown>,
): string {
  const took = run?.duration_ms != null ? ` in ${formatDuration(run.duration_ms)}` : "";
  switch (event) {
    case "start":
      return `[holdfast] ${job} started on ${host}`;
    case "success":
      return `[holdfast] ${job} succeeded on ${host}${took}`;
    case "warning": {
      const anomalies = Array.isArray(details.anomalies) ? details.anomalies.length : 0;
      if (run?.status !== "warning" && anomalies > 0) {
        return `[holdfast] ${job} on ${host}: ${anomalies} unusual figure${anomalies === 1 ? "" : "s"}`;
      }
      return `[holdfast] ${job} finished with warnings on ${host}${took}`;
    }
    case "failure": {
      const failed = run ? firstFailedStep(run) : undefined;
      const what =
        run?.status === "cancelled" || run?.status === "interrupted" ? run.status.toUpperCase() : "FAILED";
      const why = failed
        ? `: step ${failed.name}${failed.error ? ` (${failed.error.kind})` : ""}`
        : run?.error
          ? `: ${run.error.kind}`
          : "";
      return `[holdfast] ${job} ${what} on ${host}${why}`;
    }
    case "stale": {
      const staleFor = typeof details.stale_for_ms === "number" ? formatDuration(details.stale_for_ms) : "?";
      const maxAge = typeof details.max_age_ms === "number" ? formatDuration(details.max_age_ms) : "?";
      if (details.fleet === "missing")
        return `[holdfast] ${host} is MISSING: no report since ${typeof details.last_heard_at === "string" ? details.last_heard_at : "ever"} (expected by ${String(details.missing_after)}, the hub's clock)`;
      if (typeof details.history_error === "string")
        return `[holdfast] ${job} is STALE on ${host}: the backup history cannot be read (max_age ${maxAge})`;
      if (typeof details.clock === "string")
        return `[holdfast] ${job} is STALE on ${host}: its last success is recorded in the future (max_age ${maxAge})`;
      return `[holdfast] ${job} is STALE on ${host}: no successful run for ${staleFor} (max_age ${maxAge})`;
    }
    case "recovered": {
      if (details.previous === "missing") return `[holdfast] ${host} reports again after being missing`;
      const previous = details.previous === "stale" ? "being stale" : "failing";
      return `[holdfast] ${job} recovered on ${host} after ${previous}`;
    }
  }
}

function formatText(
  event: NotifyEvent,
  job: string,
  host: string,
  run: RunRecord | null,
  details: Record<string, unknown>,
  at: Date,
): string {
  const lines: string[] = [];
  if (run) {
    lines.push(`job ${job} on ${host}, run ${run.id} (${run.trigger})`);
    lines.push(
      `status: ${run.status}${run.exit_code !== null ? ` (exit ${run.exit_code})` : ""}, started ${run.started_at}` +
        (run.duration_ms !== null ? `, took ${formatDuration(run.duration_ms)}` : ""),
    );
    if (run.error) lines.push(`error: ${run.error.kind}: ${run.error.message}`);
    lines.push("", formatStepTable(run));
  } else {
    lines.push(`job ${job} on ${host}, at ${at.toISOString()}`);
  }
  if (event === "stale" && typeof details.history_error === "string") {
    lines.push(
      `the history cannot be read: ${details.history_error}`,
      "",
      "Whether the job ran cannot be known, so it counts as stale: run `holdfast doctor`, which says what is wrong with the history database and how to fix it.",
    );
  } else if (event === "stale" && details.fleet === "missing") {
    lines.push(
      `last report: ${typeof details.last_heard_at === "string" ? details.last_heard_at : "never"}`,
      // The deadline is its next scheduled run, or its report_every for a host with no scheduled job.
      `expected by: ${String(details.expected_at)} (its next run or report); missing after ${String(details.missing_after)} (fleet.missing_grace later)`,
      "",
      "The host has not reported since it was expected to (a scheduled run, or its fleet.report_every): check that it is up, its timers (`holdfast schedule list`) and `holdfast fleet sync` on it.",
    );
  } else if (event === "stale") {
    const last = typeof details.last_success_at === "string" ? details.last_success_at : "never";
    lines.push(`last success: ${last}`);
    if (typeof details.last_run_status === "string")
      lines.push(`last run: ${details.last_run_status} at ${String(details.last_run_started_at)}`);
    else lines.push("last run: none");
    if (typeof details.next_run_at === "string") lines.push(`next scheduled run: ${details.next_run_at}`);
    if (typeof details.clock === "string")
      lines.push(
        "",
        `The job counts as stale because ${details.clock}. Check this host's clock (timedatectl status, NTP); the next run with a correct clock ends it.`,
      );
    else
      lines.push(
        "",
        "The job has had no successful run within its max_age: check its timer (`holdfast schedule list`), its lock and its last log.",
      );
  }
  if (event === "recovered" && typeof details.previous === "string") {
    lines.push("", `The job was ${details.previous === "stale" ? "stale" : "failing"} before this run.`);
  }
  const anomalies = Array.isArray(details.anomalies) ? (details.anomalies as AnomalyLike[]) : [];
  if (anomalies.length > 0) {
    lines.push("", "Unusual figures (vs. the step's recent successful runs; the run's status is unchanged):");
    for (const a of anomalies) lines.push(`  ${describeAnomaly(a)}`);
  }
  return lines.join("\n");
}

interface AnomalyLike {
  step?: unknown;
  repo?: unknown;
  database?: unknown;
  figure?: unknown;
  value?: unknown;
  median?: unknown;
  threshold?: unknown;
  history?: unknown;
  direction?: unknown;
}

function describeAnomaly(a: AnomalyLike): string {
  const isBytes = a.figure !== "duration_ms";
  const fmt = (v: unknown) => (typeof v === "number" ? (isBytes ? formatBytes(v) : formatDuration(v)) : "?");
  const where = `${String(a.step)}${typeof a.repo === "string" ? ` → ${a.repo}` : ""}${typeof a.database === "string" ? ` (database ${a.database})` : ""}`;
  if (a.figure === "dump_missing")
    return `${where}: not dumped by this run, though the previous successful run dumped it (${fmt(a.median)}, in ${String(a.history)} of the recent runs)`;
  const figure =
    a.figure === "duration_ms" ? "duration" : a.figure === "dump_size" ? "dump size" : String(a.figure);
  return `${where}: ${figure} ${fmt(a.value)} is far ${a.direction === "low" ? "below" : "above"} its median ${fmt(a.median)} (allowed deviation ${fmt(a.threshold)}, ${String(a.history)} runs)`;
}

/** A plain-text table of the run's steps, with repository sub-results indented under their step. */
export function formatStepTable(run: RunRecord): string {
  const rows: string[][] = [["STEP", "TYPE", "STATUS", "DURATION", "DETAILS"]];
  for (const s of run.steps) {
    rows.push([
      s.name,
      s.type,
      s.status,
      s.duration_ms !== null ? formatDuration(s.duration_ms) : "-",
      s.error ? `${s.error.kind}: ${s.error.message}` : "",
    ]);
    for (const t of s.targets) {
      const figures: string[] = [];
      if (typeof t.data_added === "number") figures.push(`+${formatBytes(t.data_added)}`);
      if (typeof t.files_new === "number") figures.push(`${t.files_new} new`);
      if (typeof t.files_changed === "number") figures.push(`${t.files_changed} changed`);
      if (t.skipped_unchanged === true) figures.push("unchanged, no new snapshot");
      if (typeof t.snapshot_id === "string") figures.push(`snapshot ${t.snapshot_id.slice(0, 8)}`);
      if (t.error) figures.push(`${t.error.kind}: ${t.error.message}`);
      rows.push([
        `  → ${t.repo}`,
        "",
        t.status,
        t.duration_ms !== null ? formatDuration(t.duration_ms) : "-",
        figures.join(", "),
      ]);
    }
  }
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * The last lines of each step's log, oldest step first, at most maxBytes in all (the end is kept).
 * Logs are streamed, so a 20 MB restic -v log costs one line buffer, not 20 MB.
 */
export async function readRunLogTail(
  stateDir: string,
  run: RunRecord,
  { linesPerStep = 60, maxBytes = 64 * 1024 } = {},
): Promise<string> {
  const parts: string[] = [];
  for (const step of run.steps) {
    if (!step.log_path) continue;
    const file = findStepLog(stateDir, step.log_path);
    if (!file) continue;
    try {
      const lines = await readTailLines(file, linesPerStep);
      if (lines.length) parts.push(`== ${step.name} (${step.status}) ==\n${lines.join("\n")}`);
    } catch {
      // A missing or unreadable log only shortens the tail.
    }
  }
  const text = parts.join("\n");
  return truncateStart(text, maxBytes);
}

async function readTailLines(file: string, count: number): Promise<string[]> {
  const ring: string[] = [];
  const splitter = createLineSplitter((line) => {
    ring.push(line);
    if (ring.length > count) ring.shift();
  }, 4096);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      splitter.push(chunk);
      done();
    },
    final(done) {
      splitter.end();
      done();
    },
  });
  const input = fs.createReadStream(file, { flags: openFlags(READ_NO_FOLLOW) });
  if (file.endsWith(".gz")) await pipeline(input, createGunzip(), sink);
  else await pipeline(input, sink);
  return ring;
}
