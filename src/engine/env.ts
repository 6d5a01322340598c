// Every step gets a clean, explicit environment (behavior.md): PATH, HOME, USER, LANG, then the
// config's env files and maps layered config < job < step. Nothing else leaks in from holdfast's
// own environment, so a step behaves the same from a terminal, a systemd unit or the daemon.
import os from "node:os";
import type { Config, JobConfig, StepConfig } from "../config/types.js";
import { readEnvFile } from "../util/env-file.js";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function baseEnv(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const user = parent.USER ?? safeUserName();
  return {
    PATH: parent.PATH || DEFAULT_PATH,
    HOME: parent.HOME ?? os.homedir(),
    USER: user,
    LOGNAME: parent.LOGNAME ?? user,
    LANG: parent.LANG ?? "C.UTF-8",
    ...(parent.TZ ? { TZ: parent.TZ } : {}),
    ...(parent.TMPDIR ? { TMPDIR: parent.TMPDIR } : {}),
  };
}

/** The environment of one step. Throws EnvFileError for an unreadable env file. */
export function stepEnv(
  config: Config,
  job: JobConfig,
  step: StepConfig,
  parent: NodeJS.ProcessEnv = process.env,
) {
  const env = baseEnv(parent);
  const layers: Array<[string | undefined, Record<string, string>]> = [
    [config.env_file, config.env],
    [job.env_file, job.env],
    [step.env_file, step.env],
  ];
  for (const [file, map] of layers) {
    if (file) Object.assign(env, readEnvFile(file));
    Object.assign(env, map);
  }
  env.HOLDFAST_JOB = job.name;
  env.HOLDFAST_STEP = step.name;
  return env;
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}
