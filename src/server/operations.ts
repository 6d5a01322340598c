// Restores and downloads the API runs itself (restic through runRestic and util/process.ts), each
// recorded in the history like a run — job "@restore" / "@download", trigger api, one step whose
// summary says who asked, what, where and what came of it — and published as `operation` events.
// A restore's result is what restic reports (0.16+: its JSON summary) or, for 0.14 into a new
// directory, what is on disk afterwards; 0 files is "nothing restored", never "finished".
import fs from "node:fs";
import path from "node:path";
import { monotonicFactory } from "ulid";
import type { Config } from "../config/schema.js";
import { detectRestic } from "../restic/detect.js";
import { runRestic, type ResticOutcome } from "../restic/exec.js";
import { versionAtLeast } from "../restic/version.js";
import type { RunStore, StepStatus } from "../store/types.js";
import { ERROR_KINDS, stepError, type ErrorKind, type StepError } from "../errors.js";
import type { Redactor } from "../util/redact.js";
import { formatBytes } from "../util/units.js";
import type { OperationResponse, OperationState, Progress, RestoreSummary } from "./api-types.js";
import type { EventBus } from "./events.js";
import type { ServerResticHost } from "./restic-host.js";

export const RESTORE_JOB = "@restore";
export const DOWNLOAD_JOB = "@download";
/** How long POST /api/restore waits for the restore to end before answering 202 with its id. */
export const RESTORE_WAIT_MS = 5_000;
const KEEP_OPERATIONS = 200;
const WOULD_RESTORE_MAX = 1_000;
const PROGRESS_INTERVAL_MS = 1_000;

const newId = monotonicFactory();

export interface Operation {
  response: OperationResponse;
  done: Promise<void>;
  cancel: AbortController;
}

/** Where a restore goes, known once its snapshot is found. */
export interface RestoreWhere {
  snapshotId: string;
  /** The directory made for it, or "/" for the original location. */
  target: string;
  /** The new directory's count on disk afterwards is the truth (restic 0.14 says nothing). */
  newDirectory: boolean;
  /** Checks the target is still the directory made for it; called just before restic starts. */
  check: () => void;
}

/** A reason a restore could not start, as recorded: the API's refusal mapped to a step error kind. */
function stepErrorOf(err: unknown): StepError {
  const e = err as {
    message?: string;
    hint?: string | null;
    status?: number;
    extra?: Record<string, unknown>;
  };
  const message = e.message ?? String(err);
  const resticKind = e.extra?.restic_kind;
  const kind: ErrorKind =
    typeof resticKind === "string" && (ERROR_KINDS as readonly string[]).includes(resticKind)
      ? (resticKind as ErrorKind)
      : e.status === 404
        ? "not_found"
        : e.status === 400 || e.status === 409
          ? "guard"
          : "internal";
  return stepError(kind, message, e.hint ?? null);
}

export interface OperationsOptions {
  config: Config;
  store: RunStore;
  redactor: Redactor;
  events: EventBus;
  resticHost: ServerResticHost;
  logError: (message: string) => void;
}

