// One zod schema for the whole config file (config.md), built by buildConfigSchema from the step and
// notifier kinds the composition root (src/registry.ts) hands in — this file imports no kind, so
// adding a step type never touches it, and the types of a loaded config live in types.ts.
import { z } from "zod";
import type {
  NotifierConfig,
  NotifyEvent,
  RawConfig,
  RawJobConfig,
  RawRepositoryConfig,
  RawSourceConfig,
  StepConfig,
} from "./types.js";
import {
  durationSchema,
  envMapSchema,
  nameSchema,
  pathSchema,
  boundedInt,
  repositoryUrlSchema,
  excludePatternSchema,
  tagFileSpecSchema,
} from "./values.js";

export type {
  Config,
  JobConfig,
  NotifierConfig,
  NotifyEvent,
  RawConfig,
  RepositoryConfig,
  SourceConfig,
  StepConfig,
} from "./types.js";

export const EVENTS = [
  "start",
  "success",
  "warning",
  "failure",
  "stale",
  "recovered",
] as const satisfies readonly NotifyEvent[];

const HOUR = 3_600_000;

export const repositorySchema = z.strictObject({
  url: repositoryUrlSchema
    .optional()
    .describe("restic repository URL: a path, sftp:, rest:, s3:, b2:, azure:, gs:, rclone:"),
  url_file: pathSchema.optional().describe("file holding the URL, for URLs with credentials"),
  password_file: pathSchema
    .optional()
    .describe("file holding the repository password (mode 0600); or password_command"),
  password_command: z
    .array(z.string())
    .min(1)
    .optional()
    .describe("argv of a command that prints the password"),
  password_command_timeout: durationSchema
    .optional()
    .describe("how long password_command may take before restic is told it failed (default 30s)"),
  env_file: pathSchema
    .optional()
    .describe("KEY=VALUE backend credentials (AWS_ACCESS_KEY_ID, B2_ACCOUNT_KEY, …)"),
  env: envMapSchema
    .optional()
    .describe("non-secret backend variables (secret names are refused: use env_file; shown masked)"),
  cacert: pathSchema
    .optional()
    .describe("PEM file of the CA that signed a rest:/s3: server's certificate (restic --cacert)"),
  options: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .optional()
    .describe("restic -o key=value"),
  offsite: z
    .boolean()
    .default(false)
    .describe(
      "this repository is away from the machine: the redundancy view and the metrics count its copies as offsite",
    ),
  limit_upload: boundedInt(10_000_000).optional().describe("upload limit in KiB/s (restic --limit-upload)"),
  limit_download: boundedInt(10_000_000)
    .optional()
    .describe("download limit in KiB/s (restic --limit-download)"),
  open_timeout: durationSchema
    .optional()
    .describe("this repository's restic.open_timeout (a backend that is slow to come up)"),
  lock_wait: durationSchema
    .optional()
    .describe("this repository's restic.lock_wait (how long a step waits for a lock another restic holds)"),
});

export const guardSchema = z.strictObject({
  exists: z
    .array(pathSchema)
    .default([])
    .describe(
      "files that are only there when the source is really there (a mount's sentinel): a missing one stops the backup",
    ),
  min_files: boundedInt(1_000_000_000)
    .optional()
    .describe("fail the backup when the source holds fewer files than this (an unmounted or emptied disk)"),
  max_shrink: z
    .string()
    .optional()
    .describe("e.g. 30%: fail when the source has shrunk more than this vs the last good snapshot"),
});

// Issue 17: the old tool's snapshots, as restic filters — tags AND-ed, paths all present, host exact.
export const adoptSchema = z.strictObject({
  tags: z
    .array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces"))
    .describe(
      "the tags the old tool's snapshots all carry (e.g. ar:location:home); [] adopts snapshots that have no tags at all",
    ),
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "is not a valid host name")
    .optional()
    .describe("the host name they were made under (default: the hosts holdfast backs this source up under)"),
  paths: z
    .array(pathSchema)
    .optional()
    .describe(
      "paths each of them holds; must be among the source's paths (restic applies the filter to the whole retention group)",
    ),
});

