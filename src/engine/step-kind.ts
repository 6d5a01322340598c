// The contract between the engine and a step type. A step type is two files in src/steps/: its
// definition (defineStepKind: option schema, validated when the config loads so that a typo fails
// before anything runs; references, checks, plan, data flow), which loading a config imports, and its
// runner (defineStepRunner: run), which steps/index.ts names as a lazy import and the registry loads
// the first time a step of the type runs. A step never touches the store or the notifiers: it
// returns an outcome, and the engine records it.
import type { z } from "zod";
import type { StepError } from "../errors.js";
import type { StepRecord, TargetRecord } from "../store/types.js";
import type { ProcessResult, RunProcessOptions } from "../util/process.js";
import type { Config, JobConfig, RawConfig, StepConfig } from "../config/types.js";

export type StepOutcomeStatus = "succeeded" | "warning" | "failed";

export interface StepOutcome {
  status: StepOutcomeStatus;
  error?: StepError | null;
  exitCode?: number | null;
  summary?: Record<string, unknown> | null;
  targets?: TargetRecord[];
}

/** Progress of a long step, for the TTY bar and the periodic journal line. */
export interface StepProgress {
  percent?: number;
  bytesDone?: number;
  bytesTotal?: number;
  filesDone?: number;
  filesTotal?: number;
  secondsRemaining?: number;
  /** One of the files being read now (restic's current_files). */
  currentFile?: string;
  label?: string;
}

/** What steps of the same run tell each other (e.g. forget skips a source whose backup failed). */
export interface RunState {
  /** Sources whose backup failed or was stopped by its guard in this run, per repository ("*" = all). */
  blockedSources: Map<string, Set<string>>;
  /** Snapshots made in this run. */
  snapshots: Array<{ repo: string; source: string; snapshotId: string; step: string }>;
  /** Restore drills that passed in this run (repo × source → ISO time; a database drill names it). */
  drillsPassed: Array<{ repo: string; source: string; database?: string; at: string }>;
}

export interface StepLogger {
  /** A line from holdfast itself about this step (goes to the step log and the terminal/journal). */
  info(message: string): void;
  warn(message: string): void;
  /** A line of a child's output. */
  output(line: string, stream: "stdout" | "stderr"): void;
  /** Only into the step log (e.g. restic's JSON status lines, too chatty for the journal). */
  logOnly(line: string): void;
}

export type StepExecOptions = Omit<RunProcessOptions, "env" | "signal" | "onLine"> & {
  env?: Record<string, string>;
  /** Override where each line goes; default: the step log and the terminal. */
  onLine?: RunProcessOptions["onLine"];
};

export interface StepContext<Opts = unknown> {
  config: Config;
  job: JobConfig;
  step: StepConfig;
  options: Opts;
  runId: string;
  /** The stable host name snapshots are made under. */
  host: string;
  stateDir: string;
  /** The step's explicit environment: PATH, HOME, USER, LANG + env files and maps (config < job < step). */
  env: Record<string, string>;
  /** Fires when the step is cancelled or times out; `signal.reason` is "cancelled" or "timeout". */
  signal: AbortSignal;
  /** Epoch ms at which the step's timeout fires (for wait-and-retry loops). */
  deadline: number;
  /** Grace between SIGINT and SIGKILL for children. */
  killGraceMs: number;
  log: StepLogger;
  /** Runs a program through the process helper, wired to this step's log, env and cancellation. */
  exec(command: string, args: readonly string[], options?: StepExecOptions): Promise<ProcessResult>;
  progress(update: StepProgress): void;
  runState: RunState;
  /** Replaces every known secret in text with "***". */
  redact(text: string): string;
  /** Earlier records of this step in this job (newest first), for steps that compare with history. */
  previousRecords(limit: number): Promise<StepRecord[]>;
  /** The declared data flow of any step of the config (a retention step scopes itself by its job's backups). */
  dataFlowOf(step: StepConfig): DataFlow | null;
}

export interface StepReference {
  /** Path below the step, e.g. ["repos", 1]. */
  path: Array<string | number>;
  kind: "repository" | "source" | "step";
  name: string;
}

export interface StepProblem {
  path: Array<string | number>;
  message: string;
  hint?: string;
}

export interface ResticRequirement {
  /** Path below the step, e.g. ["skip_if_unchanged"] or ["extra_args", 2]. */
  path: Array<string | number>;
  /** The first restic release that has it: "0.17.0". */
  minVersion: string;
  /** What needs it, for the message: "skip_if_unchanged (restic --skip-if-unchanged)". */
  what: string;
  /** What to do on an older restic besides upgrading. */
  hint: string;
}

/**
 * How a step moves backup data. The modules that reason about where data is — the redundancy matrix,
 * the metrics, anomaly warnings, `init`'s order of creation, the scope of retention steps — read this
 * declaration instead of knowing step types and their option names.
 * - `backup`, `dump`: reads `source` and writes a snapshot of it into each of `repos` (under `host`).
 * - `copy`: reads the snapshots of `sources` (absent: every source `from` holds) from the repository
 *   `from` and writes them into each of `repos`.
 * - `mirror`: reads a directory and writes a copy of it elsewhere; no repository is involved.
 * - `verify`: reads `source`'s snapshots back from each of `repos` and compares them with the source
 *   (a restore drill); it writes no data.
 * - `check`: reads each of `repos` whole to prove it sound (restic check); it writes no data.
 */
