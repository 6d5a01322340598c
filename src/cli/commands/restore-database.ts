// holdfast restore --database NAME [REPO] [--to-database OTHER] [--snapshot ID] [--force] [--dry-run]:
// a database dumped by a `dump` step, back into its server (or a SQLite file). The dump step of the
// config that dumps NAME gives the engine, the connection and the password file; its snapshot is the
// latest dump of NAME (or --snapshot), streamed by `restic dump` into the client (src/dump/restore-db.ts).
import path from "node:path";
import type { Config, JobConfig } from "../../config/types.js";
import { UsageError, EXIT, type StepError } from "../../errors.js";
import { stepEnv } from "../../engine/env.js";
import { HOLDFAST_TAG, snapshots, sourceTag } from "../../restic/commands.js";
import { planResticCommand } from "../../restic/plan.js";
import type { Snapshot } from "../../restic/outputs.js";
import { quoteArgv } from "../../util/shell-quote.js";
import { formatBytes } from "../../util/units.js";
import { prepareCredentials } from "../../dump/credentials.js";
import { DATABASE_NAME, type ClientCredentials, type DumpUnit } from "../../dump/drivers.js";
import { dumpedDatabases, findDumpSteps, type FoundDump } from "../../steps/dump-locate.js";
import { createCommand, loadCommand, type ClientCommand } from "../../dump/clients.js";
import { dumpSourceName, dumpTarget } from "../../dump/naming.js";
import { describeHeld, inspectTarget, restoreDatabase } from "../../dump/restore-db.js";
import type { DumpOptions } from "../../steps/dump.js";
import { color, errColor, printJson } from "../output.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";