/** A path of a snapshot as a restic --include pattern: glob characters matched literally. */
export function literalPattern(p: string): string {
  return p.replace(/[\\*?[]/g, (c) => `\\${c}`);
}

function countTree(dir: string): { entries: number; bytes: number } {
  let entries = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      entries++;
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) bytes += fs.lstatSync(full).size;
    }
  };
  walk(dir);
  return { entries, bytes };
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export class Operations {
  private readonly ops = new Map<string, Operation>();

  constructor(private readonly o: OperationsOptions) {}

  get(id: string): Operation | undefined {
    return this.ops.get(id);
  }

  running(): OperationResponse[] {
    return [...this.ops.values()].filter((op) => op.response.state === "running").map((op) => op.response);
  }

  private keep(op: Operation): void {
    this.ops.set(op.response.id, op);
    while (this.ops.size > KEEP_OPERATIONS) {
      const oldest = [...this.ops.values()].find((x) => x.response.state !== "running");
      if (!oldest) break;
      this.ops.delete(oldest.response.id);
    }
  }

  private publish(op: Operation): void {
    this.o.events.publish("operation", op.response);
  }

  /** Records the start of an operation in the history and in memory. */
  async begin(kind: "restore" | "download", summary: RestoreSummary): Promise<Operation> {
    const id = newId();
    const started = new Date().toISOString();
    const cancel = new AbortController();
    const response: OperationResponse = {
      id,
      state: "running",
      started_at: started,
      finished_at: null,
      summary,
      error: null,
      progress: null,
      status_url: `/api/restores/${id}`,
    };
    const op: Operation = { response, done: Promise.resolve(), cancel };
    await this.o.store.createRun({
      id,
      job: kind === "restore" ? RESTORE_JOB : DOWNLOAD_JOB,
      host: this.o.config.host,
      trigger: "api",
      pid: process.pid,
      started_at: started,
      steps: [{ name: kind, type: kind }],
    });
    await this.o.store.updateStep(id, 0, { status: "running", started_at: started, summary: { ...summary } });
    this.keep(op);
    this.publish(op);
    return op;
  }

  /** Records the end: the step and the run, then the `operation` event. */
  async end(
    op: Operation,
    state: Exclude<OperationState, "running">,
    error: StepError | null,
  ): Promise<void> {
    const r = op.response;
    const finished = new Date();
    r.state = state;
    r.finished_at = finished.toISOString();
    r.error = error ? { kind: error.kind, message: error.message, hint: error.hint } : null;
    r.progress = null;
    const duration = finished.getTime() - Date.parse(r.started_at);
    const stepStatus: StepStatus =
      state === "succeeded" ? "succeeded" : state === "cancelled" ? "cancelled" : "failed";
    try {
      await this.o.store.updateStep(r.id, 0, {
        status: stepStatus,
        finished_at: r.finished_at,
        duration_ms: duration,
        error,
        summary: { ...r.summary },
      });
      await this.o.store.finishRun(r.id, {
        status:
          stepStatus === "succeeded" ? "succeeded" : stepStatus === "cancelled" ? "cancelled" : "failed",
        exit_code: state === "succeeded" ? 0 : 1,
        finished_at: r.finished_at,
        duration_ms: duration,
        error,
      });
    } catch (err) {
      this.o.logError(
        `holdfast serve: could not record ${r.summary.kind} ${r.id}: ${(err as Error).message}`,
      );
    }
    this.publish(op);
  }

  /**
   * Runs `restic restore` (or its dry run) and settles `op.done` when it has ended and is recorded.
   * `request.where` settles when the snapshot is found and the target is known: at once when the
   * request could wait for that, later when restic was slow to answer (the request was answered 202
   * meanwhile); a rejection ends the restore failed with its reason, before any restore starts.
   */
  startRestore(
    op: Operation,
    request: {
      repo: string;
      paths: string[];
      dryRun: boolean;
      where: Promise<RestoreWhere>;
    },
  ): void {
    const repo = this.o.config.repositories[request.repo];
    const summary = op.response.summary;
    op.done = (async () => {
      if (!repo) return this.end(op, "failed", stepError("config", `no repository ${request.repo}`));
      let where: RestoreWhere;
      try {
        where = await request.where;
      } catch (err) {
        summary.message = `nothing restored: ${this.o.redactor.redact((err as Error).message)}`;
        return this.end(op, "failed", stepErrorOf(err));
      }
      summary.snapshot_id = where.snapshotId;
      summary.target = where.target;
      let lastProgress = 0;
      const wouldRestore: string[] = [];
      let resticSummary: Record<string, unknown> | null = null;
      const host = this.o.resticHost({ signal: op.cancel.signal });
      const detected = await detectRestic(host.config, host.env);
      const json = versionAtLeast(detected.version, "0.16.0");
      if (request.dryRun && !versionAtLeast(detected.version, "0.17.0")) {
        return this.end(
          op,
          "failed",
          stepError(
            "config",
            `a dry run needs restic 0.17 or later (this is ${detected.version?.text ?? "an unknown version"})`,
            "restore into a new directory under the restore root and look there instead",
          ),
        );
      }
      const args = ["restore", where.snapshotId, "--target", where.target];
      for (const p of request.paths) args.push("--include", literalPattern(p));
      if (json) args.push("--json");
      if (request.dryRun) args.push("--dry-run", "-vv");
      try {
        where.check();
      } catch (err) {
        return this.end(
          op,
          "failed",
          stepError("guard", (err as Error).message, (err as { hint?: string }).hint ?? null),
        );
      }
      let outcome: ResticOutcome;
      try {
        outcome = await runRestic(host, {
          repo,
          args,
          command: "restore",
          stopBeforeDeadline: false,
          onStdout: (line) => {
            if (!line.startsWith("{")) return;
            let msg: Record<string, unknown>;
            try {
              msg = JSON.parse(line) as Record<string, unknown>;
            } catch {
              return;
            }
            if (msg.message_type === "summary") resticSummary = msg;
            else if (msg.message_type === "verbose_status" && typeof msg.item === "string") {
              if (request.dryRun && wouldRestore.length < WOULD_RESTORE_MAX && msg.action !== "skipped") {
                wouldRestore.push(msg.item);
              }
            } else if (msg.message_type === "status") {
              const now = Date.now();
              if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
              lastProgress = now;
              op.response.progress = restoreProgress(msg, request.repo);
              this.publish(op);
            }
          },
        });
      } catch (err) {
        return this.end(op, "failed", stepError("internal", (err as Error).message));
      }
      if (outcome.cancelled) {
        summary.message = "cancelled";
        return this.end(op, "cancelled", stepError("cancelled", "the restore was cancelled"));
      }
      if (!outcome.ok) {
        summary.message = `restore failed: ${this.o.redactor.redact(outcome.error?.message ?? "restic failed")}`;
        return this.end(op, "failed", outcome.error ?? stepError("exit_code", "restic restore failed"));
      }
      const s = resticSummary as Record<string, unknown> | null;
      if (s) {
        summary.files_restored = num(s.files_restored) ?? 0;
        summary.bytes_restored = num(s.bytes_restored) ?? 0;
        summary.files_skipped = num(s.files_skipped);
      } else if (where.newDirectory && !request.dryRun) {
        const counted = countTree(where.target);
        summary.files_restored = counted.entries;
        summary.bytes_restored = counted.bytes;
      }
      if (request.dryRun) summary.would_restore = wouldRestore;
      summary.message = restoreMessage(summary);
      // Nothing restored is not a success to report as one: the paths matched nothing.
      if (summary.files_restored === 0 && (summary.files_skipped ?? 0) === 0) {
        return this.end(
          op,
          "failed",
          stepError(
            "not_found",
            summary.message,
            "check the paths against the snapshot's browser (GET …/ls); they are restored as written",
          ),
        );
      }
      return this.end(op, "succeeded", null);
    })().catch((err: unknown) => {
      this.o.logError(`holdfast serve: restore ${op.response.id}: ${(err as Error).stack ?? String(err)}`);
    });
  }
}

