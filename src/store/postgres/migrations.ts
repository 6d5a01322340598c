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
  {
    version: 3,
    sql: `
      -- Liveness (issue 18 item 3): each sync ends with a heartbeat. sent_at is the host's clock,
      -- received_at the hub's (this server's now()); skew_ms = sent_at - received_at (> 0: the host's
      -- clock is ahead). jobs: [{job, schedule, next_run_at (host clock), randomized_delay_ms,
      -- max_age_ms}] — what the hub expects of the host. pending/oldest_pending_at: its outbox.
      CREATE TABLE holdfast.heartbeats (
        host_id           text PRIMARY KEY,
        sent_at           timestamptz NOT NULL,
        received_at       timestamptz NOT NULL DEFAULT now(),
        skew_ms           bigint NOT NULL,
        holdfast_version  text,
        restic_version    text,
        jobs              jsonb NOT NULL DEFAULT '[]',
        pending           integer NOT NULL DEFAULT 0,
        oldest_pending_at timestamptz
      );

      -- Per host and job: the last run and the last success/failure, kept by a trigger on runs so the
      -- fleet grid reads one row per cell, and kept when retention deletes the raw runs.
      CREATE TABLE holdfast.job_latest (
        host_id                  text NOT NULL,
        job                      text NOT NULL,
        last_seq                 bigint NOT NULL,
        last_run_id              text NOT NULL,
        last_status              text NOT NULL,
        last_started_at          timestamptz NOT NULL,
        last_finished_at         timestamptz,
        last_received_at         timestamptz NOT NULL,
        last_success_seq         bigint,
        last_success_at          timestamptz,
        last_success_received_at timestamptz,
        last_failure_at          timestamptz,
        PRIMARY KEY (host_id, job)
      );

      -- Daily rollups (UTC days of started_at), counted once when a run ends; kept forever.
      CREATE TABLE holdfast.runs_daily (
        host_id     text NOT NULL,
        job         text NOT NULL,
        day         date NOT NULL,
        runs        integer NOT NULL DEFAULT 0,
        succeeded   integer NOT NULL DEFAULT 0,
        warning     integer NOT NULL DEFAULT 0,
        failed      integer NOT NULL DEFAULT 0,
        other       integer NOT NULL DEFAULT 0,
        duration_ms bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (host_id, job, day)
      );

      -- SECURITY DEFINER: a host's role cannot write these tables itself, only through its own runs
      -- (which row-level security already limits to its host id).
      CREATE FUNCTION holdfast.track_run() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $f$
      BEGIN
        INSERT INTO holdfast.job_latest AS l (host_id, job, last_seq, last_run_id, last_status, last_started_at,
                                              last_finished_at, last_received_at)
        VALUES (NEW.host_id, NEW.job, NEW.seq, NEW.run_id, NEW.status, NEW.started_at, NEW.finished_at,
                NEW.received_at)
        ON CONFLICT (host_id, job) DO UPDATE SET last_seq = excluded.last_seq, last_run_id = excluded.last_run_id,
          last_status = excluded.last_status, last_started_at = excluded.last_started_at,
          last_finished_at = excluded.last_finished_at, last_received_at = excluded.last_received_at
        WHERE l.last_seq <= excluded.last_seq;
        IF NEW.status IN ('succeeded', 'warning') AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
          UPDATE holdfast.job_latest SET last_success_seq = NEW.seq,
            last_success_at = coalesce(NEW.finished_at, NEW.started_at), last_success_received_at = NEW.received_at
          WHERE host_id = NEW.host_id AND job = NEW.job AND (last_success_seq IS NULL OR last_success_seq <= NEW.seq);
        ELSIF NEW.status IN ('failed', 'interrupted') AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
          UPDATE holdfast.job_latest SET last_failure_at = coalesce(NEW.finished_at, NEW.started_at)
          WHERE host_id = NEW.host_id AND job = NEW.job
            AND (last_failure_at IS NULL OR last_failure_at <= coalesce(NEW.finished_at, NEW.started_at));
        END IF;
        IF NEW.status <> 'running' AND (TG_OP = 'INSERT' OR OLD.status = 'running') THEN
          INSERT INTO holdfast.runs_daily AS d (host_id, job, day, runs, succeeded, warning, failed, other, duration_ms)
          VALUES (NEW.host_id, NEW.job, (NEW.started_at AT TIME ZONE 'UTC')::date, 1,
                  (NEW.status = 'succeeded')::int, (NEW.status = 'warning')::int,
                  (NEW.status IN ('failed', 'interrupted'))::int,
                  (NEW.status NOT IN ('succeeded', 'warning', 'failed', 'interrupted'))::int,
                  coalesce(NEW.duration_ms, 0))
          ON CONFLICT (host_id, job, day) DO UPDATE SET runs = d.runs + 1, succeeded = d.succeeded + excluded.succeeded,
            warning = d.warning + excluded.warning, failed = d.failed + excluded.failed,
            other = d.other + excluded.other, duration_ms = d.duration_ms + excluded.duration_ms;
        END IF;
        RETURN NULL;
      END
      $f$;
      CREATE TRIGGER runs_track AFTER INSERT OR UPDATE ON holdfast.runs
        FOR EACH ROW EXECUTE FUNCTION holdfast.track_run();

      -- What the runs already recorded say.
      INSERT INTO holdfast.job_latest (host_id, job, last_seq, last_run_id, last_status, last_started_at,
                                       last_finished_at, last_received_at)
      SELECT DISTINCT ON (host_id, job) host_id, job, seq, run_id, status, started_at, finished_at, received_at
      FROM holdfast.runs ORDER BY host_id, job, seq DESC;
      UPDATE holdfast.job_latest l SET last_success_seq = s.seq, last_success_at = s.at, last_success_received_at = s.received_at
      FROM (SELECT DISTINCT ON (host_id, job) host_id, job, seq, coalesce(finished_at, started_at) AS at, received_at
            FROM holdfast.runs WHERE status IN ('succeeded', 'warning') ORDER BY host_id, job, seq DESC) s
      WHERE l.host_id = s.host_id AND l.job = s.job;
      UPDATE holdfast.job_latest l SET last_failure_at = f.at
      FROM (SELECT host_id, job, max(coalesce(finished_at, started_at)) AS at FROM holdfast.runs
            WHERE status IN ('failed', 'interrupted') GROUP BY host_id, job) f
      WHERE l.host_id = f.host_id AND l.job = f.job;
      INSERT INTO holdfast.runs_daily (host_id, job, day, runs, succeeded, warning, failed, other, duration_ms)
      SELECT host_id, job, (started_at AT TIME ZONE 'UTC')::date, count(*),
             count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'warning'),
             count(*) FILTER (WHERE status IN ('failed', 'interrupted')),
             count(*) FILTER (WHERE status NOT IN ('succeeded', 'warning', 'failed', 'interrupted')),
             coalesce(sum(duration_ms), 0)
      FROM holdfast.runs WHERE status <> 'running' GROUP BY 1, 2, 3;
    `,
  },
  {
    version: 4,
    sql: `
      -- Hub retention (holdfast fleet prune): finished runs older than fleet.keep_runs_months go, by
      -- their start; job_latest and runs_daily stay (the trigger only counts inserts and updates).
      CREATE INDEX runs_by_started ON holdfast.runs (started_at) WHERE status <> 'running';
    `,
  },
  {
    version: 5,
    sql: `
      -- Liveness of a host with no scheduled job (issue 18): how often it promised to report
      -- (fleet.report_every, ms; null: it did not say). The hub expects a report that long after the
      -- last one, so a host whose heartbeats stop goes missing even with nothing scheduled.
      ALTER TABLE holdfast.heartbeats ADD COLUMN report_every_ms bigint;
    `,
  },
  {
    version: 6,
    sql: `
      -- job_latest and runs_daily kept once per statement instead of once per row (issue 18, P9: a
      -- replayed batch of 500 runs is four set-based statements, not 1,500 single-row ones), by the
      -- rules of migration 3's track_run: the run with the highest seq is the last run; a run that
      -- became succeeded/warning is a success (the newest seq is the last success), failed/interrupted
      -- a failure (the latest time is the last failure); a run counts once in its day's rollup, when
      -- it stops running. "changed" is each row of the statement with its status before (NULL: new).
      DROP TRIGGER runs_track ON holdfast.runs;
      DROP FUNCTION holdfast.track_run();
      CREATE FUNCTION holdfast.track_runs() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $f$
      DECLARE
        changed text := CASE TG_OP
          WHEN 'INSERT' THEN 'SELECT n.*, NULL::text AS old_status FROM new_rows n'
          ELSE 'SELECT n.*, o.status AS old_status FROM new_rows n JOIN old_rows o USING (host_id, run_id)' END;
      BEGIN
        EXECUTE format($q$
          INSERT INTO holdfast.job_latest AS l (host_id, job, last_seq, last_run_id, last_status, last_started_at,
                                                last_finished_at, last_received_at)
          SELECT DISTINCT ON (host_id, job) host_id, job, seq, run_id, status, started_at, finished_at, received_at
          FROM (%s) c ORDER BY host_id, job, seq DESC
          ON CONFLICT (host_id, job) DO UPDATE SET last_seq = excluded.last_seq, last_run_id = excluded.last_run_id,
            last_status = excluded.last_status, last_started_at = excluded.last_started_at,
            last_finished_at = excluded.last_finished_at, last_received_at = excluded.last_received_at
          WHERE l.last_seq <= excluded.last_seq $q$, changed);
        EXECUTE format($q$
          UPDATE holdfast.job_latest l SET last_success_seq = s.seq, last_success_at = s.at,
            last_success_received_at = s.received_at
          FROM (SELECT DISTINCT ON (host_id, job) host_id, job, seq, coalesce(finished_at, started_at) AS at, received_at
                FROM (%s) c WHERE status IN ('succeeded', 'warning') AND old_status IS DISTINCT FROM status
                ORDER BY host_id, job, seq DESC) s
          WHERE l.host_id = s.host_id AND l.job = s.job
            AND (l.last_success_seq IS NULL OR l.last_success_seq <= s.seq) $q$, changed);
        EXECUTE format($q$
          UPDATE holdfast.job_latest l SET last_failure_at = f.at
          FROM (SELECT host_id, job, max(coalesce(finished_at, started_at)) AS at
                FROM (%s) c WHERE status IN ('failed', 'interrupted') AND old_status IS DISTINCT FROM status
                GROUP BY host_id, job) f
          WHERE l.host_id = f.host_id AND l.job = f.job AND (l.last_failure_at IS NULL OR l.last_failure_at <= f.at) $q$,
          changed);
        EXECUTE format($q$
          INSERT INTO holdfast.runs_daily AS d (host_id, job, day, runs, succeeded, warning, failed, other, duration_ms)
          SELECT host_id, job, (started_at AT TIME ZONE 'UTC')::date, count(*),
                 count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'warning'),
                 count(*) FILTER (WHERE status IN ('failed', 'interrupted')),
                 count(*) FILTER (WHERE status NOT IN ('succeeded', 'warning', 'failed', 'interrupted')),
                 coalesce(sum(duration_ms), 0)
          FROM (%s) c WHERE status <> 'running' AND (old_status IS NULL OR old_status = 'running')
          GROUP BY 1, 2, 3
          ON CONFLICT (host_id, job, day) DO UPDATE SET runs = d.runs + excluded.runs,
            succeeded = d.succeeded + excluded.succeeded, warning = d.warning + excluded.warning,
            failed = d.failed + excluded.failed, other = d.other + excluded.other,
            duration_ms = d.duration_ms + excluded.duration_ms $q$, changed);
        RETURN NULL;
      END
      $f$;
      CREATE TRIGGER runs_track_insert AFTER INSERT ON holdfast.runs REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION holdfast.track_runs();
      CREATE TRIGGER runs_track_update AFTER UPDATE ON holdfast.runs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION holdfast.track_runs();
    `,
  },
];

export const PG_LATEST_SCHEMA_VERSION: number = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** The tables holding per-host rows (all of them key on host_id). */
export const PG_HOST_TABLES = [
  "hosts",
  "runs",
  "steps",
  "notifications",
  "step_latest",
  "state",
  "heartbeats",
  "job_latest",
  "runs_daily",
] as const;

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
