// The built-in scheduler (`holdfast daemon`), for hosts without systemd. It does what a systemd timer
// with Persistent=true does, and nothing more:
//   - each run is a child `holdfast run JOB --trigger daemon`, so a crash in a run cannot take the
//     scheduler down, and the run takes the job's lock and writes history exactly like a manual run;
//   - never two runs of a job at once: an elapse while the job still runs is skipped (systemd does
//     the same: starting an active unit is a no-op);
//   - wall-clock time: every wake-up (no sleep is longer than MAX_SLEEP_MS) compares how far the wall
//     clock moved with how far the monotonic clock did. A wall clock that stepped back (NTP correcting
//     a clock that ran ahead, someone setting the date) would otherwise leave every next run where the
//     old clock put it — an every-minute job silent for the size of the step (issue 12 item 16) — so
//     the next runs are recomputed from the new time. A step forward (or a suspend, which the
//     monotonic clock does not count) fires what fell due once, then goes on from the new time;
//   - after downtime, at most one catch-up run per job: the last trigger time of each job is kept in
//     the state store, and on start a job whose next elapse after it has passed runs once.
import type { ChildProcess } from "node:child_process";
import type { Config } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { createLineSplitter, spawnDetached } from "../util/process.js";
import { formatDuration } from "../util/units.js";
import { parseSchedule, type CalendarSchedule } from "./calendar.js";

export const MAX_SLEEP_MS = 15_000;
/** How far the wall clock may move apart from the monotonic clock between two wake-ups (NTP slews far less). */
export const CLOCK_STEP_TOLERANCE_MS = 2_000;
const WATCH_KEY = "(freshness check)";
const STATE_PREFIX = "daemon:last_trigger:";
const MAX_CHILD_STDOUT = 8 << 20;

export interface ScheduledJob {
  name: string;
  schedule: CalendarSchedule;
  /** randomized_delay: each run starts up to this much after its elapse (systemd's RandomizedDelaySec=). */
  randomizedDelayMs: number;
}

export interface DaemonPlan {
  jobs: ScheduledJob[];
  /** How long a cancelled run may take to record itself and exit before SIGKILL. */
  killGraceMs: number;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the child's `--json` output, when it printed a run. */
  run: { id: string; status: string } | null;
}

export interface ChildHandle {
  readonly pid: number | null;
  readonly exited: Promise<ChildExit>;
  /** SIGTERM: `holdfast run` stops its step with SIGINT, records the run cancelled, exits 143. */
  terminate(): void;
  kill(): void;
}

export interface StateStore {
  getState(key: string): Promise<string | null>;
  setState(key: string, value: string | null): Promise<void>;
}

export interface DaemonTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface DaemonDeps {
  /** Reads the config; throws (ConfigError) when it is broken. Called at start and on reload. */
  loadPlan(): DaemonPlan;
  /** Starts `holdfast run JOB`, or the freshness check when job is null. */
  launch(job: string | null): ChildHandle;
  state: StateStore;
  log(line: string): void;
  now?: () => Date;
  /** Milliseconds of a clock that never steps (default performance.now); tests pass their own. */
  monotonic?: () => number;
  timers?: DaemonTimers;
  /** For randomized_delay; Math.random when omitted. */
  random?: () => number;
  /** Whether a freshness check command exists; when false the hourly check is skipped with one log line. */
  watch: boolean;
}

export type StopMode = "wait" | "cancel";

export interface Daemon {
  start(): Promise<void>;
  /** Evaluates every job against the clock now (the timer calls it; tests call it with a fake clock). */
  tick(): void;
  reload(): boolean;
  /** Stops scheduling; "wait" lets running jobs finish for up to waitMs, then cancels them. */
  stop(mode: StopMode, waitMs?: number): Promise<void>;
  /** Resolves when stop() has finished. */
  readonly stopped: Promise<void>;
  running(): string[];
}

/** The daemon's view of a config: its scheduled jobs. */
export function planFromConfig(config: Config): DaemonPlan {
  // The loader has refused unparseable schedules already (config errors with their position).
  const jobs: ScheduledJob[] = [];
  for (const job of Object.values(config.jobs)) {
    if (job.schedule !== undefined) {
      jobs.push({
        name: job.name,
        schedule: parseSchedule(job.schedule),
        randomizedDelayMs: job.randomized_delay ?? 0,
      });
    }
  }
  return { jobs, killGraceMs: config.kill_grace };
}

interface JobSlot {
  name: string;
  schedule: CalendarSchedule | null;
  nextDue: Date | null;
  child: ChildHandle | null;
  startedAt: number;
  randomizedDelayMs: number;
}

