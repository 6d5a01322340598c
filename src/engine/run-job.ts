// The life of a run (docs/architecture.md): lock → recover dead runs → record → steps in order
// (timeouts, retries, cancellation) → status → hooks (notifications, metrics) → unlock.
// Step failures are data; the only exceptions that leave here are JobBusyError and bugs.
import { randomFillSync } from "node:crypto";
import { monotonicFactory } from "ulid";
import { RETRYABLE_KINDS, stepError, type StepError } from "../errors.js";
import type { Config, JobConfig, StepConfig } from "../config/types.js";
import type { RunRecord, RunStatus, RunStore, RunTrigger, StepRecord, StepStatus } from "../store/types.js";
import { newStepRecord } from "../store/record-rules.js";
import { drillStateKey } from "../store/state-keys.js";
import { describeLeftovers, runProcess, type LeftoverProcess } from "../util/process.js";
import { formatDuration, timerDelay } from "../util/units.js";
import { dataFlowOf, findStepKind, loadStepRunner } from "../registry.js";
import { emptyRunState, type StepContext, type StepOutcome, type StepProgress } from "./step-kind.js";
import { stepEnv } from "./env.js";
import { lockJob, type JobLock } from "./job-lock.js";
import { redactorForConfig } from "./secrets.js";
import { openStepLog, StepLogError, stepLogPath } from "./step-log.js";
import { recoverInterruptedRuns } from "./recover.js";
import type { Redactor } from "../util/redact.js";
import { waitUnlessAborted } from "../util/abort.js";

/** Live view of a run, for the terminal/journal reporter. */
export interface RunReporter {
  runStarted(run: RunRecord): void;
  stepStarted(step: StepRecord): void;
  stepOutput(step: StepRecord, line: string, stream: "stdout" | "stderr" | "holdfast"): void;
  stepProgress(step: StepRecord, progress: StepProgress): void;
  stepFinished(step: StepRecord): void;
  runFinished(run: RunRecord): void;
}

/** What happens around a run: notifications, metrics. Failures here never change the run's result. */
export interface RunHooks {
  runStarted?(run: RunRecord, config: Config): Promise<void>;
  runFinished?(run: RunRecord, config: Config): Promise<void>;
}

