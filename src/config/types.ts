// What a loaded config is, as types and nothing else: every layer (engine, steps, notifiers, server,
// CLI) may import this without loading zod, the YAML parser or any step kind. The zod schema that
// produces these values (schema.ts) is checked against them at compile time, so the two cannot drift.
// No imports, not even types (lint: config-types-import-nothing).

export type NotifyEvent = "start" | "success" | "warning" | "failure" | "stale" | "recovered";

/** A repository as written (paths absolute, durations in ms). */
export interface RawRepositoryConfig {
  /** restic repository URL: a path, sftp:, rest:, s3:, b2:, azure:, gs:, rclone:. */
  url?: string | undefined;
  /** File holding the URL, for URLs with credentials. */
  url_file?: string | undefined;
  password_file?: string | undefined;
  /** argv of a command that prints the password. */
  password_command?: string[] | undefined;
  password_command_timeout?: number | undefined;
  /** KEY=VALUE backend credentials. */
  env_file?: string | undefined;
  /** Non-secret backend variables. */
  env?: Record<string, string> | undefined;
  cacert?: string | undefined;
  /** restic -o key=value. */
  options?: Record<string, string> | undefined;
  offsite: boolean;
  /** KiB/s. */
  limit_upload?: number | undefined;
  /** KiB/s. */
  limit_download?: number | undefined;
  open_timeout?: number | undefined;
  /** This repository's restic.lock_wait. */
  lock_wait?: number | undefined;
}

export interface GuardConfig {
  exists: string[];
  min_files?: number | undefined;
  /** e.g. "30%": fail when the source has shrunk more than this vs the last good snapshot. */
  max_shrink?: string | undefined;
}

export interface RawSourceConfig {
  paths: string[];
  exclude: string[];
  exclude_if_present: string[];
  exclude_file: string[];
  one_file_system: boolean;
  guard: GuardConfig;
  /** Snapshots another tool made that count as this source's (retention, guard, snapshots, restore). */
  adopt?: AdoptConfig | undefined;
}

/** The old tool's snapshots, as restic filters: tags AND-ed ([]: untagged), host, paths all present. */
export interface AdoptConfig {
  tags: string[];
  host?: string | undefined;
  paths?: string[] | undefined;
}

/** The parsed form of a step: the common fields plus its type's own options, flat as in the file. */
export interface StepConfig {
  name: string;
  type: string;
  timeout: number;
  retries: number;
  retry_delay: number;
  on_failure: "stop" | "continue";
  always: boolean;
  env: Record<string, string>;
  env_file?: string;
  description?: string;
  [option: string]: unknown;
}

export interface NotifierConfig {
  type: string;
  events: NotifyEvent[];
  timeout: number;
  [option: string]: unknown;
}

export interface RawJobConfig {
  description?: string | undefined;
  /** systemd OnCalendar or 5-field cron. */
  schedule?: string | undefined;
  randomized_delay?: number | undefined;
  /** Freshness: no successful run within this → stale. */
  max_age?: number | undefined;
  user?: string | undefined;
  group?: string | undefined;
  notify: string[];
  /** Exit code for warnings: 1, 3 or 0. */
  warnings: "fail" | "warn" | "ignore";
  env: Record<string, string>;
  env_file?: string | undefined;
  steps: StepConfig[];
}

export interface ResticSettings {
  binary: string;
  /** CPU priority of restic; null to leave it. */
  nice: number | null;
  ionice: "idle" | "best-effort" | "none";
  progress_fps: number;
  cache_dir?: string | undefined;
  open_timeout: number;
  lock_wait: number;
}

export interface ServerSettings {
  listen: string;
  token_file?: string | undefined;
  restore_root?: string | undefined;
}

/** The file as the schema outputs it, before names are filled in. */
export interface RawConfig {
  version: 1;
  state_dir?: string | undefined;
  host?: string | undefined;
  env_file?: string | undefined;
  env: Record<string, string>;
  kill_grace: number;
  restic: ResticSettings;
  repositories: Record<string, RawRepositoryConfig>;
  sources: Record<string, RawSourceConfig>;
  jobs: Record<string, RawJobConfig>;
  notifications: Record<string, NotifierConfig>;
  metrics: { textfile?: string | undefined };
  server: ServerSettings;
  /** holdfast-meta snapshots for `holdfast bootstrap` (issue 17). */
  recovery: { meta: boolean; keep: number };
  /** Replicate this host's history to the fleet's PostgreSQL (docs/fleet.md). */
  fleet?:
    | {
        url_file: string;
        host_name?: string | undefined;
        sync_timeout: number;
        report_every?: number | undefined;
        view_url_file?: string | undefined;
        missing_grace: number;
        notify: string[];
        keep_runs_months?: number | undefined;
      }
    | undefined;
}

export type RepositoryConfig = RawRepositoryConfig & { name: string };
export type SourceConfig = RawSourceConfig & { name: string };
export type JobConfig = Omit<RawJobConfig, "steps"> & { name: string; steps: StepConfig[] };

/** The loaded config: names filled in, paths absolute, durations in milliseconds. */
export interface Config extends Omit<RawConfig, "repositories" | "sources" | "jobs" | "notifications"> {
  /** Absolute path of the file it came from (null for built-in defaults). */
  file: string | null;
  state_dir: string;
  host: string;
  repositories: Record<string, RepositoryConfig>;
  sources: Record<string, SourceConfig>;
  jobs: Record<string, JobConfig>;
  notifications: Record<string, NotifierConfig & { name: string }>;
}
