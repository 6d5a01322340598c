// The fleet database's schema (PostgreSQL), as numbered migrations. A migration is never edited once
// released: a change is a new entry with the next version. Each runs in one transaction together with
// its row in holdfast.schema_migrations, under an advisory lock, so two hosts opening a new database
// at once migrate it once, and a crash mid-upgrade leaves the previous version intact.
//
// Every key starts with host_id: hosts never share a row, and row-level security (fleet/init-db.ts)
// can say "a host writes only its own rows" with one predicate per table. Times are timestamptz.

export interface PgMigration {
  version: number;
  sql: string;
}

export const PG_SCHEMA = "holdfast";

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      -- One row per host id. fingerprint: a hash of (hostname, machine-id) as first seen; a different
      -- one under the same id is a cloned image, flagged in conflict_* and never merged.
      CREATE TABLE holdfast.hosts (
        host_id              text PRIMARY KEY,
        display_name         text NOT NULL,
        fingerprint          text,
        first_seen_at        timestamptz NOT NULL DEFAULT now(),
        last_received_at     timestamptz,
        conflict_fingerprint text,
        conflict_name        text,
        conflict_at          timestamptz
      );

      CREATE TABLE holdfast.runs (
        host_id     text NOT NULL,
        run_id      text NOT NULL,
        -- the order of recording at this database (never the clock times): newest = highest seq.
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        -- the host's own order (its SQLite seq) for replicated runs.
        host_seq    bigint,
        -- the host's outbox position of the state this row holds: a replay only ever moves it forward.
        version     bigint NOT NULL DEFAULT 0,
        job         text NOT NULL,
        host        text NOT NULL,
        trigger     text NOT NULL,
        status      text NOT NULL,
        exit_code   integer,
        started_at  timestamptz NOT NULL,
        finished_at timestamptz,
        duration_ms bigint,
        pid         integer NOT NULL,
        error       jsonb,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (host_id, run_id)
      );
      CREATE UNIQUE INDEX runs_by_seq ON holdfast.runs (host_id, seq);
      CREATE INDEX runs_by_job_seq ON holdfast.runs (host_id, job, seq);
      CREATE INDEX runs_by_job_status_seq ON holdfast.runs (host_id, job, status, seq);
      CREATE INDEX runs_by_status_seq ON holdfast.runs (host_id, status, seq);
      -- replication: two different runs under one host id and one host_seq are two hosts (a clone).
      CREATE INDEX runs_by_host_seq ON holdfast.runs (host_id, host_seq) WHERE host_seq IS NOT NULL;

      CREATE TABLE holdfast.steps (
        host_id     text NOT NULL,
        run_id      text NOT NULL,
        idx         integer NOT NULL,
        run_seq     bigint NOT NULL,
        job         text NOT NULL,
        name        text NOT NULL,
        type        text NOT NULL,
        status      text NOT NULL,
        started_at  timestamptz,
        finished_at timestamptz,
        duration_ms bigint,
        exit_code   integer,
        attempts    integer NOT NULL DEFAULT 0,
        error       jsonb,
        summary     jsonb,
        targets     jsonb NOT NULL DEFAULT '[]',
        log_path    text,
        PRIMARY KEY (host_id, run_id, idx),
        FOREIGN KEY (host_id, run_id) REFERENCES holdfast.runs (host_id, run_id) ON DELETE CASCADE
      );
      CREATE INDEX steps_success_history ON holdfast.steps (host_id, job, name, run_seq)
        WHERE status IN ('succeeded', 'warning');

      CREATE TABLE holdfast.notifications (
        host_id  text NOT NULL,
        run_id   text NOT NULL,
        -- position in the run's list: a replay of the same notification is the same row.
        pos      integer NOT NULL,
        notifier text NOT NULL,
        event    text NOT NULL,
        ok       boolean NOT NULL,
        at       timestamptz NOT NULL,
        attempts integer NOT NULL,
        error    text,
        PRIMARY KEY (host_id, run_id, pos),
        FOREIGN KEY (host_id, run_id) REFERENCES holdfast.runs (host_id, run_id) ON DELETE CASCADE
      );

      CREATE TABLE holdfast.step_latest (
        host_id     text NOT NULL,
        job         text NOT NULL,
        name        text NOT NULL,
        type        text NOT NULL,
        run_id      text NOT NULL,
        idx         integer NOT NULL,
        status      text NOT NULL,
        started_at  timestamptz,
        finished_at timestamptz,
        duration_ms bigint,
        error       jsonb,
        run_seq     bigint NOT NULL,
        PRIMARY KEY (host_id, job, name)
      );

      CREATE TABLE holdfast.state (
        host_id text NOT NULL,
        key     text NOT NULL,
        value   text NOT NULL,
        PRIMARY KEY (host_id, key)
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Least privilege (holdfast fleet init-db): which login role writes which host's rows. Row-level
      -- security policies compare each row's host_id with holdfast.my_host_id(); a role with no row
      -- here writes nothing. The mapping is the administrator's (init-db), never a host's.
      CREATE TABLE holdfast.host_roles (
        role_name  text PRIMARY KEY,
        host_id    text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE FUNCTION holdfast.my_host_id() RETURNS text LANGUAGE sql STABLE AS
        $f$ SELECT host_id FROM holdfast.host_roles WHERE role_name = current_user $f$;
    `,
  },
];

export const PG_LATEST_SCHEMA_VERSION: number = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** The tables holding per-host rows (all of them key on host_id). */
export const PG_HOST_TABLES = ["hosts", "runs", "steps", "notifications", "step_latest", "state"] as const;

/** The bootstrap every migration run starts with (idempotent). */
export const PG_BOOTSTRAP_SQL = `
  CREATE SCHEMA IF NOT EXISTS holdfast;
  CREATE TABLE IF NOT EXISTS holdfast.schema_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  );
`;

/** An advisory lock key for migrations (any constant; "hfmg" in ASCII). */
export const PG_MIGRATION_LOCK = 0x68666d67;