const realTimers: DaemonTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function createDaemon(deps: DaemonDeps): Daemon {
  const now = deps.now ?? (() => new Date());
  const monotonic = deps.monotonic ?? (() => performance.now());
  const timers = deps.timers ?? realTimers;
  /** Both clocks when the daemon last looked: a step shows as the two moving by different amounts. */
  let lastLook: { wall: number; mono: number } | null = null;
  const slots = new Map<string, JobSlot>();
  const watch: JobSlot = {
    name: WATCH_KEY,
    schedule: parseSchedule("hourly"),
    nextDue: null,
    child: null,
    startedAt: 0,
    randomizedDelayMs: 0,
  };
  const random = deps.random ?? Math.random;
  /** The slot's next start after `from`: its next elapse plus its random delay. */
  const nextStart = (slot: JobSlot, from: Date): Date | null => {
    const elapse = slot.schedule?.next(from) ?? null;
    if (!elapse || slot.randomizedDelayMs <= 0) return elapse;
    return new Date(elapse.getTime() + Math.floor(random() * slot.randomizedDelayMs));
  };
  let plan: DaemonPlan = { jobs: [], killGraceMs: 15_000 };
  let wake: unknown = null;
  let stopping = false;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  const pendingWrites = new Set<Promise<void>>();
  const persist = (job: string, at: Date) => {
    const write: Promise<void> = deps.state.setState(`${STATE_PREFIX}${job}`, at.toISOString()).then(
      () => undefined,
      (err: unknown) => {
        deps.log(
          `job ${job}: could not record the trigger time: ${err instanceof Error ? err.message : String(err)}`,
        );
      },
    );
    pendingWrites.add(write);
    void write.then(() => pendingWrites.delete(write));
  };

  const launch = (slot: JobSlot, reason: string) => {
    const job = slot === watch ? null : slot.name;
    const label = job === null ? "freshness check" : `job ${job}`;
    let child: ChildHandle;
    try {
      child = deps.launch(job);
    } catch (err) {
      deps.log(`${label}: could not start: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    slot.child = child;
    slot.startedAt = Date.now();
    deps.log(`${label}: started (${reason}, pid ${child.pid ?? "?"})`);
    void child.exited.then((exit) => {
      slot.child = null;
      const outcome = job === null ? describeWatchExit(exit) : describeChildExit(exit);
      deps.log(`${label}: ${outcome} after ${formatDuration(Date.now() - slot.startedAt)}`);
      if (stopping && runningSlots().length === 0) finishStop();
    });
  };

  const runningSlots = () => [...slots.values(), watch].filter((s) => s.child !== null);

  const fire = (slot: JobSlot, due: Date, at: Date) => {
    if (slot !== watch) persist(slot.name, at);
    if (slot.child) {
      const label = slot === watch ? "freshness check" : `job ${slot.name}`;
      deps.log(
        `${label}: due at ${due.toISOString()} while the previous run is still going (pid ${slot.child.pid ?? "?"}); skipped`,
      );
      return;
    }
    launch(slot, `due at ${due.toISOString()}`);
  };

  /** Recomputes the next runs after the wall clock stepped back; logs any step. */
  const followClockStep = (at: Date) => {
    const mono = monotonic();
    const previous = lastLook;
    lastLook = { wall: at.getTime(), mono };
    if (previous === null) return;
    const wallMoved = at.getTime() - previous.wall;
    const monoMoved = mono - previous.mono;
    const step = wallMoved - monoMoved;
    if (Math.abs(step) <= CLOCK_STEP_TOLERANCE_MS) return;
    const direction = step < 0 ? "back" : "forward";
    deps.log(
      `clock: the wall clock moved ${direction} by ${formatDuration(Math.abs(step))} ` +
        `(${formatDuration(Math.max(0, monoMoved))} passed on the monotonic clock); now ${at.toISOString()}`,
    );
    if (step > 0) return; // what fell due fires once below, and the next runs follow from the new time
    const moved: string[] = [];
    for (const slot of [...slots.values(), watch]) {
      if (!slot.schedule || !slot.nextDue) continue;
      const before = slot.nextDue;
      slot.nextDue = nextStart(slot, at);
      if (slot !== watch && slot.nextDue?.getTime() !== before.getTime())
        moved.push(`${slot.name} ${before.toISOString()} -> ${slot.nextDue?.toISOString() ?? "never"}`);
    }
    if (moved.length > 0) deps.log(`clock: next runs recomputed from the new time: ${moved.join(", ")}`);
  };

  const tick = () => {
    if (stopping) return;
    const at = now();
    followClockStep(at);
    for (const slot of [...slots.values(), watch]) {
      if (!slot.schedule || !slot.nextDue) continue;
      if (slot.nextDue.getTime() <= at.getTime()) {
        const due = slot.nextDue;
        // Recomputed from the clock, not from `due`: elapses missed while the process was frozen
        // (suspend, SIGSTOP) collapse into this one run instead of firing back to back.
        slot.nextDue = nextStart(slot, at);
        if (slot === watch && !deps.watch) continue;
        fire(slot, due, at);
      }
    }
    scheduleWake();
  };

  const scheduleWake = () => {
    if (wake !== null) timers.clear(wake);
    wake = null;
    if (stopping) return;
    let earliest = Infinity;
    for (const slot of [...slots.values(), watch]) {
      if (slot.nextDue) earliest = Math.min(earliest, slot.nextDue.getTime());
    }
    const delay = Math.max(0, Math.min(MAX_SLEEP_MS, earliest - now().getTime()));
    wake = timers.set(tick, delay);
  };

  const applyPlan = async (next: DaemonPlan, catchUp: boolean) => {
    const at = now();
    const names = new Set(next.jobs.map((j) => j.name));
    for (const [name, slot] of slots) {
      // A running job whose schedule was removed finishes; it is just not started again.
      if (!names.has(name)) {
        if (slot.child) slot.schedule = slot.nextDue = null;
        else slots.delete(name);
      }
    }
    for (const job of next.jobs) {
      const existing = slots.get(job.name);
      if (existing?.schedule && existing.schedule.normalized === job.schedule.normalized) {
        existing.schedule = job.schedule;
        existing.randomizedDelayMs = job.randomizedDelayMs;
        continue;
      }
      const slot: JobSlot = existing ?? {
        name: job.name,
        schedule: null,
        nextDue: null,
        child: null,
        startedAt: 0,
        randomizedDelayMs: 0,
      };
      slot.schedule = job.schedule;
      slot.randomizedDelayMs = job.randomizedDelayMs;
      slots.set(job.name, slot);
      const stored = catchUp ? await deps.state.getState(`${STATE_PREFIX}${job.name}`) : null;
      const last = stored ? new Date(stored) : null;
      const missed = last && !Number.isNaN(last.getTime()) ? job.schedule.next(last) : null;
      if (missed && missed.getTime() <= at.getTime()) {
        // Persistent=true: one run for however many elapses passed while the daemon was not running.
        slot.nextDue = nextStart(slot, at);
        if (slot.child) continue;
        deps.log(
          `job ${job.name}: catching up the run due at ${missed.toISOString()} (missed while the daemon was not running)`,
        );
        fire(slot, missed, at);
        continue;
      }
      if (!last) persist(job.name, at);
      slot.nextDue = nextStart(slot, at);
    }
    plan = next;
  };

  const describePlan = () => {
    const parts = [...slots.values()]
      .filter((s) => s.schedule)
      .map((s) => `${s.name} (${s.schedule?.normalized}; next ${s.nextDue?.toISOString() ?? "never"})`);
    return parts.length > 0 ? parts.join(", ") : "no scheduled jobs";
  };

  let stopTimer: unknown = null;
  let killTimer: unknown = null;
  const finishStop = () => {
    if (stopTimer !== null) timers.clear(stopTimer);
    if (killTimer !== null) timers.clear(killTimer);
    stopTimer = killTimer = null;
    // The caller closes the store once stopped: the last trigger times must be written by then.
    void Promise.allSettled([...pendingWrites]).then(() => {
      deps.log("stopped");
      resolveStopped();
    });
  };

  const cancelAll = () => {
    const running = runningSlots();
    if (running.length === 0) return;
    deps.log(
      `cancelling ${running.map((s) => s.name).join(", ")} (SIGTERM; the runs are recorded cancelled)`,
    );
    for (const slot of running) slot.child?.terminate();
    if (killTimer === null) {
      killTimer = timers.set(() => {
        for (const slot of runningSlots()) {
          deps.log(
            `${slot.name}: still running ${formatDuration(plan.killGraceMs + 30_000)} after SIGTERM; SIGKILL`,
          );
          slot.child?.kill();
        }
      }, plan.killGraceMs + 30_000);
    }
  };

  let stopMode: StopMode | null = null;
  return {
    async start() {
      const first = deps.loadPlan();
      await applyPlan(first, true);
      watch.nextDue = watch.schedule?.next(now()) ?? null;
      lastLook = { wall: now().getTime(), mono: monotonic() };
      deps.log(`started: ${describePlan()}`);
      if (!deps.watch)
        deps.log("freshness check: this holdfast has no `watch` command; the hourly check is skipped");
      scheduleWake();
    },
    tick,
    reload() {
      if (stopping) return false;
      let next: DaemonPlan;
      try {
        next = deps.loadPlan();
      } catch (err) {
        deps.log("reload failed; keeping the previous config:");
        if (err instanceof ConfigError) for (const line of err.message.split("\n")) deps.log(`  ${line}`);
        else deps.log(`  ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
      // The only async part of applyPlan is the catch-up lookup, which reloads skip.
      applyPlan(next, false).then(
        () => {
          deps.log(`reloaded: ${describePlan()}`);
          scheduleWake();
        },
        (err: unknown) => deps.log(`reload failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      return true;
    },
    stop(mode, waitMs = 10 * 60_000) {
      const running = runningSlots();
      if (stopping) {
        // A second stop request while waiting escalates to cancel.
        if (mode === "cancel" && stopMode === "wait") {
          stopMode = "cancel";
          cancelAll();
        }
        return stopped;
      }
      stopping = true;
      stopMode = mode;
      if (wake !== null) timers.clear(wake);
      wake = null;
      if (running.length === 0) {
        finishStop();
        return stopped;
      }
      if (mode === "cancel") cancelAll();
      else {
        deps.log(
          `stopping: waiting up to ${formatDuration(waitMs)} for ${running.map((s) => s.name).join(", ")} (stop again to cancel)`,
        );
        stopTimer = timers.set(() => {
          deps.log(`stopping: waited ${formatDuration(waitMs)}`);
          stopMode = "cancel";
          cancelAll();
        }, waitMs);
      }
      return stopped;
    },
    stopped,
    running: () => runningSlots().map((s) => s.name),
  };
}

export function describeChildExit(exit: ChildExit): string {
  const run = exit.run ? `run ${exit.run.id} ` : "";
  if (exit.signal) return `${run}killed by ${exit.signal}`;
  switch (exit.code) {
    case 0:
      return `${run}succeeded (exit 0)`;
    case 1:
      return `${run}failed (exit 1)`;
    case 2:
      return "not run: usage or config error (exit 2)";
    case 3:
      return `${run}finished with warnings (exit 3)`;
    case 4:
      return "not run: another process holds the job's lock (exit 4)";
    case 130:
    case 143:
      return `${run}cancelled (exit ${exit.code})`;
    default:
      return `${run}${exit.run?.status ?? "ended"} (exit ${exit.code})`;
  }
}

/** `holdfast watch`: 0 every job is fresh, 2 at least one is stale (and was notified). */
export function describeWatchExit(exit: ChildExit): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  if (exit.code === 0) return "every job is fresh (exit 0)";
  if (exit.code === 2) return "a job is stale (exit 2; see its lines above)";
  return `ended with exit ${exit.code}`;
}

export interface LauncherOptions {
  /** argv prefix that starts holdfast: [node, main.js]. */
  command: readonly string[];
  configPath: string;
  /** Arguments of the freshness check after `--config PATH`. */
  watchArgs: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Each line the child prints on stderr (its step start/end lines), for the daemon's log. */
  onLine(job: string | null, line: string): void;
}

/** Starts the children through the process door's detached mode: long-lived, stopped by SIGTERM to the child alone (see ChildHandle). */
export function createChildLauncher(options: LauncherOptions): (job: string | null) => ChildHandle {
  return (job) => {
    const args =
      job === null
        ? ["--config", options.configPath, ...options.watchArgs]
        : ["--config", options.configPath, "run", job, "--trigger", "daemon", "--json", "--quiet"];
    const [program, ...prefix] = options.command;
    if (!program) throw new Error("no holdfast command");
    // Own process group: a Ctrl-C on the daemon's terminal reaches the daemon, which decides (wait or cancel).
    const child: ChildProcess = spawnDetached(program, [...prefix, ...args], {
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < MAX_CHILD_STDOUT) stdout += chunk;
    });
    const splitter = createLineSplitter((line) => options.onLine(job, line));
    child.stderr?.on("data", (chunk: Buffer) => splitter.push(chunk));
    const exited = new Promise<ChildExit>((resolve) => {
      child.on("error", (err) => {
        options.onLine(job, `could not start holdfast: ${err.message}`);
        resolve({ code: null, signal: null, run: null });
      });
      child.on("close", (code, signal) => {
        splitter.end();
        resolve({ code, signal, run: job === null ? null : parseRun(stdout) });
      });
    });
    const send = (sig: NodeJS.Signals) => {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    };
    return {
      pid: child.pid ?? null,
      exited,
      terminate: () => send("SIGTERM"),
      kill: () => {
        // The child leads its own process group; take down anything in it that did not start a group of its own.
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            /* group gone */
          }
        }
        send("SIGKILL");
      },
    };
  };
}

function parseRun(stdout: string): ChildExit["run"] {
  try {
    const record = JSON.parse(stdout) as { id?: unknown; status?: unknown };
    return typeof record.id === "string" && typeof record.status === "string"
      ? { id: record.id, status: record.status }
      : null;
  } catch {
    return null;
  }
}
