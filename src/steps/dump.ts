// The `dump` step: a database dump (PostgreSQL, MariaDB/MySQL, SQLite, or any command's stdout)
// streamed into `restic backup --stdin` for each repository. This file is the definition (options,
// checks, data flow, plan); the runner (dump-run.ts) and the engine drivers (src/dump/) load when a
// dump runs. docs/steps/dump.md is the user's page.
import { z } from "zod";
import { defineStepKind, type StepProblem } from "../engine/step-kind.js";
import { argvSchema, nameSchema, pathSchema, percentSchema, sizeSchema } from "../config/values.js";
import { planResticCommand } from "../restic/plan.js";
import { quoteArgv } from "../util/shell-quote.js";
import { DATABASE_NAME, dumpUnits, hostLabel, stdinFilename } from "../dump/drivers.js";
import { dumpedDatabasesOf, dumpSourceName, dumpTags, dumpTarget } from "../dump/naming.js";

const databaseName = z
  .string()
  .regex(
    DATABASE_NAME,
    "a database name here is letters, digits, '_', '.', '$' or '-' (no spaces or commas)",
  );

const options = {
  engine: z
    .enum(["postgresql", "mariadb", "mysql", "sqlite", "command"])
    .describe(
      "which driver dumps: pg_dump/pg_dumpall, mariadb-dump/mysqldump, SQLite VACUUM INTO, or a command's stdout",
    ),
  databases: z
    .union([z.literal("all"), z.array(databaseName).min(1, "name at least one database, or write all")])
    .optional()
    .describe(
      "postgresql/mariadb/mysql: the databases, each its own dump; `all` (default) dumps the whole server",
    ),
  database: databaseName
    .optional()
    .describe(
      "sqlite/command: the name the dump is tagged and restored by (sqlite default: the file's name)",
    ),
  path: pathSchema.optional().describe("sqlite: the database file"),
  command: argvSchema.optional().describe("command: the program whose stdout is the dump (argv, no shell)"),
  host: z.string().min(1).optional().describe("TCP host; for postgresql also a socket directory (a path)"),
  socket: pathSchema.optional().describe("mariadb/mysql: the socket file; postgresql: the socket directory"),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe("TCP port (default: the client's, 5432 / 3306)"),
  user: z.string().min(1).optional().describe("the database user the dump connects as"),
  password_file: pathSchema
    .optional()
    .describe(
      "a file (0600) whose first line is the database password; handed over as PGPASSFILE or --defaults-extra-file, never argv",
    ),
  globals: z
    .boolean()
    .default(true)
    .describe(
      "postgresql with a list of databases: also pg_dumpall --globals-only (roles, tablespaces) as db:globals",
    ),
  dump_args: z
    .array(z.string())
    .default([])
    .describe("extra arguments for pg_dump / mariadb-dump (never a password: use password_file)"),
  repos: z
    .array(nameSchema)
    .min(1, "name at least one repository")
    .describe("the repositories each dump is streamed into"),
  tags: z
    .array(z.string().regex(/^[^,\s]+$/, "a tag cannot contain commas or spaces"))
    .default([])
    .describe("restic tags besides holdfast, source:, job:, dump:ENGINE and db:NAME"),
  source: nameSchema
    .optional()
    .describe("the source name the dumps are known by (retention, redundancy); default: the step's name"),
  snapshot_host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    .optional()
    .describe("restic --host of the snapshots (default: the config's host)"),
  fan_out: z
    .enum(["auto", "tee", "per_repo"])
    .default("auto")
    .describe(
      "several repositories: tee (one dump, streamed into every repository) or per_repo (one dump each); auto: per_repo with --stdin-from-command for one repository on restic 0.17+, else tee",
    ),
  min_size: sizeSchema
    .optional()
    .describe("guard: a dump smaller than this fails the step (its snapshot is forgotten)"),
  max_shrink: percentSchema
    .optional()
    .describe(
      "guard: fail when a dump is this much smaller than the previous dump of that database (e.g. 50%)",
    ),
};
export type DumpOptions = z.output<z.ZodObject<typeof options>>;

