// `verify`: the restore drill. This file is its definition (options, checks, references, data flow,
// plan); the runner is verify-run.ts (files) and verify-database.ts (`database:`), loaded when a drill
// runs. docs/steps/verify.md is the user's page.
//
// Files: per repository, the latest snapshot of the source on this host; a random sample of its
// regular files read back with one `restic restore --include …` into a private temp dir and compared
// (sha256) with the unchanged source files; the snapshot's file count against the source's.
// Database (`database: NAME`, `source:` the dump step's source): the latest dump of NAME restored into
// a scratch database (or a temporary SQLite file), a check query run on it, the scratch dropped.
import { z } from "zod";
import { defineStepKind, type PlanContext, type StepProblem } from "../engine/step-kind.js";
import { countOrPercentSchema, nameSchema } from "../config/values.js";
import { HOLDFAST_TAG, sourceTag } from "../restic/args.js";
import { planResticCommand } from "../restic/plan.js";
import { DATABASE_NAME } from "../dump/drivers.js";
import { dumpedDatabases, findDumpSteps } from "./dump-locate.js";
import {
  createCommand,
  defaultCheckQuery,
  dropCommand,
  loadCommand,
  queryCommand,
  type ClientCommand,
} from "../dump/clients.js";
import { dumpTarget } from "../dump/naming.js";
import { quoteArgv } from "../util/shell-quote.js";
import { sourceScopes } from "./scope.js";

const options = {
  source: nameSchema.describe(
    "the source whose latest snapshot is drilled; with database: the dump step's source (default: its name)",
  ),
  repos: z.array(nameSchema).min(1).describe("the repositories to restore the sample from"),
  sample: countOrPercentSchema
    .default({ count: 20 })
    .describe("how many files are read back and compared: a count (25) or a share (2%)"),
  count_tolerance: countOrPercentSchema
    .default({ fraction: 0.01 })
    .describe("how far the snapshot's file count may differ from the source's: a count or a share"),
  seed: z
    .number()
    .int()
    .nonnegative()
    .max(0xffffffff)
    .optional()
    .describe("replays a drill's sample (every drill's summary has its seed); random by default"),
  database: z
    .string()
    .regex(DATABASE_NAME, "a database name here is letters, digits, '_', '.', '$' or '-'")
    .optional()
    .describe(
      "database mode: drill the dumps of this database (of the dump step whose source is `source`): restore the latest into a scratch database, run check_query, drop it",
    ),
  check_query: z
    .string()
    .min(1)
    .optional()
    .describe(
      "database mode: SQL run on the restored copy; its first value must be a number ≥ check_min (default: the number of tables)",
    ),
  check_min: z
    .number()
    .default(1)
    .describe("database mode: the least value check_query may return (e.g. the rows a table must have)"),
};
export type VerifyOptions = z.output<z.ZodObject<typeof options>>;

export function describeSample(sample: VerifyOptions["sample"]): string {
  return "count" in sample ? `${sample.count} files` : `${+(sample.fraction * 100).toFixed(4)}%`;
}

function checkOptions(o: VerifyOptions): StepProblem[] {
  if (o.database !== undefined) return [];
  return (["check_query"] as const)
    .filter((f) => o[f] !== undefined)
    .map((f) => ({
      path: [f],
      message: `${f} is for a database drill`,
      hint: "add database: NAME (a database a dump step dumps), or remove it",
    }));
}

/** The scratch database of a drill: its name says what it is, and a random part keeps two apart. */
export function scratchDatabaseName(database: string, random: string): string {
  return `holdfast_drill_${database.slice(0, 30)}_${random}`;
}

