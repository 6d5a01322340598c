import { unknownNameError } from "../unknown-name.js";
import { EXIT, JobBusyError, UsageError } from "../../errors.js";
import { runJob } from "../../engine/run-job.js";
import { formatDuration, parseDuration } from "../../util/units.js";
import { dataFlowOf, findStepKind } from "../../registry.js";
import type { Config, JobConfig } from "../../config/types.js";
import { createRunHooks, ensureStateDir, loadCliConfig, type GlobalOptions } from "../context.js";
import { openRunHistory } from "../open-store.js";
import { lockJob } from "../../engine/job-lock.js";
import type { ResilientStore } from "../../store/resilient-store.js";
import { createConsoleReporter } from "../reporter.js";
import { combineReporters, createLiveFileReporter } from "../../engine/live-file.js";
import {
  color,
  errColor,
  formatTable,
  isJournalStream,
  journalPrefix,
  printJson,
  statusColor,
} from "../output.js";
import { own } from "../../util/own.js";

interface RunFlags {
  step?: string[];
  dryRun?: boolean;
  json?: boolean;
  wait?: string | boolean;
  quiet?: boolean;
  trigger?: string;
}

export function pickJob(config: Config, name: string | undefined): JobConfig {
  const names = Object.keys(config.jobs);
  if (name === undefined) {
    if (names.length === 1) return config.jobs[names[0] as string] as JobConfig;
    throw new UsageError(
      `the config has ${names.length} jobs; name one`,
      `holdfast run JOB, where JOB is one of: ${names.join(", ")}`,
    );
  }
  const job = own(config.jobs, name);
  if (!job)
    throw unknownNameError("job", name, names, {
      listed: "jobs in the config",
      none: "the config has no jobs",
    });
  return job;
}

/** Which jobs `run` runs: the named ones in the order given, every job with --all, or the only one. */
export function pickJobs(config: Config, names: readonly string[], all: boolean): JobConfig[] {
  if (all) {
    if (names.length > 0)
      throw new UsageError(
        "--all runs every job; it takes no job names",
        "holdfast run --all, or holdfast run JOB…",
      );
    return Object.values(config.jobs);
  }
  if (names.length === 0) return [pickJob(config, undefined)];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      throw new UsageError(`job "${name}" is named twice`, "name each job once; they run in the order given");
    seen.add(name);
  }
  return names.map((name) => pickJob(config, name));
}

/**
 * How bad an exit code is, for the exit code of several runs (the worst wins): a cancelled run, then
 * a failure, then a job that was busy, then warnings, then success.
 */
export function exitSeverity(code: number): number {
  if (code === EXIT.ok) return 0;
  if (code === EXIT.warning) return 1;
  if (code === EXIT.busy) return 2;
  if (code === 130 || code === 143) return 4;
  return 3;
}

interface RunAllFlags extends RunFlags {
  all?: boolean;
}

export default async function run(
  global: GlobalOptions,
  jobNames: string[] | undefined,
  flags: RunAllFlags,
): Promise<number> {
  const { config, embedded } = loadCliConfig(global, { allowEmbedded: true });
  const jobs = pickJobs(config, jobNames ?? [], Boolean(flags.all));
  if (jobs.length === 1 && !flags.all) {
    const outcome = await runOne(config, embedded, jobs[0]!, flags);
    if (flags.json) printJson(outcome.plan ?? outcome.record);
    return outcome.exitCode;
  }
  if (flags.step?.length)
    throw new UsageError(
      "--step picks steps of one job",
      "run one job with --step, e.g. holdfast run JOB --step NAME",
    );
  // In order, each under its own lock; a busy job is reported and the next one runs. A cancelled run
  // (SIGINT/SIGTERM) ends the sequence: the user asked everything to stop.
  const results: (RunOutcome & { job: string; error: string | null })[] = [];
  for (const job of jobs) {
    try {
      results.push({ job: job.name, error: null, ...(await runOne(config, embedded, job, flags)) });
    } catch (err) {
      if (!(err instanceof JobBusyError)) throw err;
      process.stderr.write(`${errColor.yellow("busy")}: ${err.message}\n`);
      results.push({ job: job.name, error: err.message, exitCode: EXIT.busy, record: null, plan: null });
    }
    const last = results.at(-1)!.exitCode;
    if (last === 130 || last === 143) break;
  }
  const exitCode = results.reduce(
    (worst, r) => (exitSeverity(r.exitCode) > exitSeverity(worst) ? r.exitCode : worst),
    0,
  );
  if (flags.dryRun) {
    if (flags.json) printJson({ dry_run: true, jobs: results.map((r) => r.plan) });
    return 0;
  }
  if (flags.json) {
    printJson({
      exit_code: exitCode,
      runs: results.map((r) => ({ job: r.job, exit_code: r.exitCode, error: r.error, run: r.record })),
    });
  } else {
    const rows = [["JOB", "STATUS", "DURATION", "EXIT"]];
    for (const r of results) {
      const status = r.record?.status ?? (r.exitCode === EXIT.busy ? "busy" : "-");
      const duration = typeof r.record?.duration_ms === "number" ? formatDuration(r.record.duration_ms) : "-";
      rows.push([r.job, statusColor(status), duration, String(r.exitCode)]);
    }
    const skipped = jobs.slice(results.length).map((j) => j.name);
    process.stdout.write(`\n${formatTable(rows)}\n`);
    if (skipped.length) process.stdout.write(`not run (cancelled before them): ${skipped.join(", ")}\n`);
    process.stdout.write(`holdfast: ${results.length} of ${jobs.length} jobs run, exit ${exitCode}\n`);
  }
  return exitCode;
}

