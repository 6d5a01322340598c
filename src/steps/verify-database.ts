// The restore drill of a database (verify with `database:`): for each repository, the latest dump of
// the database (by the dump step whose source is `source`) is restored into a scratch database on
// the same server — `holdfast_drill_DB_PID_RANDOM`, created for the drill and always dropped after — or,
// for SQLite, into a temporary file in a private 0700 directory (removed after). Then `check_query`
// runs on the copy; its first value must be a number ≥ `check_min`. The restore is exactly what
// `holdfast restore --database` does (src/dump/restore-db.ts); repositories are drilled one after
// the other, so the server holds one scratch copy at a time.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { StepContext, StepOutcome } from "../engine/step-kind.js";
import { stepError, type StepError } from "../errors.js";
import type { TargetRecord } from "../store/types.js";
import { detectRestic, HOLDFAST_TAG, snapshots, sourceTag } from "../restic/commands.js";
import type { ResticHost } from "../restic/host.js";
import { prepareCredentials } from "../dump/credentials.js";
import { defaultCheckQuery } from "../dump/clients.js";
import { dumpTarget } from "../dump/naming.js";
import { findDumpSteps, type FoundDump } from "./dump-locate.js";
import { dropDatabase, queryDatabase, restoreDatabase } from "../dump/restore-db.js";
import type { ClientCredentials } from "../dump/drivers.js";
import { formatBytes } from "../util/units.js";
import { makePrivateTempDir } from "../util/private-temp.js";
import { resticHostFromStep } from "./restic-host.js";
import { combineTargets } from "./targets.js";
import { deadScratches, forgetScratch, recordScratch } from "./drill-scratch.js";
import { scratchDatabaseName, type VerifyOptions } from "./verify.js";

export async function runDatabaseDrill(
  ctx: StepContext<VerifyOptions>,
  database: string,
): Promise<StepOutcome> {
  const o = ctx.options;
  const found = findDumpSteps(ctx.config.jobs, database, o.source)[0];
  if (!found)
    return {
      status: "failed",
      error: stepError(
        "config",
        `no dump step with source ${o.source} dumps a database named ${database}`,
        "name the dump step's source in source:",
      ),
    };
  const restic = await detectRestic(ctx.config, ctx.env);
  if (restic.error)
    return {
      status: "failed",
      error: restic.error,
      targets: o.repos.map((repo) => ({ repo, status: "skipped", duration_ms: null, error: restic.error })),
    };
  const prepared = prepareCredentials(found.options.engine, found.options.password_file);
  if ("kind" in prepared) return { status: "failed", error: prepared };
  const host = resticHostFromStep(ctx);
  const query = o.check_query ?? defaultCheckQuery(found.options.engine, database);
  ctx.log.info(
    `restore drill of database ${database} (${found.options.engine}, source ${o.source}); check: ${query} ≥ ${o.check_min}`,
  );
  const targets: TargetRecord[] = [];
  try {
    if (found.options.engine !== "sqlite") await dropDeadScratches(ctx, host, found, prepared.creds);
    for (const name of o.repos) {
      const started = Date.now();
      if (ctx.signal.aborted) {
        targets.push({
          repo: name,
          status: "skipped",
          duration_ms: null,
          error: stepError("cancelled", "not started: the step was stopped"),
        });
        continue;
      }
      let target: TargetRecord;
      try {
        target = await drillOne(ctx, host, found, prepared.creds, name, database, query);
      } catch (err) {
        target = {
          repo: name,
          status: "failed",
          duration_ms: null,
          error: stepError("internal", `database drill failed: ${(err as Error).message}`),
        };
      }
      targets.push({ ...target, duration_ms: Date.now() - started });
    }
  } finally {
    prepared.cleanup();
  }
  const at = new Date().toISOString();
  for (const t of targets)
    if (t.status === "succeeded")
      ctx.runState.drillsPassed.push({ repo: t.repo, source: o.source, database, at });
  return {
    ...combineTargets(targets),
    summary: {
      source: o.source,
      database,
      engine: found.options.engine,
      check_query: query,
      check_min: o.check_min,
      results: targets.map((t) => ({ repo: t.repo, value: t.check_value ?? null, status: t.status })),
      passed: targets.filter((t) => t.status === "succeeded").map((t) => t.repo),
    },
  };
}

