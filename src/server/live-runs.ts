// The runs going on now, as the run processes describe them in STATE/live/*.json (engine/live-file.ts),
// turned into `run`, `step` and `progress` events on the bus. inotify tells when a file changes; a
// re-scan every few seconds catches what a file system without inotify (NFS) does not report. A run
// whose file disappears has ended: its outcome is read once from the history (one read per run, never
// per progress line). A file whose process is gone (SIGKILL, power cut) is dropped and removed.
import fs from "node:fs";
import path from "node:path";
import type { RunStore } from "../store/types.js";
import type { EventBus } from "./events.js";
import type { ProgressEvent, RunEvent, StepEvent } from "./api-types.js";
import {
  LIVE_FILE,
  LIVE_PROGRESS_INTERVAL_MS,
  liveDirOf,
  parseLiveFile,
  type LiveRunFile,
} from "../engine/live-file.js";

const RESCAN_MS = 5_000;
/** After the file went: how long the history may take to show the run as finished. */
const SETTLE_TRIES = 10;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function runEventOf(f: LiveRunFile): RunEvent {
  return {
    run_id: f.run_id,
    job: f.job,
    status: f.status,
    pid: f.pid,
    started_at: f.started_at,
    finished_at: null,
    trigger: f.trigger,
    steps: f.steps.map((s) => ({ index: s.index, name: s.name, type: s.type, status: s.status })),
  };
}

export function progressEventOf(f: LiveRunFile): ProgressEvent | null {
  const p = f.progress;
  if (!p) return null;
  return {
    run_id: f.run_id,
    job: f.job,
    index: p.index,
    step: p.step,
    fraction: p.fraction,
    files_done: p.files_done,
    files_total: p.files_total,
    bytes_done: p.bytes_done,
    bytes_total: p.bytes_total,
    rate_bps: p.rate_bps,
    eta_s: p.eta_s,
    current_file: p.current_file,
    repo: null,
    at: p.at,
  };
}

export interface LiveRunsOptions {
  stateDir: string;
  events: EventBus;
  store: RunStore;
  logError: (message: string) => void;
}

