// The live view of a run. On a TTY: coloured step lines, child output, and one status line at the
// bottom (spinner, step, elapsed, progress bar) redrawn in place. Without a TTY (journald, cron,
// pipes): one line per step start and end, child output prefixed with the step name, and a progress
// line at most every 30 s. Rendering is throttled so it never slows the child (P1).
import type { RunReporter } from "../engine/run-job.js";
import type { StepProgress } from "../engine/step-kind.js";
import type { RunRecord, StepRecord } from "../store/types.js";
import { formatBytes, formatDuration } from "../util/units.js";
import { color, SD_PREFIX, statusColor, type JournalLevel } from "./output.js";

export interface ReporterOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  tty: boolean;
  /** Print child output lines (off with --quiet). */
  showOutput: boolean;
  /** `out` is the journal: failure and warning lines get their sd-daemon priority prefix. */
  journal?: boolean;
}

const PLAIN_PROGRESS_INTERVAL_MS = 30_000;
const TTY_REDRAW_MS = 100;
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function createConsoleReporter(options: ReporterOptions): RunReporter & { dispose(): void } {
  const { out, tty } = options;
  // journald reads the priority from the start of each line.
  const level = (l: JournalLevel | null) => (options.journal && l ? SD_PREFIX[l] : "");
  let current: StepRecord | null = null;
  let currentStart = 0;
  let progress: StepProgress | null = null;
  let lastPlainProgress = 0;
  let statusShown = false;
  let frame = 0;
  let timer: NodeJS.Timeout | null = null;

  const clearStatus = () => {
    if (tty && statusShown) {
      out.write("\r\x1b[2K");
      statusShown = false;
    }
  };
  const drawStatus = () => {
    if (!tty || !current) return;
    // Some terminals (and ptys without a size) report 0 columns.
    const width = out.columns || 100;
    const elapsed = formatDuration(Date.now() - currentStart);
    let line = `${color.blue(SPINNER[frame++ % SPINNER.length] ?? "*")} ${current.name} ${color.dim(elapsed)}`;
    if (progress) line += ` ${renderBar(progress, Math.max(10, Math.min(30, width - 70)))}`;
    out.write(`\r\x1b[2K${truncate(line, width - 1)}`);
    statusShown = true;
  };
  const println = (text: string, priority: JournalLevel | null = null) => {
    clearStatus();
    out.write(`${level(priority)}${text}\n`);
    drawStatus();
  };

  return {
    runStarted(run: RunRecord) {
      println(
        `${color.bold("holdfast")}: run ${run.id} of job ${run.job} started (${run.steps.length} step${run.steps.length === 1 ? "" : "s"})`,
      );
      if (tty) timer = setInterval(drawStatus, TTY_REDRAW_MS).unref();
    },
    stepStarted(step) {
      current = step;
      currentStart = Date.now();
      progress = null;
      lastPlainProgress = Date.now();
      println(`${color.dim("▶")} [${step.name}] started (${step.type})`);
    },
    stepOutput(step, line, stream) {
      if (stream !== "holdfast" && !options.showOutput) return;
      if (stream === "holdfast" && /^(started step|run .* finished with exit code)/.test(line)) return;
      const text = stream === "stderr" ? color.yellow(line) : stream === "holdfast" ? color.dim(line) : line;
      // holdfast's own warnings about a step (leftover processes, refused deletes…) are warnings in the
      // journal too; a child's stderr is not: restic and rsync print progress and notices there.
      println(
        `  [${step.name}] ${text}`,
        stream === "holdfast" && line.startsWith("warning:") ? "warning" : null,
      );
    },
    stepProgress(step, update) {
      progress = update;
      if (!tty && Date.now() - lastPlainProgress >= PLAIN_PROGRESS_INTERVAL_MS) {
        lastPlainProgress = Date.now();
        println(`  [${step.name}] progress ${describeProgress(update)}`);
      }
    },
    stepFinished(step) {
      if (current?.index === step.index) current = null;
      const mark =
        step.status === "succeeded"
          ? color.green("✓")
          : step.status === "skipped"
            ? color.dim("-")
            : step.status === "warning"
              ? color.yellow("!")
              : color.red("✗");
      const duration = step.duration_ms !== null ? ` in ${formatDuration(step.duration_ms)}` : "";
      const detail = step.error
        ? `: ${step.error.message}${step.error.hint ? color.dim(` (${step.error.hint})`) : ""}`
        : "";
      const summary = describeSummary(step);
      println(
        `${mark} [${step.name}] ${statusColor(step.status)}${duration}${summary ? ` — ${summary}` : ""}${detail}`,
        stepPriority(step.status),
      );
    },
    runFinished(run) {
      if (timer) clearInterval(timer);
      clearStatus();
      const duration = run.duration_ms !== null ? formatDuration(run.duration_ms) : "-";
      out.write(
        `${level(stepPriority(run.status))}${color.bold("holdfast")}: run ${run.id} ${statusColor(run.status)} in ${duration} (exit ${run.exit_code ?? "-"})${run.error ? `: ${run.error.message}` : ""}\n`,
      );
    },
    dispose() {
      if (timer) clearInterval(timer);
      clearStatus();
    },
  };
}

/** The journal priority of a finished step or run: err for anything that did not succeed. */
function stepPriority(status: string): JournalLevel | null {
  if (status === "succeeded" || status === "skipped") return null;
  return status === "warning" ? "warning" : "err";
}

function renderBar(p: StepProgress, width: number): string {
  const fraction = Math.max(0, Math.min(1, p.percent ?? 0));
  const filled = Math.round(fraction * width);
  const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
  return `${bar} ${describeProgress(p)}`;
}

export function describeProgress(p: StepProgress): string {
  const parts: string[] = [];
  if (p.percent !== undefined) parts.push(`${(p.percent * 100).toFixed(1)}%`);
  if (p.bytesDone !== undefined)
    parts.push(`${formatBytes(p.bytesDone)}${p.bytesTotal ? `/${formatBytes(p.bytesTotal)}` : ""}`);
  if (p.filesDone !== undefined) parts.push(`${p.filesDone}${p.filesTotal ? `/${p.filesTotal}` : ""} files`);
  if (p.secondsRemaining !== undefined && p.secondsRemaining > 0)
    parts.push(`ETA ${formatDuration(p.secondsRemaining * 1000)}`);
  if (p.label) parts.push(p.label);
  return parts.join("  ");
}

/** One-line summary of what a step did, for its finished line. */
export function describeSummary(step: StepRecord): string {
  const parts: string[] = [];
  for (const t of step.targets) {
    const added = typeof t.data_added === "number" ? ` +${formatBytes(t.data_added)}` : "";
    const snap =
      (typeof t.snapshot_id === "string" ? ` ${t.snapshot_id.slice(0, 8)}` : "") +
      (t.skipped_unchanged === true ? " (unchanged, no new snapshot)" : "");
    parts.push(`${t.repo}: ${t.status}${snap}${added}`);
  }
  return parts.join(", ");
}

function truncate(text: string, width: number): string {
  // Count only visible characters; escape sequences have no width.
  let visible = 0;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\x1b") {
      const end = text.indexOf("m", i);
      if (end !== -1) {
        out += text.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) break;
    out += text[i];
    visible++;
  }
  return out;
}