async function drillOne(
  ctx: StepContext<VerifyOptions>,
  host: ResticHost,
  found: FoundDump,
  creds: ClientCredentials,
  name: string,
  database: string,
  query: string,
): Promise<TargetRecord> {
  const repo = ctx.config.repositories[name];
  if (!repo)
    return fail(name, stepError("config", `unknown repository "${name}"`, "define it under repositories:"));
  const o = ctx.options;
  const dumpHost = found.options.snapshot_host ?? ctx.host;
  const listed = await snapshots(host, repo, {
    tags: [[HOLDFAST_TAG, sourceTag(o.source), `db:${database}`]],
    hosts: [dumpHost],
  });
  if (!listed.outcome.ok)
    return fail(name, listed.outcome.error ?? stepError("exit_code", "restic snapshots failed"));
  const latest = listed.snapshots.at(-1);
  if (!latest)
    return fail(
      name,
      stepError(
        "not_found",
        `no dump of ${database} (source ${o.source}) made on ${dumpHost} in ${name}`,
        "a drill needs a dump: run the dump step first",
      ),
    );
  const file = latest.paths[0] ?? "";
  const base = { snapshot_id: latest.id, short_id: latest.shortId, snapshot_time: latest.time };
  const target = dumpTarget(found.options);
  const sqlite = found.options.engine === "sqlite";
  const scratchDir = sqlite ? makePrivateTempDir("holdfast-drill-db-") : null;
  const scratch = scratchDir
    ? path.join(scratchDir, `${database}.sqlite3`)
    : scratchDatabaseName(database, `${process.pid}_${randomBytes(4).toString("hex")}`);
  const client = { host, clientEnv: ctx.env, target, creds, redact: (text: string) => ctx.redact(text) };
  let created = false;
  // Recorded before it exists, so that a drill killed before its finally is cleaned by the next one.
  if (!scratchDir) recordScratch(ctx.stateDir, target, scratch);
  try {
    const restored = await restoreDatabase({
      ...client,
      repo,
      snapshotId: latest.id,
      file,
      format: found.unit.format,
      toDatabase: scratch,
      force: false,
      onClientLine: (line) => ctx.log.output(line, "stderr"),
    });
    if (!restored.ok) {
      created = !restored.refused;
      return { ...fail(name, restored.error), ...base, scratch_database: sqlite ? null : scratch };
    }
    created = true;
    const answer = sqlite ? await querySqlite(scratch, query) : await queryDatabase(client, scratch, query);
    if (!answer.ok || answer.error)
      return {
        ...fail(
          name,
          stepError(
            "anomaly",
            `the check query failed on the restored copy of ${database} (snapshot ${latest.shortId}): ${answer.error?.message ?? "no answer"}`,
            "the dump restores but does not hold what check_query expects: look at the query, then at the dump (holdfast restore --database)",
          ),
        ),
        ...base,
      };
    const first = (answer.stdout.split("\n")[0] ?? "").split("\t")[0] ?? "";
    const value = first.trim() === "" ? null : Number(first);
    const figures = {
      ...base,
      scratch_database: sqlite ? null : scratch,
      dump_size: restored.bytes,
      check_value: first,
    };
    ctx.log.info(
      `${name}: dump ${latest.shortId} of ${database} (${formatBytes(restored.bytes)}) restored into ${sqlite ? "a temporary file" : scratch}; check query gave ${first || "(no row)"}`,
    );
    if (value === null || Number.isNaN(value) || value < o.check_min)
      return {
        ...fail(
          name,
          stepError(
            "anomaly",
            `the restored copy of ${database} (snapshot ${latest.shortId}) answers ${first === "" ? "no row" : first} to the check query, less than check_min ${o.check_min}`,
            "the dump restores but holds less than expected: was the database emptied before the dump? look at it with holdfast restore --database",
          ),
        ),
        ...figures,
      };
    return { repo: name, status: "succeeded", duration_ms: null, error: null, exit_code: 0, ...figures };
  } finally {
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
    else {
      const dropped = created ? await dropDatabase(client, scratch) : null;
      if (dropped)
        ctx.log.warn(`${name}: could not drop the scratch database ${scratch}: ${dropped.message}`);
      else forgetScratch(ctx.stateDir, process.pid, scratch);
    }
  }
}

/** Drops the scratch databases that drills killed before their cleanup left on this server. */
async function dropDeadScratches(
  ctx: StepContext<VerifyOptions>,
  host: ResticHost,
  found: FoundDump,
  creds: ClientCredentials,
): Promise<void> {
  const target = dumpTarget(found.options);
  const client = { host, clientEnv: ctx.env, target, creds, redact: (text: string) => ctx.redact(text) };
  for (const left of deadScratches(ctx.stateDir, target)) {
    const dropped = await dropDatabase(client, left.database);
    if (dropped) {
      ctx.log.warn(
        `could not drop the scratch database ${left.database} that a killed drill (pid ${left.pid}) left: ${dropped.message}`,
      );
      continue;
    }
    ctx.log.info(`dropped the scratch database ${left.database} that a killed drill (pid ${left.pid}) left`);
    forgetScratch(ctx.stateDir, left.pid, left.database);
  }
}

async function querySqlite(
  file: string,
  sql: string,
): Promise<{ ok: boolean; stdout: string; error: StepError | null }> {
  const { default: Database } = await import("better-sqlite3");
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare(sql).raw().get() as unknown[] | undefined;
      return { ok: true, stdout: row === undefined ? "" : row.map((v) => String(v)).join("\t"), error: null };
    } finally {
      db.close();
    }
  } catch (err) {
    return { ok: false, stdout: "", error: stepError("exit_code", (err as Error).message) };
  }
}

function fail(repo: string, error: StepError): TargetRecord {
  return {
    repo,
    status: error.kind === "cancelled" ? "cancelled" : error.kind === "timeout" ? "timed_out" : "failed",
    duration_ms: null,
    error,
    exit_code: 1,
  };
}
