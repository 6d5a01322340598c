// A running run's live state, for `holdfast serve`: the run process (timer, CLI or the server's own
// launcher — always a process of its own) keeps one small JSON file, STATE/live/RUN_ID.json, with the
// run's and its steps' status and the current step's progress, rewritten atomically on every state
// change and at most once a second for progress; it is removed when the run ends. The server watches
// that directory (inotify, plus a slow re-scan) and turns what changes into GET /api/events messages.
//
// Why a file and not a socket to the server: the run must never wait on, fail because of, or even know
// about a dashboard — the server may be down, restarted, or serving nobody; a file write costs the run
// ~50 µs a second and nothing when the server is absent, a server started mid-run finds the state at
// once, and the state dir is already the one place both processes share (with its 0700 permissions).
// Nothing of this goes to the history database: progress lines never cost a DB write.
import fs from "node:fs";
import path from "node:path";
import type { RunReporter } from "./run-job.js";
import type { StepProgress } from "./step-kind.js";
import type { ProgressFigures } from "./progress-figures.js";
import type { RunRecord, RunStatus, RunTrigger, StepRecord, StepStatus } from "../store/types.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";

export const LIVE_DIR_NAME = "live";
/** Progress is written at most this often (and so reaches the dashboard at ≤ 1 Hz). */
export const LIVE_PROGRESS_INTERVAL_MS = 1_000;
/** The window over which the byte rate is measured. */
const RATE_WINDOW_MS = 5_000;
/** Run ids are ULIDs; anything else in the directory (temp files of an atomic write) is not a run. */
export const LIVE_FILE = /^([0-9A-HJKMNP-TV-Z]{26})\.json$/;

export function liveDirOf(stateDir: string): string {
  return path.join(stateDir, LIVE_DIR_NAME);
}

export interface LiveStep {
  index: number;
  name: string;
  type: string;
  status: StepStatus;
  started_at: string | null;
  finished_at: string | null;
  error: { kind: string; message: string; hint: string | null } | null;
}

/** The current step's progress: the published figures (progress-figures.ts) and which step. */
export interface LiveProgress extends ProgressFigures {
  index: number;
  step: string;
  label: string | null;
}

export interface LiveRunFile {
  v: 1;
  run_id: string;
  job: string;
  host: string;
  pid: number;
  trigger: RunTrigger;
  status: RunStatus;
  started_at: string;
  steps: LiveStep[];
  progress: LiveProgress | null;
  written_at: string;
}

function liveStep(step: StepRecord): LiveStep {
  const error = step.error;
  return {
    index: step.index,
    name: step.name,
    type: step.type,
    status: step.status,
    started_at: step.started_at,
    finished_at: step.finished_at,
    error: error ? { kind: error.kind, message: error.message, hint: error.hint ?? null } : null,
  };
}

/** Parses a live file, or null for anything that is not one (half-written, foreign, another version). */
export function parseLiveFile(text: string): LiveRunFile | null {
  try {
    const doc = JSON.parse(text) as Partial<LiveRunFile>;
    if (doc.v !== 1 || typeof doc.run_id !== "string" || !Array.isArray(doc.steps)) return null;
    if (typeof doc.pid !== "number" || typeof doc.job !== "string") return null;
    return doc as LiveRunFile;
  } catch {
    return null;
  }
}

export interface LiveFileOptions {
  stateDir: string;
  now?: () => number;
  /** Where write failures go (default: nowhere — the live view is a convenience, never the run's business). */
  onError?: (err: unknown) => void;
}

/**
 * A RunReporter that keeps STATE/live/RUN_ID.json. Every write is best effort: a full disk or a
 * read-only state dir loses the live view, never the run.
 */