export interface DatabaseRestoreFlags {
  database: string;
  toDatabase?: string;
  snapshot?: string;
  source?: string;
  host?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export default async function restoreDatabaseCommand(
  config: Config,
  repoName: string | undefined,
  flags: DatabaseRestoreFlags,
): Promise<number> {
  const database = flags.database;
  if (!DATABASE_NAME.test(database))
    throw new UsageError(
      `--database ${JSON.stringify(database)} is not a database name`,
      "name a database a dump step dumps",
    );
  const matches = findDumpSteps(config.jobs, database, flags.source);
  if (matches.length === 0) {
    const known = dumpedDatabases(config.jobs);
    throw new UsageError(
      `no dump step of the config dumps a database named ${database}${flags.source !== undefined ? ` as source ${flags.source}` : ""}`,
      known.length > 0
        ? `databases the dump steps dump: ${known.join(", ")}`
        : "add a dump step (docs/steps/dump.md)",
    );
  }
  if (matches.length > 1)
    throw new UsageError(
      `${matches.length} dump steps dump a database named ${database}: ${matches.map((m) => `${m.job}/${m.step.name} (source ${dumpSourceName(m.options)})`).join(", ")}`,
      "say which with --source NAME",
    );
  const { job: jobName, step, options: o, unit } = matches[0] as FoundDump;
  const job = config.jobs[jobName] as JobConfig;
  const source = dumpSourceName(o);
  const [repo] =
    repoName !== undefined ? pickRepositories(config, repoName) : pickRepositories(config, o.repos[0]);
  if (!repo) throw new UsageError(`no repository for the dumps of ${source}`);

  const server = o.engine === "postgresql" || o.engine === "mariadb" || o.engine === "mysql";
  if (o.engine === "command")
    throw new UsageError(
      `${database} is dumped by a command (source ${source}); holdfast cannot know how to load it`,
      `write the dump out and load it yourself: holdfast restic ${repo.name} -- dump latest --tag db:${database} …, or holdfast snapshots ${repo.name} --source ${source}`,
    );
  const whole = unit.format === "pg-sql" || (unit.database === "all" && server);
  if (whole && flags.toDatabase !== undefined)
    throw new UsageError(
      `--to-database: the dump ${database} is ${unit.database === "globals" ? "roles and tablespaces" : "a whole server"}, not one database`,
      "dump single databases (databases: [NAME, …]) to restore them under another name",
    );
  let toDatabase: string;
  if (o.engine === "sqlite") toDatabase = path.resolve(flags.toDatabase ?? o.path ?? "");
  else {
    toDatabase = whole ? unit.database : (flags.toDatabase ?? database);
    if (!DATABASE_NAME.test(toDatabase))
      throw new UsageError(
        `--to-database ${JSON.stringify(toDatabase)} is not a database name`,
        "letters, digits, '_', '.', '$' or '-'",
      );
  }

  const cli = createCliRestic(config);
  let env: Record<string, string>;
  try {
    env = stepEnv(config, job, step);
  } catch (err) {
    cli.dispose();
    throw new UsageError((err as Error).message, `fix the env_file of job ${job.name} / step ${step.name}`);
  }
  delete env.HOLDFAST_JOB;
  delete env.HOLDFAST_STEP;
  const redact = (text: string) => cli.redactor.redact(text);
  const target = dumpTarget(o);
  try {
    const snapshot = await findSnapshot(
      cli.host,
      repo,
      source,
      database,
      flags,
      o.snapshot_host ?? config.host,
    );
    if ("message" in snapshot) {
      if (flags.json)
        printJson({ database, repo: repo.name, ok: false, error: jsonError(snapshot, cli.redactor) });
      else process.stderr.write(`${errColor.red("error")}: ${describeError(snapshot, cli.redactor)}\n`);
      return signalExitCode(cli.host) ?? EXIT.failed;
    }
    const file = snapshot.paths[0] ?? "";
    const base = {
      database,
      engine: o.engine,
      source,
      repo: repo.name,
      snapshot_id: snapshot.id,
      short_id: snapshot.id.slice(0, 8),
      snapshot_time: snapshot.time,
      file,
      to_database: toDatabase,
    };

    const prepared = flags.dryRun ? null : prepareCredentials(o.engine, o.password_file);
    if (prepared && "kind" in prepared) throw new UsageError(prepared.message, prepared.hint);
    const creds: ClientCredentials = prepared?.creds ?? {};
    try {
      if (flags.dryRun) return await dryRun(config, cli, env, o, unit, repo, base, flags);
      if (!flags.json)
        process.stderr.write(
          `restoring ${database} (${o.engine}) from snapshot ${base.short_id} of ${repo.name} (${snapshot.time}) into ${o.engine === "sqlite" ? toDatabase : `database ${toDatabase}`} …\n`,
        );
      const result = await restoreDatabase({
        host: cli.host,
        clientEnv: env,
        repo,
        snapshotId: snapshot.id,
        file,
        target,
        creds,
        format: unit.format,
        toDatabase,
        force: flags.force === true,
        redact,
        onClientLine: (line) => {
          if (!flags.json) process.stderr.write(`${line}\n`);
        },
      });
      const cancelled = signalExitCode(cli.host);
      if (cancelled !== null) return cancelled;
      if (!result.ok) {
        if (flags.json)
          printJson({
            ...base,
            ok: false,
            refused: result.refused,
            partial: result.partial,
            error: jsonError(result.error, cli.redactor),
          });
        else process.stderr.write(`${errColor.red("error")}: ${describeError(result.error, cli.redactor)}\n`);
        // Refused before anything ran (a non-empty target, a command dump): a usage error, exit 2.
        return result.refused && result.error.kind === "config" ? EXIT.usage : EXIT.failed;
      }
      if (flags.json)
        printJson({
          ...base,
          ok: true,
          created: result.created,
          bytes: result.bytes,
          warnings: result.warnings,
          error: null,
        });
      else {
        process.stdout.write(
          `${color.green("restored")} ${database} from snapshot ${base.short_id} of ${repo.name} into ${o.engine === "sqlite" ? toDatabase : `database ${toDatabase}`}${result.created ? " (created)" : ""}: ${formatBytes(result.bytes)}\n`,
        );
        if (result.warnings.length > 0)
          process.stderr.write(
            `${errColor.yellow("warning")}: ${result.warnings.length} statement(s) failed and were skipped (usually "already exists"): ${result.warnings.slice(0, 5).join(" / ")}\n`,
          );
      }
      return result.warnings.length > 0 ? EXIT.warning : EXIT.ok;
    } finally {
      if (prepared && !("kind" in prepared)) prepared.cleanup();
    }
  } finally {
    cli.dispose();
  }
}

async function findSnapshot(
  host: ReturnType<typeof createCliRestic>["host"],
  repo: ReturnType<typeof pickRepositories>[number],
  source: string,
  database: string,
  flags: DatabaseRestoreFlags,
  defaultHost: string,
): Promise<Snapshot | StepError> {
  const wanted = flags.snapshot;
  const byId = wanted !== undefined && wanted !== "latest";
  const listed = await snapshots(host, repo, {
    tags: [[HOLDFAST_TAG, sourceTag(source), `db:${database}`]],
    ...(byId ? {} : { hosts: [flags.host ?? defaultHost] }),
  });
  if (!listed.outcome.ok)
    return listed.outcome.error ?? { kind: "exit_code", message: "restic snapshots failed", hint: null };
  if (byId) {
    const hits = listed.snapshots.filter((s) => s.id.startsWith(wanted));
    if (hits.length === 1 && hits[0]) return hits[0];
    return {
      kind: "not_found",
      message:
        hits.length === 0
          ? `no dump of ${database} (source ${source}) in ${repo.name} has id ${wanted}`
          : `${hits.length} dumps of ${database} start with ${wanted}`,
      hint: `list them: holdfast snapshots ${repo.name} --source ${source}`,
    };
  }
  const latest = listed.snapshots.at(-1);
  if (latest) return latest;
  return {
    kind: "not_found",
    message: `no dump of ${database} (source ${source}) made on ${flags.host ?? defaultHost} in ${repo.name}`,
    hint: `run the dump step first, or name the host the dumps were made on (--host), or the repository (holdfast restore --database ${database} REPO)`,
  };
}

/** --dry-run: the commands a restore would run, with the target's state (read-only queries). */
async function dryRun(
  config: Config,
  cli: ReturnType<typeof createCliRestic>,
  env: Record<string, string>,
  o: DumpOptions,
  unit: DumpUnit,
  repo: ReturnType<typeof pickRepositories>[number],
  base: Record<string, unknown> & { snapshot_id: string; file: string; to_database: string },
  flags: DatabaseRestoreFlags,
): Promise<number> {
  // The credentials are named by what they will be; the real files are made (and removed) only for
  // the read-only inspection below.
  const named: ClientCredentials =
    o.password_file === undefined
      ? {}
      : o.engine === "postgresql"
        ? { pgpassFile: "$PRIVATE_DIR/pgpass" }
        : { optionFile: "$PRIVATE_DIR/client.cnf" };
  const target = dumpTarget(o);
  const show = (c: ClientCommand) =>
    `${Object.entries(c.env)
      .map(([k, v]) => `${k}=${v} `)
      .join("")}${quoteArgv(c.argv)}`;
  const restic = planResticCommand(config, repo, ["dump", base.snapshot_id, base.file]);
  const plan: string[] = [];
  if (o.password_file !== undefined)
    plan.push(
      `password from ${o.password_file} into ${o.engine === "postgresql" ? "PGPASSFILE" : "--defaults-extra-file"} $PRIVATE_DIR/… (0600, removed after)`,
    );

  const prepared = prepareCredentials(o.engine, o.password_file);
  if ("kind" in prepared) throw new UsageError(prepared.message, prepared.hint);
  let state;
  try {
    state =
      unit.format === "pg-sql" && unit.database === "globals"
        ? { exists: true, holds: 0 }
        : await inspectTarget(
            {
              host: cli.host,
              clientEnv: env,
              target,
              creds: prepared.creds,
              format: unit.format,
              redact: (t) => cli.redactor.redact(t),
            },
            base.to_database,
          );
  } finally {
    prepared.cleanup();
  }
  let refused: string | null = null;
  if ("kind" in state)
    plan.push(`(the target could not be inspected: ${cli.redactor.redact(state.message)})`);
  else if (state.holds > 0 && !flags.force)
    refused = `refusing to restore into ${describeHeld(unit.format, base.to_database, state)} (--force to load over it)`;
  if (unit.format === "sqlite-file") {
    plan.push(
      `${restic} > ${path.join(path.dirname(base.to_database), `.${path.basename(base.to_database)}.holdfast-restore-…`)} (0600)`,
    );
    plan.push(
      `PRAGMA integrity_check of it, then ${flags.force ? "rename it over" : "link it as"} ${base.to_database}${flags.force ? " (its -wal, -shm, -journal removed first)" : ""}`,
    );
  } else {
    if (!("kind" in state) && !state.exists && unit.format !== "pg-sql" && base.to_database !== "all") {
      const create = createCommand(target, named, base.to_database);
      plan.push(`${show(create)} <<< ${quoteArgv([create.input ?? ""])}`);
    }
    plan.push(
      `${restic} | ${show(loadCommand(target, named, unit.format, base.to_database, { force: flags.force === true }))}`,
    );
  }
  const lines = plan.map((l) => cli.redactor.redact(l));
  if (flags.json) printJson({ ...base, dry_run: true, plan: lines, refused, ok: refused === null });
  else {
    process.stdout.write(
      `restore of ${String(base.database)} from snapshot ${String(base.short_id)} of ${repo.name} (dry run, nothing changed):\n`,
    );
    for (const l of lines) process.stdout.write(`  ${l}\n`);
    if (refused) process.stdout.write(`${color.red("would refuse")}: ${refused}\n`);
  }
  return refused !== null ? EXIT.usage : EXIT.ok;
}