export const sourceSchema = z
  .strictObject({
    paths: z
      .array(pathSchema)
      .min(1, "a source needs at least one path")
      .describe("the directories and files to back up"),
    exclude: z.array(excludePatternSchema).default([]).describe("restic exclude patterns (--exclude)"),
    exclude_if_present: z
      .array(tagFileSpecSchema)
      .default([])
      .describe("leave out directories that hold this file (restic --exclude-if-present), e.g. .nobackup"),
    exclude_file: z
      .array(pathSchema)
      .default([])
      .describe("files of exclude patterns, one a line (restic --exclude-file)"),
    one_file_system: z
      .boolean()
      .default(false)
      .describe("do not cross into other filesystems below the paths (restic --one-file-system)"),
    guard: guardSchema
      .default({ exists: [] })
      .describe("checks before each backup of this source (docs/guards.md)"),
    adopt: adoptSchema
      .optional()
      .describe(
        "snapshots another tool made of these paths (autorestic, resticprofile, plain restic) that count as this source's: retention thins them, the shrink guard compares with them, `snapshots` and `restore` show them (`holdfast adopt` lists them)",
      ),
  })
  .superRefine((source, ctx) => {
    // holdfast's own tags: `holdfast` snapshots are a source's already, and `holdfast-meta` ones are
    // the recovery snapshots (src/meta/), which no source's retention may thin.
    for (const [i, tag] of (source.adopt?.tags ?? []).entries()) {
      if (tag === "holdfast" || tag === "holdfast-meta")
        ctx.addIssue({
          code: "custom",
          path: ["adopt", "tags", i],
          message: `"${tag}" is holdfast's own tag and cannot be adopted`,
          params: {
            hint:
              tag === "holdfast"
                ? "holdfast's snapshots of this source are its own already; list the old tool's tags"
                : "holdfast-meta snapshots hold the config for `holdfast bootstrap` and keep their own retention (recovery.keep)",
          },
        });
    }
    // restic's --path filter applies to every snapshot of the forget call, holdfast's own too: a path
    // the source does not back up would leave holdfast's snapshots out of their own retention.
    for (const [i, p] of (source.adopt?.paths ?? []).entries()) {
      if (!source.paths.includes(p))
        ctx.addIssue({
          code: "custom",
          path: ["adopt", "paths", i],
          message: `${p} is not one of this source's paths`,
          params: {
            hint: "adopt.paths must be among paths (the filter applies to holdfast's snapshots of the source too); leave it out to adopt by tags and host",
          },
        });
    }
  });

export const commonStepShape = {
  name: nameSchema.describe("the step's name, unique in its job (`run --step NAME`)"),
  timeout: durationSchema
    .default(6 * HOUR)
    .describe("the step is stopped (SIGINT, SIGKILL after kill_grace) and fails as `timeout` after this"),
  retries: boundedInt(100).default(0).describe("how many more times a failed step is tried"),
  retry_delay: durationSchema
    .default(60_000)
    .describe("the wait before the first retry; doubled per attempt"),
  on_failure: z
    .enum(["stop", "continue"])
    .default("stop")
    .describe(
      "stop: a failure ends the job and the later steps are skipped; continue: the job goes on (and still ends failed)",
    ),
  always: z
    .boolean()
    .default(false)
    .describe(
      "run this step even when an earlier step failed or the run was cancelled (start the containers again, unmount); recorded like any step, and the run's status stays what the failure made it",
    ),
  env: envMapSchema
    .default({})
    .describe("environment variables of this step (over the job's and the config's)"),
  env_file: pathSchema.optional().describe("KEY=VALUE file loaded into this step's environment"),
  description: z.string().optional().describe("free text for the people who read the config"),
};

/** What the schema needs of a step kind (its definition, engine/step-kind.ts). */
export interface StepKindSchema {
  type: string;
  summary: string;
  options: z.ZodRawShape;
}

/** What the schema needs of a notifier kind (notify/notifier-kind.ts). */
export interface NotifierKindSchema {
  type: string;
  defaultEvents: readonly NotifyEvent[];
  options: z.ZodRawShape;
}

export interface ConfigKinds {
  steps: readonly StepKindSchema[];
  notifiers: readonly NotifierKindSchema[];
}

function buildStepSchema(kinds: readonly StepKindSchema[]) {
  const members = kinds.map((kind) =>
    z
      .strictObject({ ...commonStepShape, type: z.literal(kind.type), ...kind.options })
      .describe(kind.summary),
  );
  const [first, ...rest] = members;
  if (!first) throw new Error("no step kinds registered");
  return z.discriminatedUnion("type", [first, ...rest]);
}

