import { UsageError } from "../../errors.js";
import { readLockHolder, tryLockJob } from "../../engine/job-lock.js";
import { loadConfigFile } from "../../config/load.js";
import { createChildLauncher, createDaemon, planFromConfig, type StopMode } from "../../scheduler/daemon.js";
import { resolveHoldfastCommand } from "../../scheduler/holdfast-command.js";
import { parseDuration } from "../../util/units.js";
import { loadCliConfig, openStore, type GlobalOptions } from "../context.js";
import { WATCH_ARGS } from "./schedule-shared.js";

interface DaemonFlags {
  onStop?: string;
  stopTimeout?: string;
}

// Not a job name: job names start with [a-z0-9], so this lock can never be a job's.
const DAEMON_LOCK = "_daemon";

export default async function daemon(global: GlobalOptions, flags: DaemonFlags): Promise<number> {
  const onStop = (flags.onStop ?? "wait") as StopMode;
  if (onStop !== "wait" && onStop !== "cancel") {
    throw new UsageError(
      `--on-stop ${flags.onStop} is not wait or cancel`,
      "--on-stop wait (default) or --on-stop cancel",
    );
  }
  const stopTimeoutMs = parseDuration(flags.stopTimeout ?? "10m");
  if (stopTimeoutMs === null)
    throw new UsageError(`--stop-timeout ${flags.stopTimeout} is not a duration`, "e.g. --stop-timeout 30m");

  const { config } = loadCliConfig(global);
  const configPath = config.file as string;
  planFromConfig(config);
  const lock = tryLockJob(config.state_dir, DAEMON_LOCK);
  if (!lock) {
    const holder = readLockHolder(config.state_dir, DAEMON_LOCK);
    const who = holder ? ` (pid ${holder.pid} since ${holder.since})` : "";
    process.stderr.write(`error: another holdfast daemon is running for ${config.state_dir}${who}\n`);
    return 4;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const store = openStore(config);
  const d = createDaemon({
    loadPlan: () => {
      const next = loadConfigFile(configPath);
      if (next.state_dir !== config.state_dir) {
        log(
          `note: state_dir changed to ${next.state_dir}; the daemon keeps using ${config.state_dir} until restarted`,
        );
      }
      return planFromConfig(next);
    },
    launch: createChildLauncher({
      command: resolveHoldfastCommand(),
      configPath,
      watchArgs: [...WATCH_ARGS],
      env: process.env,
      onLine: (job, line) => log(`  [${job ?? "freshness check"}] ${line}`),
    }),
    state: store,
    log,
    watch: true,
  });

  const onHup = () => {
    log("SIGHUP: reloading the config");
    d.reload();
  };
  let signals = 0;
  const onStopSignal = (sig: NodeJS.Signals) => {
    signals++;
    log(`${sig}: stopping`);
    void d.stop(signals > 1 ? "cancel" : onStop, stopTimeoutMs);
  };
  process.on("SIGHUP", onHup);
  process.on("SIGTERM", onStopSignal);
  process.on("SIGINT", onStopSignal);
  try {
    await d.start();
    await d.stopped;
    return 0;
  } finally {
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", onStopSignal);
    process.off("SIGINT", onStopSignal);
    await store.close();
    lock.release();
  }
}