function checkOptions(o: DumpOptions): StepProblem[] {
  const problems: StepProblem[] = [];
  const server = o.engine === "postgresql" || o.engine === "mariadb" || o.engine === "mysql";
  const refuse = (field: keyof DumpOptions, why: string) => {
    if (o[field] !== undefined)
      problems.push({ path: [field], message: `${field} is not used by engine ${o.engine}`, hint: why });
  };
  if (server) {
    refuse("path", "path is for engine: sqlite");
    refuse("command", "command is for engine: command");
    refuse("database", "name the databases with databases: [NAME, …] (or all)");
  }
  if (o.engine === "sqlite") {
    if (o.path === undefined)
      problems.push({
        path: [],
        message: "a sqlite dump needs path: (the database file)",
        hint: "path: /srv/app/app.db",
      });
    for (const f of ["databases", "command", "host", "socket", "port", "user", "password_file"] as const)
      refuse(f, "a SQLite database is a file: give path:");
  }
  if (o.engine === "command") {
    if (o.command === undefined)
      problems.push({
        path: [],
        message: "a command dump needs command: [PROGRAM, ARG…] (its stdout is the dump)",
        hint: "command: [docker, exec, app-db, pg_dump, -Fc, app]",
      });
    if (o.database === undefined)
      problems.push({
        path: [],
        message: "a command dump needs database: NAME (the name it is tagged and restored by)",
        hint: "database: app",
      });
    for (const f of ["databases", "path", "host", "socket", "port", "user", "password_file"] as const)
      refuse(f, "a command dump runs the command as written; give its connection in the command or env_file");
  }
  if (o.host !== undefined && o.socket !== undefined)
    problems.push({ path: ["socket"], message: "give either host or socket, not both" });
  // A password in dump_args would be on the dump program's command line (ps), in the plan and the logs.
  o.dump_args.forEach((arg, i) => {
    if (passwordInArg(arg, o.engine === "mariadb" || o.engine === "mysql"))
      problems.push({
        path: ["dump_args", i],
        message: "dump_args would put the database password on the dump program's command line",
        hint: "write the password in a file (one line, mode 0600) and name it in password_file:",
      });
  });
  return problems;
}

/** --password[=…], MariaDB's -pSECRET, a URL with user:password@, a conninfo password=… (never echoed). */
function passwordInArg(arg: string, mysql: boolean): boolean {
  if (/^--password(=|$)/.test(arg) || (mysql && /^-p/.test(arg))) return true;
  return /[a-z][a-z0-9+.-]*:\/\/[^\s/@]*:[^\s/]*@/i.test(arg) || /(^|[\s=])password\s*=/i.test(arg);
}

export const dumpStep = defineStepKind({
  type: "dump",
  summary:
    "a database dump (postgresql, mariadb/mysql, sqlite, or a command's stdout) streamed into restic backup --stdin for each repository",
  options,
  check: checkOptions,
  references: (o) => o.repos.map((name, i) => ({ path: ["repos", i], kind: "repository" as const, name })),
  dataFlow: {
    how: "dump",
    of: (o) => ({
      source: dumpSourceName(o),
      repos: o.repos,
      ...(o.snapshot_host !== undefined ? { host: o.snapshot_host } : {}),
      databases: dumpedDatabasesOf(o),
    }),
  },
  plan: (ctx) => {
    const o = ctx.options;
    const target = dumpTarget(o);
    // The plan names the password files by what they will be; their contents are never shown.
    const units = dumpUnits(target, {
      ...(o.password_file !== undefined && o.engine === "postgresql"
        ? { pgpassFile: "$PRIVATE_DIR/pgpass" }
        : {}),
      ...(o.password_file !== undefined && o.engine !== "postgresql"
        ? { optionFile: "$PRIVATE_DIR/client.cnf" }
        : {}),
    });
    const host = o.snapshot_host ?? ctx.host;
    const label = hostLabel(target, ctx.host);
    const lines: string[] = [];
    if (o.password_file !== undefined)
      lines.push(
        `password from ${o.password_file} into ${o.engine === "postgresql" ? "PGPASSFILE" : "--defaults-extra-file"} $PRIVATE_DIR/… (0600, removed after)`,
      );
    for (const unit of units) {
      const dumpLine =
        unit.argv === null
          ? `sqlite3 VACUUM INTO a private copy of ${unit.file ?? "?"}, PRAGMA quick_check, then stream it`
          : `${Object.entries(unit.env)
              .map(([k, v]) => `${k}=${v} `)
              .join("")}${quoteArgv(unit.argv)}`;
      const filename = stdinFilename(o.engine, label, unit.database, false);
      // Several repositories, one dump (fan_out auto/tee): tee copies it into a FIFO per repository.
      const teed = unit.argv !== null && o.repos.length > 1 && o.fan_out !== "per_repo";
      if (teed)
        lines.push(
          `${dumpLine} | tee ${o.repos.map((_, i) => `$PRIVATE_DIR/repo-${i}`).join(" ")} >/dev/null   (one dump; each $PRIVATE_DIR/repo-N is a FIFO, read by:)`,
        );
      for (const [i, name] of o.repos.entries()) {
        const repo = ctx.config.repositories[name];
        if (!repo) continue;
        const args = [
          "backup",
          "--json",
          "--host",
          host,
          ...dumpTags(o, ctx.job.name, unit.database).flatMap((t) => ["--tag", t]),
          "--stdin",
          "--stdin-filename",
          filename,
        ];
        const restic = planResticCommand(ctx.config, repo, args);
        lines.push(teed ? `  ${restic} < $PRIVATE_DIR/repo-${i}` : `${dumpLine} | ${restic}`);
      }
    }
    if (o.min_size !== undefined || o.max_shrink !== undefined)
      lines.push(
        `guard: ${[
          o.min_size !== undefined ? `min_size ${o.min_size} bytes` : null,
          o.max_shrink !== undefined
            ? `max_shrink ${Math.round(o.max_shrink * 100)}% vs the previous dump`
            : null,
        ]
          .filter(Boolean)
          .join(", ")}; a dump that fails it is forgotten`,
      );
    return lines;
  },
  run: async (ctx) => (await import("./dump-run.js")).runDump(ctx),
});