export function createLiveFileReporter(options: LiveFileOptions): RunReporter & { dispose(): void } {
  const dir = liveDirOf(options.stateDir);
  const now = options.now ?? Date.now;
  let state: LiveRunFile | null = null;
  let file: string | null = null;
  let lastWrite = 0;
  let pending: NodeJS.Timeout | null = null;
  let broken = false;
  const samples: Array<{ t: number; bytes: number }> = [];

  const write = () => {
    if (pending) clearTimeout(pending);
    pending = null;
    if (!state || !file || broken) return;
    lastWrite = now();
    state.written_at = new Date(lastWrite).toISOString();
    // A progress report is as of when it is published: that is what keeps it to 1 Hz.
    if (state.progress) state.progress.at = state.written_at;
    try {
      writeFileAtomicSync(file, JSON.stringify(state), { mode: 0o600, durable: false });
    } catch (err) {
      broken = true;
      options.onError?.(err);
    }
  };
  const writeSoon = () => {
    const wait = LIVE_PROGRESS_INTERVAL_MS - (now() - lastWrite);
    if (wait <= 0) write();
    else pending ??= setTimeout(write, wait).unref();
  };
  const remove = () => {
    if (pending) clearTimeout(pending);
    pending = null;
    try {
      if (file) fs.rmSync(file, { force: true });
    } catch (err) {
      options.onError?.(err);
    }
    file = null;
    state = null;
  };
  const setStep = (step: StepRecord) => {
    if (!state) return;
    state.steps[step.index] = liveStep(step);
    if (state.progress?.index === step.index && step.status !== "running") state.progress = null;
  };

  return {
    runStarted(run: RunRecord) {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        broken = true;
        options.onError?.(err);
        return;
      }
      file = path.join(dir, `${run.id}.json`);
      state = {
        v: 1,
        run_id: run.id,
        job: run.job,
        host: run.host,
        pid: run.pid,
        trigger: run.trigger,
        status: run.status,
        started_at: run.started_at,
        steps: run.steps.map(liveStep),
        progress: null,
        written_at: "",
      };
      write();
    },
    stepStarted(step) {
      samples.length = 0;
      setStep(step);
      write();
    },
    stepOutput() {
      /* logs stay in the step's log file; the dashboard follows those */
    },
    stepProgress(step, p: StepProgress) {
      if (!state) return;
      const t = now();
      let rate: number | null = null;
      if (p.bytesDone !== undefined) {
        samples.push({ t, bytes: p.bytesDone });
        while (samples.length > 2 && t - (samples[0]?.t ?? t) > RATE_WINDOW_MS) samples.shift();
        const first = samples[0];
        if (first && t - first.t >= 500)
          rate = Math.max(0, ((p.bytesDone - first.bytes) * 1000) / (t - first.t));
      }
      state.progress = {
        index: step.index,
        step: step.name,
        fraction: p.percent ?? null,
        files_done: p.filesDone ?? null,
        files_total: p.filesTotal ?? null,
        bytes_done: p.bytesDone ?? null,
        bytes_total: p.bytesTotal ?? null,
        rate_bps: rate === null ? null : Math.round(rate),
        eta_s: p.secondsRemaining ?? null,
        current_file: p.currentFile ?? null,
        label: p.label ?? null,
        at: new Date(t).toISOString(),
      };
      writeSoon();
    },
    stepFinished(step) {
      setStep(step);
      write();
    },
    runFinished() {
      // The history has the outcome now (finishRun came first); the server reads it from there.
      remove();
    },
    dispose() {
      remove();
    },
  };
}

/** Several reporters as one (the terminal's and the live file's). */
export function combineReporters(...reporters: RunReporter[]): RunReporter {
  return {
    runStarted: (run) => reporters.forEach((r) => r.runStarted(run)),
    stepStarted: (step) => reporters.forEach((r) => r.stepStarted(step)),
    stepOutput: (step, line, stream) => reporters.forEach((r) => r.stepOutput(step, line, stream)),
    stepProgress: (step, p) => reporters.forEach((r) => r.stepProgress(step, p)),
    stepFinished: (step) => reporters.forEach((r) => r.stepFinished(step)),
    runFinished: (run) => reporters.forEach((r) => r.runFinished(run)),
  };
}
