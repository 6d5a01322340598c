import { UsageError } from "../../errors.js";
import { runJob } from "../../engine/run-job.js";
import { parseDuration } from "../../util/units.js";
import { findStepKind } from "../../steps/index.js";
import type { Config, JobConfig } from "../../config/schema.js";
import { createRunHooks, ensureStateDir, loadCliConfig, type GlobalOptions } from "../context.js";
import { openRunHistory } from "../open-store.js";
import { lockJob } from "../../engine/job-lock.js";
import type { ResilientStore } from "../../store/resilient-store.js";
import { createConsoleReporter } from "../reporter.js";
import { color, isJournalStream, printJson } from "../output.js";

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
  const job = config.jobs[name];
  if (!job) throw new UsageError(`no job named "${name}"`, `jobs in the config: ${names.join(", ")}`);
  return job;
}

export default async function run(
  global: GlobalOptions,
  jobName: string | undefined,
  flags: RunFlags,
): Promise<number> {
  const { config, embedded } = loadCliConfig(global, { allowEmbedded: true });
  const job = pickJob(config, jobName);
  for (const name of flags.step ?? []) {
    if (!job.steps.some((s) => s.name === name)) {
      throw new UsageError(
        `job "${job.name}" has no step "${name}"`,
        `its steps: ${job.steps.map((s) => s.name).join(", ")}`,
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
          })
        : [];
      return {
        name: step.name,
        type: step.type,
        on_failure: step.on_failure,
        timeout_ms: step.timeout,
        commands,
      };
    });
    if (flags.json) printJson({ job: job.name, dry_run: true, steps: plan });
    else {
      process.stdout.write(
        `plan for job ${job.name}${embedded ? " (embedded quickstart config)" : ""}: ${plan.length} steps, nothing will run\n`,
      );
      plan.forEach((p, i) => {
        process.stdout.write(`${i + 1}. ${color.bold(p.name)} (${p.type})\n`);
        for (const c of p.commands) process.stdout.write(`     ${c}\n`);
      });
    }
    return 0;
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
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      process.stderr.write(
        `holdfast: ${sig} received, stopping the current step (SIGINT to it, SIGKILL after ${config.kill_grace / 1000}s)\n`,
      );
      controller.abort(sig);
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
  try {
    if (embedded)
      out.write(
        `holdfast: no config file found; running the embedded quickstart job "${job.name}" (see \`holdfast init\`)\n`,
      );
    if (embedded) {
      // The quickstart's sample folder, password file and repository (idempotent, logged).
      const { prepareQuickstart } = await import("../../restic/quickstart.js");
      await prepareQuickstart(config, (line) => out.write(`holdfast: ${line}\n`));
    }
    const record = await runJob(
      { store, reporter, hooks: createRunHooks(config, store), settleHistory: () => store.settle() },
      {
        config,
        job: job.name,
        trigger,
        lock,
        signal: controller.signal,
        ...(flags.step?.length ? { onlySteps: flags.step } : {}),
      },
    );
    if (flags.json) printJson(record);
    return record.exit_code ?? 1;
  } finally {
    lock.release();
    reporter.dispose();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    await store.close();
  }
}