function buildJobSchema(stepSchema: z.ZodType<StepConfig>) {
  return z.strictObject({
    description: z.string().optional().describe("free text for the people who read the config"),
    schedule: z
      .string()
      .optional()
      .describe('systemd OnCalendar ("*-*-* 03:00:00") or 5-field cron ("0 3 * * *")'),
    randomized_delay: durationSchema
      .optional()
      .describe("start up to this much later than the schedule, at random (systemd RandomizedDelaySec=)"),
    max_age: durationSchema.optional().describe("freshness: no successful run within this → stale"),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*\$?$/i, "is not a valid user name")
      .optional()
      .describe("the user the job runs as under systemd (User= of its system units)"),
    group: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*\$?$/i, "is not a valid group name")
      .optional()
      .describe("the group the job runs as under systemd (Group=)"),
    notify: z
      .array(nameSchema)
      .default([])
      .describe("the notifiers (names under notifications) told about this job's events"),
    warnings: z
      .enum(["fail", "warn", "ignore"])
      .default("warn")
      .describe("exit code for warnings: 1, 3 or 0"),
    env: envMapSchema
      .default({})
      .describe("environment variables of every step of this job (over the config's)"),
    env_file: pathSchema.optional().describe("KEY=VALUE file loaded for every step of this job"),
    steps: z
      .array(stepSchema)
      .min(1, "a job needs at least one step")
      .describe("the steps, run in order; the first failure stops the job unless on_failure: continue"),
  });
}

function buildNotifierSchema(kinds: readonly NotifierKindSchema[]) {
  const members = kinds.map((kind) =>
    z.strictObject({
      type: z.literal(kind.type),
      events: z
        .array(z.enum(EVENTS))
        .default([...kind.defaultEvents])
        .describe("the events this notifier sends"),
      timeout: durationSchema
        .default(10_000)
        .describe("how long one notification may take; a notifier that fails never changes a run's result"),
      ...kind.options,
    }),
  );
  const [first, ...rest] = members;
  if (!first) throw new Error("no notifier kinds registered");
  return z.discriminatedUnion("type", [first, ...rest]);
}

export const resticSettingsSchema = z.strictObject({
  binary: z.string().default("restic").describe("the restic program: a name on PATH or an absolute path"),
  nice: z
    .number()
    .int()
    .min(-20)
    .max(19)
    .nullable()
    .default(10)
    .describe("CPU priority of restic; null to leave it"),
  ionice: z
    .enum(["idle", "best-effort", "none"])
    .default("idle")
    .describe("I/O scheduling class of restic (ionice); none to leave it"),
  progress_fps: z
    .number()
    .positive()
    .max(60)
    .default(2)
    .describe("progress reports per second that restic sends (the TTY bar, the journal's progress line)"),
  cache_dir: pathSchema.optional().describe("restic's cache (default: <state_dir>/restic-cache)"),
  open_timeout: durationSchema
    .default(60_000)
    .describe(
      "how long restic may keep retrying to open a repository whose backend does not answer before holdfast stops it and reports `network` (restic 0.17+ retries for 15 minutes)",
    ),
  lock_wait: durationSchema
    .default(30 * 60_000)
    .describe(
      "how long a step's restic command waits for a lock another restic holds (never past the step's timeout; 0: fail at once); restic 0.16+ waits itself (--retry-lock), after holdfast has removed a stale lock",
    ),
});

export const RESTIC_SETTINGS_DEFAULTS = {
  binary: "restic",
  nice: 10,
  ionice: "idle",
  progress_fps: 2,
  open_timeout: 60_000,
  lock_wait: 30 * 60_000,
} as const;

/** The schemas of a config file with these kinds. */
export function buildConfigSchema(kinds: ConfigKinds) {
  // The unions' inferred types would tie this file's types to every step file; StepConfig is the
  // shape the engine works with, and each step kind types its own options.
  const stepSchema = buildStepSchema(kinds.steps) as unknown as z.ZodType<StepConfig>;
  const jobSchema = buildJobSchema(stepSchema);
  const notifierSchema = buildNotifierSchema(kinds.notifiers) as unknown as z.ZodType<NotifierConfig>;
  const configSchema = buildFileSchema(jobSchema, notifierSchema);
  return { stepSchema, jobSchema, notifierSchema, configSchema };
}

export type ConfigSchemas = ReturnType<typeof buildConfigSchema>;