function restoreProgress(msg: Record<string, unknown>, repo: string): Progress {
  const fraction = num(msg.percent_done);
  const bytesDone = num(msg.bytes_restored);
  const seconds = num(msg.seconds_elapsed);
  const bytesTotal = num(msg.total_bytes);
  const rate = bytesDone !== null && seconds ? bytesDone / seconds : null;
  return {
    fraction,
    files_done: num(msg.files_restored),
    files_total: num(msg.total_files),
    bytes_done: bytesDone,
    bytes_total: bytesTotal,
    rate_bps: rate,
    eta_s:
      rate && bytesTotal !== null && bytesDone !== null ? Math.max(0, (bytesTotal - bytesDone) / rate) : null,
    current_file: null,
    repo,
    at: new Date().toISOString(),
  };
}

export function restoreMessage(s: RestoreSummary): string {
  const where = s.target === "/" ? "their original location" : s.target;
  if (s.files_restored === null) {
    return s.dry_run
      ? "dry run finished (restic did not say what it would restore)"
      : `restored into ${where} (restic did not report counts)`;
  }
  if (s.files_restored === 0) {
    return (s.files_skipped ?? 0) > 0
      ? `nothing restored: all ${s.files_skipped} files were already there and equal`
      : `nothing restored: ${s.paths.length ? "the paths matched nothing in the snapshot" : "the snapshot is empty"}`;
  }
  const bytes = s.bytes_restored !== null ? ` (${formatBytes(s.bytes_restored)})` : "";
  const skipped = s.files_skipped ? `, ${s.files_skipped} already there` : "";
  return s.dry_run
    ? `dry run: would restore ${s.files_restored} files and directories${bytes} into ${where}${skipped}`
    : `restored ${s.files_restored} files and directories${bytes} into ${where}${skipped}`;
}