export class LiveRuns {
  private readonly dir: string;
  private readonly known = new Map<string, LiveRunFile>();
  private readonly lastProgress = new Map<string, number>();
  private watcher: fs.FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: LiveRunsOptions) {
    this.dir = liveDirOf(o.stateDir);
  }

  start(): void {
    if (this.timer) return;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch {
      /* a read-only state dir: nothing will run here that writes live files either */
    }
    this.watch();
    this.scan();
    this.timer = setInterval(() => {
      if (!this.watcher) this.watch();
      this.scan();
    }, RESCAN_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /** What is running now, for the `hello` of a new stream. */
  running(): RunEvent[] {
    return [...this.known.values()].map(runEventOf);
  }

  progress(): ProgressEvent[] {
    return [...this.known.values()].map(progressEventOf).filter((p): p is ProgressEvent => p !== null);
  }

  private watch(): void {
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, (_type, name) => {
        const file = typeof name === "string" ? name : null;
        if (file && LIVE_FILE.test(file)) this.queue(file);
        else if (file === null) this.scan();
      });
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
  }

  /** Changes come in bursts (temp file, rename): read each file once per burst. */
  private queue(file: string): void {
    this.pending.add(file);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      const files = [...this.pending];
      this.pending.clear();
      for (const f of files) this.read(f);
    }, 30);
  }

  private scan(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      names = [];
    }
    const present = new Set<string>();
    for (const name of names) {
      const m = LIVE_FILE.exec(name);
      if (!m?.[1]) continue;
      present.add(m[1]);
      this.read(name);
    }
    for (const id of [...this.known.keys()]) if (!present.has(id)) this.ended(id);
  }

  private read(name: string): void {
    const id = LIVE_FILE.exec(name)?.[1];
    if (!id) return;
    const file = path.join(this.dir, name);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      if (this.known.has(id)) this.ended(id);
      // A run that came and went between the event and this read (a short run, now that the CLI
      // starts in ~100 ms): its start and end are told from the history, or a stream would never
      // hear of it.
      else if (!this.told.has(id)) {
        this.tell(id);
        void this.publishEnd(id, null, 0);
      }
      return;
    }
    const doc = parseLiveFile(text);
    if (!doc || doc.run_id !== id) return;
    if (!processAlive(doc.pid)) {
      // The run's process died without removing its file: the history's recovery marks the run
      // interrupted; here it just stops being live.
      fs.rmSync(file, { force: true });
      if (this.known.has(id)) this.ended(id);
      return;
    }
    this.update(doc);
  }

  private update(doc: LiveRunFile): void {
    const before = this.known.get(doc.run_id);
    this.known.set(doc.run_id, doc);
    const { events } = this.o;
    if (!before) events.publish("run", runEventOf(doc));
    for (const step of doc.steps) {
      const old = before?.steps[step.index];
      if (old && old.status === step.status) continue;
      if (!old && step.status === "pending") continue;
      const ev: StepEvent = {
        run_id: doc.run_id,
        job: doc.job,
        index: step.index,
        name: step.name,
        type: step.type,
        status: step.status,
        started_at: step.started_at,
        finished_at: step.finished_at,
        error: step.error,
      };
      events.publish("step", ev);
    }
    const p = progressEventOf(doc);
    if (p && p.at !== before?.progress?.at) {
      // The writer keeps to 1 Hz; this keeps to it too, whatever a writer does.
      const last = this.lastProgress.get(doc.run_id) ?? 0;
      if (Date.now() - last >= LIVE_PROGRESS_INTERVAL_MS * 0.9) {
        this.lastProgress.set(doc.run_id, Date.now());
        events.publish("progress", p);
      }
    }
  }

  private ended(id: string): void {
    const last = this.known.get(id);
    this.known.delete(id);
    this.lastProgress.delete(id);
    if (!last) return;
    this.tell(id);
    void this.publishEnd(id, last, 0);
  }

  /** Runs whose end was published (the newest 1,000): one end per run, however many events follow. */
  private readonly told = new Set<string>();

  private tell(id: string): void {
    this.told.add(id);
    if (this.told.size > 1_000) this.told.delete(this.told.values().next().value as string);
  }

  /** The run's end from the history; `last` is its live file as last seen (null: never seen). */
  private async publishEnd(id: string, last: LiveRunFile | null, tries: number): Promise<void> {
    let record = null;
    try {
      record = await this.o.store.getRun(id);
    } catch (err) {
      this.o.logError(`holdfast serve: cannot read run ${id}: ${(err as Error).message}`);
    }
    if (last === null && record === null) return;
    const pid = last?.pid ?? record?.pid ?? null;
    if (record?.status === "running" && tries < SETTLE_TRIES && pid !== null && processAlive(pid)) {
      setTimeout(() => void this.publishEnd(id, last, tries + 1), 300).unref();
      return;
    }
    if (last === null && record !== null) {
      // Never seen running: its start first, so a stream sees the run begin and end.
      this.o.events.publish("run", {
        run_id: record.id,
        job: record.job,
        status: "running",
        pid: record.pid,
        started_at: record.started_at,
        finished_at: null,
        trigger: record.trigger,
        steps: record.steps.map((s) => ({ index: s.index, name: s.name, type: s.type, status: "pending" })),
      });
    }
    // The last step changes may not have been seen (the file went right after them): from the record.
    for (const step of record?.steps ?? []) {
      if (last?.steps[step.index]?.status === step.status) continue;
      this.o.events.publish("step", {
        run_id: id,
        job: record?.job ?? last?.job ?? "",
        index: step.index,
        name: step.name,
        type: step.type,
        status: step.status,
        started_at: step.started_at,
        finished_at: step.finished_at,
        error: step.error
          ? { kind: step.error.kind, message: step.error.message, hint: step.error.hint ?? null }
          : null,
      });
    }
    const ev: RunEvent = record
      ? {
          run_id: record.id,
          job: record.job,
          // Still "running" with its process gone: the history's recovery will say interrupted.
          status: record.status === "running" ? "interrupted" : record.status,
          pid: record.pid,
          started_at: record.started_at,
          finished_at: record.finished_at,
          trigger: record.trigger,
          steps: record.steps.map((s) => ({ index: s.index, name: s.name, type: s.type, status: s.status })),
        }
      : { ...runEventOf(last as LiveRunFile), status: "interrupted" };
    this.o.events.publish("run", ev);
  }
}
