// What the restore side of a database dump runs: the client programs that inspect, create, load,
// query and drop a database, as argv and environment (pure functions, no I/O), so `restore --dry-run`
// and the restore drill show exactly what a restore does. Passwords reach the clients only through
// the PGPASSFILE / option file credentials.ts writes, never argv. Database names are checked against
// DATABASE_NAME (no quotes, backticks, spaces), so quoting them into SQL below is safe.
import {
  DATABASE_NAME,
  mysqlClientProgram,
  mysqlConnectionArgs,
  pgConnectionArgs,
  type ClientCredentials,
  type DumpFormat,
  type DumpTarget,
} from "./drivers.js";

export interface ClientCommand {
  argv: [string, ...string[]];
  env: Record<string, string>;
  /** SQL given on stdin (queries); absent for a load, whose stdin is the dump. */
  input?: string;
}

/** The database a PostgreSQL client connects to when the target may not exist yet. */
export const PG_MAINTENANCE_DB = "postgres";

/** Databases a server has of its own (not counted when asking whether a server is empty). */
const PG_SYSTEM_DBS = ["postgres", "template0", "template1"];
const MYSQL_SYSTEM_DBS = ["information_schema", "mysql", "performance_schema", "sys"];

export type ServerEngine = "postgresql" | "mariadb" | "mysql";

export function isServerEngine(engine: string): engine is ServerEngine {
  return engine === "postgresql" || engine === "mariadb" || engine === "mysql";
}

function pgEnv(creds: ClientCredentials): Record<string, string> {
  return creds.pgpassFile !== undefined ? { PGPASSFILE: creds.pgpassFile } : {};
}

function checkName(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new Error(`not a database name: ${JSON.stringify(name)}`);
  return name;
}

/** psql running SQL from stdin: unaligned, tuples only, stopping at the first error. */
export function queryCommand(
  target: DumpTarget,
  creds: ClientCredentials,
  database: string,
  sql: string,
): ClientCommand {
  if (target.engine === "postgresql")
    return {
      argv: [
        "psql",
        "-X",
        ...pgConnectionArgs(target),
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-F",
        "\t",
        `--dbname=${checkName(database)}`,
        "-f",
        "-",
      ],
      env: pgEnv(creds),
      input: sql,
    };
  return {
    argv: [
      mysqlClientProgram(target.engine),
      ...mysqlConnectionArgs(target, creds),
      "--batch",
      "--skip-column-names",
      ...(database === "" ? [] : [checkName(database)]),
    ],
    env: {},
    input: sql,
  };
}

/**
 * One row: whether `database` exists (0/1) and how many user tables (and other relations) it holds.
 * For a whole-server dump (`all`): 1 and the number of user databases the server has.
 */
export function inspectCommand(
  target: DumpTarget,
  creds: ClientCredentials,
  database: string,
): ClientCommand {
  if (target.engine === "postgresql") {
    const sql =
      database === "all"
        ? `SELECT 1, count(*) FROM pg_database WHERE datname NOT IN (${PG_SYSTEM_DBS.map((d) => `'${d}'`).join(", ")});`
        : `SELECT count(*), 0 FROM pg_database WHERE datname = '${checkName(database)}';`;
    return queryCommand(target, creds, PG_MAINTENANCE_DB, sql);
  }
  const sql =
    database === "all"
      ? `SELECT 1, count(*) FROM information_schema.schemata WHERE schema_name NOT IN (${MYSQL_SYSTEM_DBS.map((d) => `'${d}'`).join(", ")});`
      : `SELECT (SELECT count(*) FROM information_schema.schemata WHERE schema_name = '${checkName(database)}'), (SELECT count(*) FROM information_schema.tables WHERE table_schema = '${checkName(database)}');`;
  return queryCommand(target, creds, "", sql);
}

/** PostgreSQL: the relations of an existing database outside the system schemas (its emptiness). */
export function pgRelationsCommand(
  target: DumpTarget,
  creds: ClientCredentials,
  database: string,
): ClientCommand {
  return queryCommand(
    target,
    creds,
    database,
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%';",
  );
}

export function createCommand(target: DumpTarget, creds: ClientCredentials, database: string): ClientCommand {
  return target.engine === "postgresql"
    ? queryCommand(target, creds, PG_MAINTENANCE_DB, `CREATE DATABASE "${checkName(database)}";`)
    : queryCommand(target, creds, "", `CREATE DATABASE \`${checkName(database)}\`;`);
}

export function dropCommand(target: DumpTarget, creds: ClientCredentials, database: string): ClientCommand {
  return target.engine === "postgresql"
    ? queryCommand(target, creds, PG_MAINTENANCE_DB, `DROP DATABASE IF EXISTS "${checkName(database)}";`)
    : queryCommand(target, creds, "", `DROP DATABASE IF EXISTS \`${checkName(database)}\`;`);
}

/** The mariadb client's option (10.11.8+) that refuses client commands touching the file system. */
export const MYSQL_SANDBOX = "--sandbox";

/**
 * The program that reads the dump on its stdin and loads it.
 * - pg-custom: pg_restore in one transaction (a failure leaves nothing half-loaded); --clean with --force.
 * - pg-sql (pg_dumpall, globals): psql into the maintenance database, going on past errors such as
 *   "role … already exists" (pg_dumpall's own advice); the errors are counted and reported.
 * - mysql-sql: the mariadb/mysql client into the database (a per-database dump has no CREATE DATABASE
 *   or USE, and drops each table before creating it), or into the server for `all`; with --sandbox,
 *   so a client command planted in the dump (`\! shell command`, `source`, `tee`) is refused, not run
 *   as the restoring user (restoreDatabase checks first that the client has --sandbox).
 */
export function loadCommand(
  target: DumpTarget,
  creds: ClientCredentials,
  format: DumpFormat,
  database: string,
  options: { force: boolean },
): ClientCommand {
  switch (format) {
    case "pg-custom":
      return {
        argv: [
          "pg_restore",
          ...pgConnectionArgs(target),
          "--exit-on-error",
          "--single-transaction",
          ...(options.force ? ["--clean", "--if-exists"] : []),
          `--dbname=${checkName(database)}`,
        ],
        env: pgEnv(creds),
      };
    case "pg-sql":
      return {
        argv: ["psql", "-X", ...pgConnectionArgs(target), "-q", `--dbname=${PG_MAINTENANCE_DB}`, "-f", "-"],
        env: pgEnv(creds),
      };
    case "mysql-sql":
      return {
        argv: [
          mysqlClientProgram(target.engine),
          ...mysqlConnectionArgs(target, creds),
          MYSQL_SANDBOX,
          ...(database === "all" ? [] : [checkName(database)]),
        ],
        env: {},
      };
    default:
      throw new Error(`no client loads a ${format} dump`);
  }
}

/** The default check query of a restore drill: how many user tables the restored database has. */
export function defaultCheckQuery(engine: string, database: string): string {
  if (engine === "postgresql")
    return "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%';";
  if (engine === "sqlite") return "SELECT count(*) FROM sqlite_schema WHERE type = 'table';";
  return `SELECT count(*) FROM information_schema.tables WHERE table_schema = '${checkName(database)}';`;
}