export type DataFlowHow = "backup" | "dump" | "copy" | "mirror" | "verify" | "check";

export interface DataFlow {
  how: DataFlowHow;
  /** The config source read (backup, dump) or compared with (verify). */
  source?: string;
  /** copy: the sources carried over; absent means every source the from-repository holds. */
  sources?: readonly string[];
  /** copy: the repository read. */
  from?: string;
  /** The repositories written (backup, dump, copy) or read back (verify, check). */
  repos: readonly string[];
  /** The host name snapshots are made under, when the step sets its own. */
  host?: string;
  /**
   * dump: the databases the step dumps, each its own snapshot per repository — each a source of the
   * matrix, the metrics, anomalies and `status` (name as tagged `db:NAME`; what: "postgresql:shop").
   */
  databases?: readonly DataFlowDatabase[];
}

export interface DataFlowDatabase {
  name: string;
  what: string;
  /** A database that is a file here (SQLite): its path, so the matrix knows the medium it is on. */
  file?: string;
}

export interface DataFlowDeclaration<Opts> {
  how: DataFlowHow;
  /** The flow of one configured step, from its validated options. */
  of(options: Opts): Omit<DataFlow, "how">;
}

/** A program a step kind runs besides restic (which every config needs), for `holdfast doctor`. */
export interface ToolNeed {
  /** The program's name on PATH. */
  tool: string;
  /** Arguments that print its version and exit 0. */
  versionArgs: readonly string[];
  /** How to get it, said when it is missing. */
  hint: string;
}

export interface StepKind<Shape extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  summary: string;
  /** Type-specific fields; the common ones (name, timeout, retries, …) are added by the config schema. */
  options: Shape;
  /** What the step reads and writes; absent for steps that touch no backup data (exec, forget…). */
  dataFlow?: DataFlowDeclaration<z.output<z.ZodObject<Shape>>>;
  /** Cross-field checks that zod cannot express simply (exactly one of command/shell, …). */
  check?(options: z.output<z.ZodObject<Shape>>): StepProblem[];
  /**
   * Checks against the rest of the parsed config (its sources and repositories, resolved paths): a
   * mirror inside its own source, a repository inside the source it backs up. Run only for a config
   * that is otherwise valid.
   */
  checkWithConfig?(options: z.output<z.ZodObject<Shape>>, config: RawConfig): StepProblem[];
  /**
   * Options that need a newer restic than some users run (`skip_if_unchanged`: 0.17). Checked against
   * the detected restic by `config validate` and before a run (exit 2), and again when the step runs.
   */
  resticRequires?(options: z.output<z.ZodObject<Shape>>): ResticRequirement[];
  /**
   * The programs a step of this kind runs besides restic. `doctor` checks every tool some registered
   * kind declares, and calls a missing one an error when a configured step of that kind needs it.
   */
  tools?: readonly ToolNeed[];
  /** Names of repositories/sources this step uses, so the loader can report unknown ones with positions. */
  references?(options: z.output<z.ZodObject<Shape>>): StepReference[];
  /** `--dry-run`: the exact commands the step would run, secrets masked. */
  plan(ctx: PlanContext<z.output<z.ZodObject<Shape>>>): string[];
  /**
   * A runner written inline, for a kind whose run code is light (a test's throwaway kind). A built-in
   * kind keeps its runner in a module of its own (StepRunner), so that loading a config imports none.
   */
  run?(ctx: StepContext<z.output<z.ZodObject<Shape>>>): Promise<StepOutcome>;
}

/** The options a step kind's schema produces. */
export type StepOptionsOf<K> = K extends StepKind<infer Shape> ? z.output<z.ZodObject<Shape>> : never;

/** What runs a step of one kind: the heavy half, loaded only when such a step runs. */
export interface StepRunner<Opts = unknown> {
  type: string;
  run(ctx: StepContext<Opts>): Promise<StepOutcome>;
}

export interface PlanContext<Opts> {
  config: Config;
  job: JobConfig;
  step: StepConfig;
  options: Opts;
  host: string;
  stateDir: string;
  /** As in StepContext. */
  dataFlowOf(step: StepConfig): DataFlow | null;
}

/** Typed helper: infers the options type from the schema shape. */
export function defineStepKind<Shape extends z.ZodRawShape>(kind: StepKind<Shape>): StepKind<Shape> {
  return kind;
}

/** Typed helper: the runner of `kind`, its options typed by the kind's schema. */
export function defineStepRunner<K extends StepKind>(
  kind: K,
  run: (ctx: StepContext<StepOptionsOf<K>>) => Promise<StepOutcome>,
): StepRunner<StepOptionsOf<K>> {
  return { type: kind.type, run };
}

export function emptyRunState(): RunState {
  return { blockedSources: new Map(), snapshots: [], drillsPassed: [] };
}

export function isSourceBlocked(state: RunState, source: string, repo: string): boolean {
  const blocked = state.blockedSources.get(source);
  return blocked !== undefined && (blocked.has("*") || blocked.has(repo));
}