function planDatabase(ctx: PlanContext<VerifyOptions>, database: string): string[] {
  const o = ctx.options;
  const found = findDumpSteps(ctx.config.jobs, database, o.source)[0];
  if (!found) return [`(no dump step with source ${o.source} dumps ${database})`];
  const d = found.options;
  const host = d.snapshot_host ?? ctx.host;
  const sqlite = d.engine === "sqlite";
  const scratch = scratchDatabaseName(database, "PID_XXXXXXXX");
  // The password files are named by what they will be; their contents are never shown.
  const creds =
    d.password_file === undefined
      ? {}
      : d.engine === "postgresql"
        ? { pgpassFile: "$PRIVATE_DIR/pgpass" }
        : { optionFile: "$PRIVATE_DIR/client.cnf" };
  const target = dumpTarget(d);
  const show = (c: ClientCommand) =>
    `${Object.entries(c.env)
      .map(([k, v]) => `${k}=${v} `)
      .join("")}${quoteArgv(c.argv)}${c.input !== undefined ? ` <<< ${quoteArgv([c.input])}` : ""}`;
  const query = o.check_query ?? defaultCheckQuery(d.engine, sqlite ? database : scratch);
  const client: string[] = sqlite
    ? [
        `(into a temporary file in a private 0700 dir, PRAGMA integrity_check) then: ${query} ≥ ${o.check_min}; the file is removed`,
      ]
    : found.unit.format === "pg-custom" || found.unit.format === "mysql-sql"
      ? [
          show(createCommand(target, creds, scratch)),
          `${show(queryCommand(target, creds, scratch, query))} (≥ ${o.check_min})`,
          `${show(dropCommand(target, creds, scratch))} (always, also after a failure)`,
        ]
      : [];
  return o.repos.flatMap((name) => {
    const repo = ctx.config.repositories[name];
    if (!repo) return [];
    const filter = ["--tag", `${HOLDFAST_TAG},${sourceTag(o.source)},db:${database}`, "--host", host];
    const dump = planResticCommand(ctx.config, repo, ["dump", "SNAPSHOT", "FILE"]);
    const load = sqlite
      ? `${dump} > TEMPFILE`
      : found.unit.format === "pg-custom" || found.unit.format === "mysql-sql"
        ? `${dump} | ${show(loadCommand(target, creds, found.unit.format, scratch, { force: false }))}`
        : "(a drill restores one database)";
    return [
      `${planResticCommand(ctx.config, repo, ["snapshots", "--json", ...filter])} (SNAPSHOT: the latest dump of ${database}, FILE: its path)`,
      ...(sqlite ? [] : client.slice(0, 1)),
      load,
      ...(sqlite ? client : client.slice(1)),
    ];
  });
}

export const verifyStep = defineStepKind({
  type: "verify",
  summary:
    "restore drill: reads a random sample of files back from the latest snapshot and compares them, or restores a database dump into a scratch database and queries it",
  options,
  check: checkOptions,
  checkWithConfig: (o, config) => {
    if (o.database === undefined) return [];
    const found = findDumpSteps(config.jobs, o.database, o.source);
    if (found.length === 0) {
      const known = dumpedDatabases(config.jobs);
      return [
        {
          path: ["database"],
          message: `no dump step with source ${o.source} dumps a database named ${o.database}`,
          hint:
            known.length > 0
              ? `databases the dump steps dump: ${known.join(", ")}`
              : "add a dump step (docs/steps/dump.md) and name its source here",
        },
      ];
    }
    const unit = found[0]?.unit;
    if (unit && (unit.format === "pg-sql" || unit.format === "raw" || unit.database === "all"))
      return [
        {
          path: ["database"],
          message: `a drill restores one database; ${o.database} is ${unit.format === "raw" ? "a command's dump (holdfast cannot load it)" : "a whole server's dump"}`,
          hint: "dump the databases one by one (databases: [NAME, …]) and drill one of them",
        },
      ];
    return [];
  },
  // In database mode `source` names a dump step's source, not one under sources:.
  references: (o) => [
    ...(o.database === undefined ? [{ path: ["source"], kind: "source" as const, name: o.source }] : []),
    ...o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  ],
  dataFlow: { how: "verify", of: (o) => ({ source: o.source, repos: o.repos }) },
  plan: (ctx) => {
    if (ctx.options.database !== undefined) return planDatabase(ctx, ctx.options.database);
    return ctx.options.repos.flatMap((name) => {
      const repo = ctx.config.repositories[name];
      if (!repo) return [];
      const hosts = sourceScopes(ctx, [ctx.options.source])[0]?.hosts ?? [ctx.host];
      const filter = ["--tag", `${HOLDFAST_TAG},${sourceTag(ctx.options.source)}`];
      for (const h of hosts) filter.push("--host", h);
      return [
        `${planResticCommand(ctx.config, repo, ["snapshots", "--json", ...filter])} (the latest of ${ctx.options.source})`,
        `${planResticCommand(ctx.config, repo, ["ls", "--json", "<snapshot>"])} (sample ${describeSample(ctx.options.sample)} of the regular files)`,
        `${planResticCommand(ctx.config, repo, ["restore", "<snapshot>", "--target", "<private temp dir>", "--include", "<sampled file>", "…"])} (then sha256 against the source)`,
      ];
    });
  },
});
