// `holdfast fleet init-db --print`: the SQL an administrator runs once (and again after adding a
// host or upgrading holdfast) to set the fleet database up with least privilege (issue 18 item 5):
//   - the schema, by the same numbered migrations the store applies (owned by the administrator);
//   - a group role holdfast_writer and one login role per host, mapped to that host's id in
//     holdfast.host_roles; row-level security on every table lets a writer see, insert and update
//     only the rows whose host_id is its own (no DELETE except of its own key/value state);
//   - a login role for the hub's dashboard that can only read, and one for the hub's retention
//     (`fleet prune`) that can read and delete finished runs and nothing else;
//   - no password anywhere: the script creates the roles without one and says how to set them (the
//     URL with the password lives only in each host's 0600 url_file). No repository secret is in the
//     schema at all: hosts send run records, which are redacted before they are recorded.
// The script is idempotent (CREATE ... IF NOT EXISTS, DROP POLICY IF EXISTS) and runs in one
// transaction, so a failure leaves the database as it was.
import { UsageError } from "../errors.js";
import {
  PG_BOOTSTRAP_SQL,
  PG_MIGRATIONS,
  PG_MIGRATION_LOCK,
  PG_SCHEMA,
} from "../store/postgres/migrations.js";

export interface InitDbHost {
  /** The display name (`fleet.host_name`); the role is named after it. */
  name: string;
  /** The host id (`holdfast fleet id` on that host). */
  hostId: string;
}

export interface InitDbOptions {
  hosts: InitDbHost[];
  /** The hub's read-only login role (default holdfast_viewer). */
  viewer?: string;
  /** The group every host role is in (default holdfast_writer). */
  writerGroup?: string;
  /** The hub's retention login role (default holdfast_pruner): reads and deletes runs, nothing else. */
  pruner?: string;
}

/** Tables with a host_id column, and what a host's role may do with its own rows there. */
export const WRITER_TABLE_PRIVILEGES: Readonly<Record<string, string>> = {
  hosts: "SELECT, INSERT, UPDATE",
  runs: "SELECT, INSERT, UPDATE",
  steps: "SELECT, INSERT, UPDATE",
  notifications: "SELECT, INSERT",
  step_latest: "SELECT, INSERT, UPDATE",
  state: "SELECT, INSERT, UPDATE, DELETE",
  heartbeats: "SELECT, INSERT, UPDATE",
  // Written by the runs trigger (SECURITY DEFINER), never by a host directly.
  job_latest: "SELECT",
  runs_daily: "SELECT",
};

const ROLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const HOST_ID_RE = /^[a-z0-9-]{8,64}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The login role of a host: holdfast_host_ + its name, lower case, other characters as _. */
export function hostRoleName(name: string): string {
  return `holdfast_host_${name.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
}

/** Parses `--host NAME=HOST_ID`. */
export function parseInitDbHost(text: string): InitDbHost {
  const eq = text.indexOf("=");
  const name = eq < 0 ? "" : text.slice(0, eq);
  const hostId = eq < 0 ? "" : text.slice(eq + 1);
  if (!NAME_RE.test(name) || !HOST_ID_RE.test(hostId))
    throw new UsageError(
      `--host ${text} is not NAME=HOST_ID`,
      "give the host's display name and the id `holdfast fleet id` prints on it, e.g. --host web-01=h-0123456789abcdef01234567",
    );
  return { name, hostId };
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

function checkRole(name: string, flag: string): void {
  if (!ROLE_RE.test(name))
    throw new UsageError(
      `${flag} ${name} is not a valid role name`,
      "use lower-case letters, digits and _ (at most 63), starting with a letter or _",
    );
}

export function initDbSql(options: InitDbOptions): string {
  const viewer = options.viewer ?? "holdfast_viewer";
  const writer = options.writerGroup ?? "holdfast_writer";
  const pruner = options.pruner ?? "holdfast_pruner";
  checkRole(viewer, "--viewer");
  checkRole(writer, "--writer-group");
  checkRole(pruner, "--pruner");
  if (new Set([viewer, writer, pruner]).size !== 3)
    throw new UsageError("--viewer, --pruner and the writer group must be three different roles");
  const seenRoles = new Map<string, string>();
  const seenIds = new Map<string, string>();
  for (const h of options.hosts) {
    const role = hostRoleName(h.name);
    const other = seenRoles.get(role);
    if (other !== undefined)
      throw new UsageError(`--host ${h.name} and --host ${other} would share the role ${role}`);
    const sameId = seenIds.get(h.hostId);
    if (sameId !== undefined)
      throw new UsageError(
        `--host ${h.name} and --host ${sameId} have the same host id ${h.hostId}`,
        "one of them is a clone: run `holdfast fleet reset-id` on it and use its new id",
      );
    if (role === viewer || role === writer)
      throw new UsageError(`--host ${h.name}: its role ${role} is taken`);
    seenRoles.set(role, h.name);
    seenIds.set(h.hostId, h.name);
  }

  const S = PG_SCHEMA;
  const out: string[] = [];
  const add = (...lines: string[]) => out.push(...lines);
  add(
    "-- holdfast fleet database: schema, roles and row-level security (holdfast fleet init-db --print).",
    "-- Run it as a superuser or the database's owner, in the fleet database:",
    "--   holdfast fleet init-db --print --host NAME=HOST_ID ... | psql -v ON_ERROR_STOP=1 -d DATABASE",
    "-- It is idempotent: run it again after adding a host or upgrading holdfast.",
    "\\set ON_ERROR_STOP on",
    "BEGIN;",
    "",
    "-- The schema, by the numbered migrations holdfast applies itself.",
    `SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK});`,
    PG_BOOTSTRAP_SQL.trim(),
  );
  for (const m of [...PG_MIGRATIONS].sort((a, b) => a.version - b.version)) {
    const tag = `$holdfast_m${m.version}$`;
    if (m.sql.includes(tag)) throw new Error(`migration ${m.version} contains ${tag}`);
    add(
      `DO ${tag} BEGIN`,
      `  IF NOT EXISTS (SELECT 1 FROM ${S}.schema_migrations WHERE version = ${m.version}) THEN`,
      `    EXECUTE ${literal(m.sql)};`,
      `    INSERT INTO ${S}.schema_migrations (version) VALUES (${m.version});`,
      "  END IF;",
      `END ${tag};`,
    );
  }

  const createRole = (role: string, attrs: string) =>
    `DO $r$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}) THEN ` +
    `CREATE ROLE ${ident(role)} ${attrs}; END IF; END $r$;`;
  add(
    "",
    "-- Roles: a group for the hosts, one login per host, and the hub's read-only login.",
    createRole(writer, "NOLOGIN"),
    createRole(viewer, "LOGIN"),
    `ALTER ROLE ${ident(viewer)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;`,
    createRole(pruner, "LOGIN"),
    `ALTER ROLE ${ident(pruner)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;`,
  );
  for (const h of options.hosts) {
    const role = hostRoleName(h.name);
    add(
      createRole(role, "LOGIN"),
      `ALTER ROLE ${ident(role)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;`,
      `GRANT ${ident(writer)} TO ${ident(role)};`,
    );
  }

  add(
    "",
    "-- Privileges: the schema's tables are the administrator's; hosts and the hub get only these.",
    `REVOKE ALL ON SCHEMA ${S} FROM PUBLIC;`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${S} FROM PUBLIC, ${ident(writer)}, ${ident(viewer)}, ${ident(pruner)};`,
    `GRANT USAGE ON SCHEMA ${S} TO ${ident(writer)}, ${ident(viewer)}, ${ident(pruner)};`,
    `GRANT SELECT ON ${S}.schema_migrations TO ${ident(writer)}, ${ident(viewer)}, ${ident(pruner)};`,
    // Retention: the pruner reads and deletes runs (their steps and notifications go by cascade).
    `GRANT SELECT, DELETE ON ${S}.runs TO ${ident(pruner)};`,
    `GRANT SELECT ON ${S}.host_roles TO ${ident(writer)}, ${ident(viewer)};`,
    `GRANT EXECUTE ON FUNCTION ${S}.my_host_id() TO ${ident(writer)};`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${S} TO ${ident(writer)};`,
  );
  for (const [table, privileges] of Object.entries(WRITER_TABLE_PRIVILEGES)) {
    add(
      `GRANT ${privileges} ON ${S}.${table} TO ${ident(writer)};`,
      `GRANT SELECT ON ${S}.${table} TO ${ident(viewer)};`,
    );
  }

  add("", "-- Row-level security: a host's role reaches only the rows under its own host id.");
  const rlsTables = [...Object.keys(WRITER_TABLE_PRIVILEGES), "host_roles"];
  for (const table of rlsTables) {
    const own = table === "host_roles" ? "role_name = current_user" : `host_id = (SELECT ${S}.my_host_id())`;
    add(
      `ALTER TABLE ${S}.${table} ENABLE ROW LEVEL SECURITY;`,
      `DROP POLICY IF EXISTS holdfast_writer_own ON ${S}.${table};`,
      `CREATE POLICY holdfast_writer_own ON ${S}.${table} FOR ALL TO ${ident(writer)} USING (${own}) WITH CHECK (${own});`,
      `DROP POLICY IF EXISTS holdfast_viewer_read ON ${S}.${table};`,
      `CREATE POLICY holdfast_viewer_read ON ${S}.${table} FOR SELECT TO ${ident(viewer)} USING (true);`,
    );
  }
  add(
    `DROP POLICY IF EXISTS holdfast_pruner_read ON ${S}.runs;`,
    `CREATE POLICY holdfast_pruner_read ON ${S}.runs FOR SELECT TO ${ident(pruner)} USING (true);`,
    `DROP POLICY IF EXISTS holdfast_pruner_delete ON ${S}.runs;`,
    `CREATE POLICY holdfast_pruner_delete ON ${S}.runs FOR DELETE TO ${ident(pruner)} USING (status <> 'running');`,
  );

  if (options.hosts.length > 0) {
    add(
      "",
      "-- Which host id each host's role writes (a role renamed or re-pointed here takes effect at once).",
    );
    for (const h of options.hosts) {
      add(
        `INSERT INTO ${S}.host_roles (role_name, host_id) VALUES (${literal(hostRoleName(h.name))}, ${literal(h.hostId)})`,
        `  ON CONFLICT (role_name) DO UPDATE SET host_id = excluded.host_id;`,
      );
    }
  }
  add(
    "",
    "COMMIT;",
    "",
    "-- Now give each login role a password (psql asks for it; it is never in this script):",
  );
  for (const role of [viewer, pruner, ...options.hosts.map((h) => hostRoleName(h.name))])
    add(`--   \\password ${role}`);
  add(
    "-- and put each host's URL, postgresql://ROLE:PASSWORD@HOST:5432/DATABASE, in its fleet.url_file (mode 0600).",
    "",
  );
  return out.join("\n");
}
