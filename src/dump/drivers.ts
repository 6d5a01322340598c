// What each database engine of the `dump` step runs: the dump program's argv and environment, the
// name the dump has in the snapshot (`--stdin-filename`), and how a dump is read back by restore.
// Secrets never reach argv: a PostgreSQL password goes into a PGPASSFILE, a MariaDB/MySQL password
// into an option file read through --defaults-extra-file, both 0600 in a private 0700 directory that
// credentials() makes and cleanup() removes (credentials.ts). Pure functions, no I/O, so `--dry-run`
// plans show exactly what a run does.

export type DumpEngine = "postgresql" | "mariadb" | "mysql" | "sqlite" | "command";

/** The connection and selection options of a dump step that the drivers read. */
export interface DumpTarget {
  engine: DumpEngine;
  databases?: "all" | string[] | undefined;
  database?: string | undefined;
  path?: string | undefined;
  command?: string[] | undefined;
  host?: string | undefined;
  socket?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  password_file?: string | undefined;
  globals: boolean;
  dump_args: string[];
}

/** Files holding the password for the client, written by credentials.ts. */
export interface ClientCredentials {
  /** PostgreSQL: the PGPASSFILE. */
  pgpassFile?: string;
  /** MariaDB/MySQL: the option file for --defaults-extra-file. */
  optionFile?: string;
}

/** One dump: one database (or `all`, or PostgreSQL's `globals`) into one file of a snapshot. */
export interface DumpUnit {
  /** The database's name as tagged (`db:NAME`) and shown. */
  database: string;
  /** The dump program and its arguments (never a password); null for sqlite (copied in-process). */
  argv: string[] | null;
  /** Variables the dump program needs besides the step's environment (PGPASSFILE, PGHOST…). */
  env: Record<string, string>;
  /** sqlite: the database file. */
  file?: string;
  /** How restore reads this dump back. */
  format: DumpFormat;
}

/**
 * pg-custom: pg_dump -Fc, read by pg_restore; pg-sql: pg_dumpall output, read by psql; mysql-sql:
 * mariadb-dump output, read by mariadb; sqlite-file: a database file; raw: a command's output.
 */
export type DumpFormat = "pg-custom" | "pg-sql" | "mysql-sql" | "sqlite-file" | "raw";

/** The database names a dump may carry: they become file names and restic tags (no commas, spaces, "/"). */
export const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/;

/** The host part of the snapshot's file name: the TCP host, "localhost" for a socket, the machine for files. */
export function hostLabel(target: DumpTarget, machine: string): string {
  if (target.engine === "sqlite" || target.engine === "command") return machine;
  const host = target.host;
  if (host === undefined || host.startsWith("/")) return "localhost";
  return host.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * The file name in the snapshot: ENGINE/HOST/DB.dump. restic 0.18.0 cannot save a `--stdin-filename`
 * with a directory in it (restic #5324, fixed in 0.18.1): there the name is ENGINE_HOST_DB.dump.
 */
export function stdinFilename(engine: string, host: string, database: string, flat: boolean): string {
  return flat ? `${engine}_${host}_${database}.dump` : `${engine}/${host}/${database}.dump`;
}

export function pgConnectionArgs(target: DumpTarget): string[] {
  const args: string[] = ["--no-password"];
  const host = target.host ?? target.socket;
  if (host !== undefined) args.push("--host", host);
  if (target.port !== undefined) args.push("--port", String(target.port));
  if (target.user !== undefined) args.push("--username", target.user);
  return args;
}

function pgEnv(creds: ClientCredentials): Record<string, string> {
  return creds.pgpassFile !== undefined ? { PGPASSFILE: creds.pgpassFile } : {};
}

/** --defaults-extra-file must be the first option of a MariaDB/MySQL client. */
export function mysqlConnectionArgs(target: DumpTarget, creds: ClientCredentials): string[] {
  const args: string[] = [];
  if (creds.optionFile !== undefined) args.push(`--defaults-extra-file=${creds.optionFile}`);
  if (target.socket !== undefined) args.push(`--socket=${target.socket}`);
  if (target.host !== undefined) args.push(`--host=${target.host}`, "--protocol=TCP");
  if (target.port !== undefined) args.push(`--port=${target.port}`);
  if (target.user !== undefined) args.push(`--user=${target.user}`);
  return args;
}

export function mysqlDumpProgram(engine: DumpEngine): string {
  return engine === "mysql" ? "mysqldump" : "mariadb-dump";
}
export function mysqlClientProgram(engine: DumpEngine): string {
  return engine === "mysql" ? "mysql" : "mariadb";
}

/** The dumps one step makes, in order. */
export function dumpUnits(target: DumpTarget, creds: ClientCredentials): DumpUnit[] {
  switch (target.engine) {
    case "postgresql": {
      const conn = pgConnectionArgs(target);
      const env = pgEnv(creds);
      if (target.databases === "all" || target.databases === undefined)
        return [
          {
            database: "all",
            argv: ["pg_dumpall", ...conn, ...target.dump_args],
            env,
            format: "pg-sql",
          },
        ];
      const units: DumpUnit[] = [];
      if (target.globals)
        units.push({
          database: "globals",
          argv: ["pg_dumpall", "--globals-only", ...conn],
          env,
          format: "pg-sql",
        });
      for (const db of target.databases)
        units.push({
          database: db,
          argv: ["pg_dump", "--format=custom", ...conn, ...target.dump_args, `--dbname=${db}`],
          env,
          format: "pg-custom",
        });
      return units;
    }
    case "mariadb":
    case "mysql": {
      const base = [
        mysqlDumpProgram(target.engine),
        ...mysqlConnectionArgs(target, creds),
        "--single-transaction",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        ...target.dump_args,
      ];
      if (target.databases === "all" || target.databases === undefined)
        return [{ database: "all", argv: [...base, "--all-databases"], env: {}, format: "mysql-sql" }];
      // The name alone (not --databases NAME): the dump then holds no CREATE DATABASE / USE, so
      // restore can load it into another database (--to-database).
      return target.databases.map((db) => ({
        database: db,
        argv: [...base, db],
        env: {},
        format: "mysql-sql" as const,
      }));
    }
    case "sqlite": {
      const file = target.path ?? "";
      return [
        {
          database: target.database ?? sqliteName(file),
          argv: null,
          env: {},
          file,
          format: "sqlite-file",
        },
      ];
    }
    case "command":
      return [
        {
          database: target.database ?? "command",
          argv: [...(target.command ?? [])],
          env: {},
          format: "raw",
        },
      ];
  }
}

/** A SQLite file's name without directory and extension ("/srv/app/home.db" → "home"). */
export function sqliteName(file: string): string {
  const base = file.split("/").pop() ?? "db";
  const name = base.replace(/\.(sqlite3?|db3?)$/i, "").replace(/[^A-Za-z0-9_.$-]/g, "_");
  return DATABASE_NAME.test(name) ? name : `db_${name}`;
}