export interface RunJobOptions {
  config: Config;
  job: string;
  /** --step NAME…: run only these steps. */
  onlySteps?: readonly string[];
  trigger?: RunTrigger;
  /** --wait: how long to wait for another run of the job to finish. */
  waitMs?: number;
  /** The job's lock, when the caller took it already (so a busy job is refused before any other work). */
  lock?: JobLock;
  /** Cancels the run; reason "SIGINT" or "SIGTERM" picks the exit code 130 / 143. */
  signal?: AbortSignal;
  /**
   * Stops the `always: true` steps that run after the run was cancelled (a second signal); without
   * it they run to their end or their timeout.
   */
  stopAlways?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface RunJobDeps {
  store: RunStore;
  reporter?: RunReporter;
  hooks?: RunHooks;
  now?: () => Date;
  /**
   * Waits until the history holds the run's record so far; returns the problem when it cannot (an
   * unusable database). The run then ends `failed` with that error, so the failure is notified.
   */
  settleHistory?: () => Promise<StepError | null>;
}

// ulid's own PRNG reaches for globalThis.crypto, whose first use loads WebCrypto (~17 ms at the start
// of every run, bench P2′); node:crypto's randomFillSync is the same CSPRNG without it (one byte / 256,
// as ulid's own).
const randomByte = new Uint8Array(1);
const newRunId = monotonicFactory(() => randomFillSync(randomByte)[0]! / 256);

const STATUS_RANK: Record<StepStatus, number> = {
  pending: 0,
  skipped: 0,
  succeeded: 1,
  running: 1,
  warning: 2,
  failed: 3,
  timed_out: 3,
  cancelled: 3,
};

export function runExitCode(status: RunStatus, job: JobConfig, cancelReason: string | null): number {
  switch (status) {
    case "succeeded":
      return 0;
    case "warning":
      return job.warnings === "fail" ? 1 : job.warnings === "ignore" ? 0 : 3;
    case "cancelled":
    case "interrupted":
      return cancelReason === "SIGTERM" ? 143 : 130;
    default:
      return 1;
  }
}

/** Runs a job to the end and returns its record. Throws JobBusyError when the job is already running. */
export async function runJob(deps: RunJobDeps, options: RunJobOptions): Promise<RunRecord> {
  const { config } = options;
  const job = config.jobs[options.job];
  if (!job) throw new Error(`unknown job ${options.job}`);
  const now = deps.now ?? (() => new Date());
  const reporter = deps.reporter;
  const lock = options.lock ?? (await lockJob(config.state_dir, job.name, options.waitMs ?? 0));
  try {
    // We hold the job's lock, so any run of it still marked `running` on this host is dead.
    await recoverInterruptedRuns(deps.store, { host: config.host, job: job.name, lockHeld: true, now });

    const steps = options.onlySteps?.length
      ? job.steps.filter((s) => options.onlySteps?.includes(s.name))
      : job.steps;
    const redactor = redactorForConfig(config);
    const startedAt = now();
    const run: RunRecord = {
      id: newRunId(),
      job: job.name,
      host: config.host,
      trigger: options.trigger ?? "manual",
      status: "running",
      exit_code: null,
      started_at: startedAt.toISOString(),
      finished_at: null,
      duration_ms: null,
      pid: process.pid,
      error: null,
      steps: steps.map((s, index) => newStepRecord(index, s.name, s.type)),
      notifications: [],
    };
    await deps.store.createRun({
      id: run.id,
      job: run.job,
      host: run.host,
      trigger: run.trigger,
      pid: run.pid,
      started_at: run.started_at,
      steps: steps.map((s) => ({ name: s.name, type: s.type })),
    });
    reporter?.runStarted(run);
    await safeHook(() => deps.hooks?.runStarted?.(run, config));

    const runState = emptyRunState();
    let stopRest = false;
    for (const [index, stepConfig] of steps.entries()) {
      const record = run.steps[index] as StepRecord;
      const cancelledRun = options.signal?.aborted === true;
      // `always: true` (start the containers again, unmount): runs after a failure or a cancel too.
      // After a cancel it is not stopped by the signal that cancelled the run — only by its timeout
      // or by a second signal (stopAlways).
      if ((stopRest || cancelledRun) && !stepConfig.always) {
        record.status = "skipped";
        await deps.store.updateStep(run.id, index, { status: "skipped" });
        reporter?.stepFinished(record);
        continue;
      }
      const stepOptions: RunJobOptions = cancelledRun
        ? { ...options, signal: options.stopAlways ?? new AbortController().signal }
        : options;
      await executeStep({
        deps,
        options: stepOptions,
        config,
        job,
        step: stepConfig,
        record,
        run,
        runState,
        redactor,
        now,
      });
      if (record.status === "cancelled") stopRest = true;
      else if (
        (record.status === "failed" || record.status === "timed_out") &&
        stepConfig.on_failure === "stop"
      ) {
        stopRest = true;
      }
    }

    const finishedAt = now();
    const historyError = (await deps.settleHistory?.()) ?? null;
    const cancelReason = options.signal?.aborted ? String(options.signal.reason) : null;
    const worst = run.steps.reduce<StepStatus>(
      (acc, s) => (STATUS_RANK[s.status] > STATUS_RANK[acc] ? s.status : acc),
      "succeeded",
    );
    const cancelled = run.steps.some((s) => s.status === "cancelled") || cancelReason !== null;
    run.status = cancelled
      ? "cancelled"
      : historyError !== null
        ? "failed"
        : worst === "warning"
          ? "warning"
          : STATUS_RANK[worst] >= 3
            ? "failed"
            : "succeeded";
    run.exit_code = runExitCode(run.status, job, cancelReason);
    run.finished_at = finishedAt.toISOString();
    run.duration_ms = finishedAt.getTime() - startedAt.getTime();
    if (historyError !== null) run.error = historyError;
    await deps.store.finishRun(run.id, {
      status: run.status,
      exit_code: run.exit_code,
      finished_at: run.finished_at,
      duration_ms: run.duration_ms,
      ...(historyError !== null ? { error: historyError } : {}),
    });
    for (const drill of runState.drillsPassed) {
      await deps.store.setState(drillStateKey(drill.repo, drill.source), drill.at);
      if (drill.database !== undefined)
        await deps.store.setState(drillStateKey(drill.repo, drill.source, drill.database), drill.at);
    }
    reporter?.runFinished(run);
    await safeHook(() => deps.hooks?.runFinished?.(run, config));
    return (await deps.store.getRun(run.id)) ?? run;
  } finally {
    lock.release();
  }
}

async function safeHook(fn: () => Promise<void> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    // Hooks record their own failures; this only keeps a bug in one from failing the run.
    process.stderr.write(`holdfast: internal error in a run hook: ${String(err)}\n`);
  }
}