function buildFileSchema(
  jobSchema: ReturnType<typeof buildJobSchema>,
  notifierSchema: z.ZodType<NotifierConfig>,
) {
  return z.strictObject({
    version: z.literal(1, { message: "only version: 1 is supported" }).describe("the config format: 1"),
    state_dir: pathSchema
      .optional()
      .describe(
        "history database, run logs and locks (default: $XDG_STATE_HOME/holdfast, or /var/lib/holdfast as root)",
      ),
    host: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "is not a valid host name")
      .optional()
      .describe("the stable host name snapshots are made under (default: the machine's)"),
    env_file: pathSchema.optional().describe("KEY=VALUE file loaded into every step's environment"),
    env: envMapSchema.default({}).describe("environment variables of every step"),
    kill_grace: durationSchema
      .default(15_000)
      .describe("time between SIGINT and SIGKILL when a step is stopped"),
    restic: resticSettingsSchema.default(RESTIC_SETTINGS_DEFAULTS).describe("how holdfast runs restic"),
    repositories: z
      .record(nameSchema, repositorySchema)
      .default({})
      .describe("the restic repositories, by name"),
    sources: z.record(nameSchema, sourceSchema).default({}).describe("what to back up, by name"),
    jobs: z.record(nameSchema, jobSchema).describe("the jobs, by name: each a list of steps, run in order"),
    notifications: z
      .record(nameSchema, notifierSchema)
      .default({})
      .describe("the notifiers, by name; a job names the ones it tells in notify"),
    metrics: z
      .strictObject({
        textfile: pathSchema
          .optional()
          .describe(
            "a file the Prometheus exposition is written to after every run (node_exporter's textfile collector)",
          ),
      })
      .default({})
      .describe("Prometheus metrics (docs/metrics.md)"),
    server: z
      .strictObject({
        listen: z
          .string()
          .default("127.0.0.1:8760")
          .describe("host:port of the dashboard and API; an address beyond 127.0.0.1 needs token_file"),
        token_file: pathSchema.optional().describe("file holding the API's bearer token"),
        restore_root: pathSchema
          .optional()
          .describe(
            "the directory restores started from the dashboard go under (default: <state_dir>/restores)",
          ),
      })
      .default({ listen: "127.0.0.1:8760" })
      .describe("`holdfast serve`: the dashboard and HTTP API"),
    // Issue 17: what a new machine needs after a disaster, kept in the repositories themselves.
    recovery: z
      .strictObject({
        meta: z
          .boolean()
          .default(true)
          .describe(
            "after each run that backed up into a repository, store this config (secrets stay out: their paths are listed) and a compact export of the run history there as a snapshot tagged holdfast-meta (one small `restic backup --stdin`), for `holdfast bootstrap`; false turns it off",
          ),
        keep: boundedInt(1000)
          .default(3)
          .describe("how many holdfast-meta snapshots each repository keeps per host"),
      })
      .default({ meta: true, keep: 3 })
      .describe("starting over on a new machine (`holdfast bootstrap`, `holdfast recovery-sheet`)"),
    // Issue 18: replicate this host's history to the fleet's PostgreSQL (docs/fleet.md).
    fleet: z
      .strictObject({
        url_file: pathSchema.describe(
          "file (mode 0600) holding the postgresql:// URL with this host's credentials",
        ),
        host_name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "is not a valid host name")
          .optional()
          .describe("this host's display name in the fleet (default: `host`); its identity is the host id"),
        sync_timeout: durationSchema
          .default(5_000)
          .describe("how long replication after a run may take before it is left for the next sync"),
        report_every: durationSchema
          .optional()
          .describe(
            "how often this host reports even without runs (run `holdfast fleet sync` from a timer this often); the hub calls it missing when silent this long + missing_grace (default for a host with no scheduled job: 1d)",
          ),
        view_url_file: pathSchema
          .optional()
          .describe(
            "the hub: file (0600) with the URL of the read-only viewer role for status/watch --fleet and serve --store postgres (default url_file)",
          ),
        missing_grace: durationSchema
          .default(HOUR)
          .describe(
            "the hub: a host is missing when it has not reported this long after its next expected run",
          ),
        notify: z
          .array(z.string())
          .default([])
          .describe("the hub: the notifiers `watch --fleet` sends stale, missing and recovered to"),
        keep_runs_months: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe(
            "the hub: raw runs older than this many months are deleted by `fleet prune` (daily rollups stay)",
          ),
      })
      .optional()
      .describe("replicate this host's history to the fleet database (docs/fleet.md)"),
  });
}

// types.ts is written by hand so that it imports nothing; these fail to compile if it and the schema
// ever disagree.
type Same<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;
const typesMatchSchema: [
  Same<z.output<typeof repositorySchema>, RawRepositoryConfig>,
  Same<z.output<typeof sourceSchema>, RawSourceConfig>,
  Same<Omit<z.output<ReturnType<typeof buildJobSchema>>, "steps">, Omit<RawJobConfig, "steps">>,
  Same<z.output<ReturnType<typeof buildFileSchema>>, RawConfig>,
] = [true, true, true, true];
void typesMatchSchema;

/** The JSON Schema of the file, for editors (`holdfast config schema`). */
export function configJsonSchema(configSchema: ConfigSchemas["configSchema"]): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://holdfast.dev/schema/holdfast.schema.json",
    title: "holdfast configuration",
    ...schema,
  };
}