/** One job's run (or its plan with --dry-run); the caller prints the JSON, for one job or for several. */
interface RunOutcome {
  exitCode: number;
  record: Awaited<ReturnType<typeof runJob>> | null;
  plan: { job: string; dry_run: true; steps: unknown[] } | null;
}

async function runOne(
  config: Config,
  embedded: boolean,
  job: JobConfig,
  flags: RunFlags,
): Promise<RunOutcome> {
  for (const name of flags.step ?? []) {
    if (!job.steps.some((s) => s.name === name)) {
      throw unknownNameError(
        `step of job "${job.name}"`,
        name,
        job.steps.map((s) => s.name),
        { listed: "its steps", none: "it has no steps" },
      );
    }
  }
  const selected = flags.step?.length ? job.steps.filter((s) => flags.step?.includes(s.name)) : job.steps;
  // An option the installed restic lacks (skip_if_unchanged on 0.14) is a config error now, not a
  // failed step at 03:00.
  const { refuseUnsupportedOptions } = await import("../restic-preflight.js");
  await refuseUnsupportedOptions(config, { job: job.name, steps: selected.map((s) => s.name) });

  if (flags.dryRun) {
    const plan = selected.map((step) => {
      const kind = findStepKind(step.type);
      const commands = kind
        ? kind.plan({
            config,
            job,
            step,
            options: step,
            host: config.host,
            stateDir: config.state_dir,
            dataFlowOf,
          })
        : [];
      return {
        name: step.name,
        type: step.type,
        on_failure: step.on_failure,
        always: step.always,
        timeout_ms: step.timeout,
        commands,
      };
    });
    if (!flags.json) {
      process.stdout.write(
        `plan for job ${job.name}${embedded ? " (embedded quickstart config)" : ""}: ${plan.length} steps, nothing will run\n`,
      );
      plan.forEach((p, i) => {
        process.stdout.write(`${i + 1}. ${color.bold(p.name)} (${p.type}${p.always ? ", always" : ""})\n`);
        for (const c of p.commands) process.stdout.write(`     ${c}\n`);
      });
      // The holdfast-meta snapshot (docs/recovery.md): after the steps, into each repository they write.
      const written = [
        ...new Set(
          selected.flatMap((step) => {
            const flow = dataFlowOf(step);
            return flow && ["backup", "dump", "copy"].includes(flow.how) ? flow.repos : [];
          }),
        ),
      ].filter((name) => config.repositories[name] !== undefined);
      if (config.recovery.meta && config.file !== null && written.length > 0) {
        const { planResticCommand } = await import("../../restic/plan.js");
        const { metaBackupArgs, metaForgetArgs } = await import("../../meta/meta-snapshot.js");
        process.stdout.write(
          `then, into each repository a step wrote (the config and history for \`holdfast bootstrap\`; recovery.meta: false turns it off):\n`,
        );
        for (const name of written) {
          const repo = config.repositories[name]!;
          process.stdout.write(
            `     ${planResticCommand(config, repo, [...metaBackupArgs(config.host), "--quiet"])}   # stdin: holdfast-meta.json\n`,
          );
          process.stdout.write(
            `     ${planResticCommand(config, repo, [...metaForgetArgs(config.host, config.recovery.keep), "--quiet"])}\n`,
          );
        }
      }
    }
    return { exitCode: EXIT.ok, record: null, plan: { job: job.name, dry_run: true, steps: plan } };
  }

  let waitMs = 0;
  if (flags.wait !== undefined && flags.wait !== false) {
    const parsed = flags.wait === true ? 6 * 3_600_000 : parseDuration(flags.wait);
    if (parsed === null)
      throw new UsageError(`--wait ${String(flags.wait)} is not a duration`, "e.g. --wait 30m");
    waitMs = parsed;
  }
  const trigger =
    flags.trigger === "schedule" || flags.trigger === "daemon" || flags.trigger === "api"
      ? flags.trigger
      : "manual";

  // The lock first: a second run of a busy job exits 4 before it touches the history.
  try {
    ensureStateDir(config.state_dir);
  } catch {
    // A state dir that cannot be created (read-only file system): the lock and the run's record
    // find another place; the backup still runs.
  }
  const lock = await lockJob(config.state_dir, job.name, waitMs);
  let store: ResilientStore;
  try {
    store = await openRunHistory(config);
  } catch (err) {
    lock.release();
    throw err;
  }
  const controller = new AbortController();
  const stopAlways = new AbortController();
  const alwaysSteps = job.steps.filter((st) => st.always).map((st) => st.name);
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      process.stderr.write(
        `holdfast: ${sig} received, stopping the current step (SIGINT to it, SIGKILL after ${config.kill_grace / 1000}s)` +
          (alwaysSteps.length
            ? `; the always steps (${alwaysSteps.join(", ")}) still run — a second signal stops them`
            : "") +
          "\n",
      );
      controller.abort(sig);
    } else if (!stopAlways.signal.aborted) {
      process.stderr.write(`holdfast: ${sig} received again, stopping the always steps too\n`);
      stopAlways.abort(sig);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  const out = flags.json ? process.stderr : process.stdout;
  const reporter = createConsoleReporter({
    out,
    tty: Boolean(out.isTTY),
    showOutput: !flags.quiet,
    journal: isJournalStream(out.fd),
  });
  // STATE/live/RUN.json for `holdfast serve`'s live view (engine/live-file.ts): no DB write per progress line.
  const live = createLiveFileReporter({ stateDir: config.state_dir });
  try {
    if (embedded)
      out.write(
        `holdfast: no config file found; running the embedded quickstart job "${job.name}" (see \`holdfast init\`)\n`,
      );
    if (embedded) {
      // The quickstart's sample folder, password file and repository (idempotent, logged).
      const { prepareQuickstart } = await import("../quickstart.js");
      await prepareQuickstart(config, (line) => out.write(`holdfast: ${line}\n`));
    }
    const record = await runJob(
      {
        store,
        reporter: combineReporters(reporter, live),
        hooks: createRunHooks(config, store),
        settleHistory: () => store.settle(),
      },
      {
        config,
        job: job.name,
        trigger,
        lock,
        signal: controller.signal,
        stopAlways: stopAlways.signal,
        ...(flags.step?.length ? { onlySteps: flags.step } : {}),
      },
    );
    if (config.recovery.meta && config.file !== null && !controller.signal.aborted) {
      // Issue 17: the config and history into each repository the run wrote, for `holdfast bootstrap`.
      // After the job's steps (its lock still held); a failure is a warning and the exit code stays.
      const { repositoriesWritten, storeMetaSnapshots } = await import("../../meta/meta-snapshot.js");
      if (repositoriesWritten(record).length > 0) {
        const { cliResticEnv } = await import("./restic-shared.js");
        const { resticHostForCli } = await import("../../restic/host.js");
        const { redactorForConfig } = await import("../../engine/secrets.js");
        const host = resticHostForCli(config, { env: cliResticEnv(config), signal: controller.signal });
        const warnings = await storeMetaSnapshots(config, store, record, host);
        let redact = (line: string) => line;
        if (warnings.length > 0) {
          try {
            const redactor = redactorForConfig(config);
            redact = (line) => redactor.redact(line);
          } catch {
            /* a url_file that cannot be read now: restic could not have used it either */
          }
        }
        for (const w of warnings)
          out.write(`${journalPrefix("warning", out)}holdfast: ${color.yellow("warning")}: ${redact(w)}\n`);
      }
    }
    return { exitCode: record.exit_code ?? EXIT.failed, record, plan: null };
  } finally {
    lock.release();
    reporter.dispose();
    live.dispose();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    await store.close();
    // Recorded locally first; the fleet gets it now if the hub answers in time, else at the next sync.
    if (config.fleet) await (await import("../../fleet/after-run.js")).syncAfterRun(config, process.stderr);
  }
}