interface ExecuteStepInput {
  deps: RunJobDeps;
  options: RunJobOptions;
  config: Config;
  job: JobConfig;
  step: StepConfig;
  record: StepRecord;
  run: RunRecord;
  runState: ReturnType<typeof emptyRunState>;
  redactor: Redactor;
  now: () => Date;
}

async function executeStep(input: ExecuteStepInput): Promise<void> {
  const { deps, options, config, job, step, record, run, redactor, now } = input;
  const reporter = deps.reporter;
  const kind = findStepKind(step.type);
  const started = now();
  const logFile = openStepLog(stepLogPath(config.state_dir, run.id, record.index, step.name), (t) =>
    redactor.redact(t),
  );
  record.status = "running";
  record.started_at = started.toISOString();
  record.log_path = logFile.path;
  await deps.store.updateStep(run.id, record.index, {
    status: "running",
    started_at: record.started_at,
    log_path: record.log_path,
  });
  reporter?.stepStarted(record);

  const say = (line: string) => {
    logFile.write(`holdfast: ${line}`);
    reporter?.stepOutput(record, redactor.redact(line), "holdfast");
  };
  let env: Record<string, string> = {};
  let envError: StepError | null = null;
  try {
    env = stepEnv(config, job, step, options.env);
  } catch (err) {
    envError = stepError(
      "config",
      (err as Error).message,
      "fix or create the env file, or remove env_file from the config",
    );
  }
  // The seed's wrapper line: who, where, what.
  say(
    `started step ${step.name} (${step.type}) USER=${env.USER ?? "?"} HOME=${env.HOME ?? "?"} pwd=${process.cwd()}`,
  );

  let outcome: StepOutcome & { final?: StepStatus } = { status: "failed", error: envError };
  let attempts = 0;
  const maxAttempts = step.retries + 1;
  while (!envError && attempts < maxAttempts) {
    attempts++;
    record.attempts = attempts;
    if (attempts > 1) await deps.store.updateStep(run.id, record.index, { attempts });
    outcome = await runAttempt({ ...input, kind, env, logFile, say });
    if (outcome.final === "cancelled" || outcome.final === "succeeded" || outcome.final === "warning") break;
    const kindOfError = outcome.error?.kind;
    const retryable = kindOfError !== undefined && RETRYABLE_KINDS.has(kindOfError);
    if (attempts >= maxAttempts || !retryable) break;
    const delay = step.retry_delay * 2 ** (attempts - 1);
    say(`attempt ${attempts} failed (${kindOfError}); retrying in ${formatDuration(delay)}`);
    const cancelled = (await waitUnlessAborted(delay, options.signal)) === "aborted";
    if (cancelled) {
      outcome = {
        status: "failed",
        final: "cancelled",
        error: stepError("cancelled", "cancelled while waiting to retry"),
      };
      break;
    }
  }

  const finished = now();
  const status: StepStatus = outcome.final ?? outcome.status;
  record.status = status;
  record.finished_at = finished.toISOString();
  record.duration_ms = finished.getTime() - started.getTime();
  record.exit_code = outcome.exitCode ?? null;
  record.error = outcome.error ? redactError(outcome.error, redactor) : null;
  record.summary = outcome.summary ?? null;
  record.targets = (outcome.targets ?? []).map((t) => ({
    ...t,
    error: t.error ? redactError(t.error, redactor) : null,
  }));
  record.attempts = Math.max(attempts, 1);
  say(
    `run ${step.name} finished with exit code ${record.exit_code ?? "-"} in ${(record.duration_ms / 1000).toFixed(1)} sec: ${status}` +
      (record.error ? ` (${record.error.kind}: ${record.error.message})` : ""),
  );
  try {
    record.log_path = await logFile.close();
  } catch (err) {
    // The step's result stands; the log is what could be kept (R7: a full disk).
    if (err instanceof StepLogError) record.log_path = err.path;
    const message = err instanceof Error ? err.message : String(err);
    reporter?.stepOutput(record, message, "holdfast");
    process.stderr.write(`holdfast: warning: ${message}\n`);
  }
  await deps.store.updateStep(run.id, record.index, {
    status: record.status,
    finished_at: record.finished_at,
    duration_ms: record.duration_ms,
    exit_code: record.exit_code,
    error: record.error,
    summary: record.summary,
    targets: record.targets,
    attempts: record.attempts,
    log_path: record.log_path,
  });
  reporter?.stepFinished(record);
}

function redactError(error: StepError, redactor: Redactor): StepError {
  return {
    kind: error.kind,
    message: redactor.redact(error.message),
    hint: error.hint ? redactor.redact(error.hint) : null,
  };
}

async function runAttempt(
  input: ExecuteStepInput & {
    kind: ReturnType<typeof findStepKind>;
    env: Record<string, string>;
    logFile: ReturnType<typeof openStepLog>;
    say: (line: string) => void;
  },
): Promise<StepOutcome & { final?: StepStatus }> {
  const { deps, options, config, job, step, record, run, runState, redactor, kind, env, logFile, say } =
    input;
  if (!kind) return { status: "failed", error: stepError("config", `unknown step type "${step.type}"`) };
  const controller = new AbortController();
  const deadline = Date.now() + step.timeout;
  const onOuterAbort = () => controller.abort("cancelled");
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  if (options.signal?.aborted) controller.abort("cancelled");
  const timer = setTimeout(() => controller.abort("timeout"), timerDelay(step.timeout));
  const reporter = deps.reporter;
  // Processes a child of this step left holding its output (runProcess ended them); a step that
  // otherwise succeeded becomes a warning naming them (behavior.md: warnings are never silent).
  const leftovers: Array<{ program: string; processes: LeftoverProcess[] }> = [];

  const ctx: StepContext<unknown> = {
    config,
    job,
    step,
    options: step,
    runId: run.id,
    host: config.host,
    stateDir: config.state_dir,
    env,
    signal: controller.signal,
    deadline,
    killGraceMs: config.kill_grace,
    log: {
      info: (m) => say(m),
      warn: (m) => say(`warning: ${m}`),
      output: (line, stream) => {
        logFile.write(line);
        reporter?.stepOutput(record, redactor.redact(line), stream);
      },
      logOnly: (line) => logFile.write(line),
    },
    exec: async (command, args, execOptions = {}) => {
      const { env: extraEnv, onLine, ...rest } = execOptions;
      const result = await runProcess(command, args, {
        graceMs: config.kill_grace,
        ...rest,
        env: extraEnv ?? env,
        signal: controller.signal,
        onLine:
          onLine ??
          ((line, stream) => {
            logFile.write(line);
            reporter?.stepOutput(record, redactor.redact(line), stream);
          }),
      });
      if (result.leftovers) {
        leftovers.push({ program: command, processes: result.leftovers });
        say(
          `warning: ${command} exited (${result.exitCode ?? result.signal}) but left ${describeLeftovers(result.leftovers)} ` +
            `holding its output; holdfast ended it and went on`,
        );
      }
      return result;
    },
    progress: (p) => reporter?.stepProgress(record, p),
    runState,
    redact: (t) => redactor.redact(t),
    previousRecords: (limit) => deps.store.stepHistory(job.name, step.name, limit),
    dataFlowOf,
  };

  let outcome: StepOutcome;
  try {
    // A step that ignores its AbortSignal must not hang the run: give up on it after the grace period.
    // The kind's runner module is imported here, the first time a step of the kind runs.
    const running = loadStepRunner(kind.type).then((runner) => runner.run(ctx as never));
    outcome = await raceAbort(running, controller.signal, config.kill_grace + 5_000);
  } catch (err) {
    const trace = err instanceof Error ? (err.stack ?? err.message) : String(err);
    for (const line of trace.split("\n")) logFile.write(`holdfast: ${line}`);
    outcome = {
      status: "failed",
      error: stepError(
        "internal",
        `holdfast bug in step type ${step.type}: ${(err as Error).message}`,
        `the trace is in the step log: holdfast logs ${run.id} --step ${step.name}; please report it`,
      ),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onOuterAbort);
  }
  if (leftovers.length > 0 && outcome.status === "succeeded" && !controller.signal.aborted) {
    const named = leftovers.map((l) => `${l.program} left ${describeLeftovers(l.processes)}`).join("; ");
    outcome = {
      ...outcome,
      status: "warning",
      error: stepError(
        "leftover_process",
        redactor.redact(`${named} holding the step's output after it exited; holdfast ended it`),
        "a background command keeps the step's stdout/stderr open: redirect its output " +
          "(`tool >/dev/null 2>&1 &`, or nohup with a log file) or wait for it in the script",
      ),
    };
  }
  if (controller.signal.aborted) {
    const reason = String(controller.signal.reason);
    if (reason === "timeout") {
      return {
        ...outcome,
        status: "failed",
        final: "timed_out",
        error: stepError(
          "timeout",
          `step timed out after ${formatDuration(step.timeout)}`,
          "raise the step's timeout, or find out why it hangs in its log",
        ),
      };
    }
    return {
      ...outcome,
      status: "failed",
      final: "cancelled",
      error: stepError("cancelled", "cancelled by a signal", null),
    };
  }
  return outcome;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, afterAbortMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => resolve({ status: "failed" } as T), timerDelay(afterAbortMs));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
