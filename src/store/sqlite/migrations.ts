// The history database's schema, as numbered migrations. A migration is never edited once released:
// a change is a new entry with the next version. Each one runs in its own transaction together with
// the `PRAGMA user_version` bump, so a crash mid-upgrade leaves the previous version intact.

export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        job         TEXT NOT NULL,
        host        TEXT NOT NULL,
        trigger     TEXT NOT NULL,
        status      TEXT NOT NULL,
        exit_code   INTEGER,
        started_at  TEXT NOT NULL,
        -- ISO text does not sort correctly across precisions ("…:02Z" vs "…:02.114Z"); this does.
        started_ms  INTEGER NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        pid         INTEGER NOT NULL,
        error       TEXT
      );
      -- history pages (all jobs) and cursors: newest first without a sort.
      CREATE INDEX runs_by_start ON runs (started_ms, id);
      -- history of one job, and a job's last run.
      CREATE INDEX runs_by_job_start ON runs (job, started_ms, id);
      -- a job's last success/failure in one seek each, and history filtered by job and status.
      CREATE INDEX runs_by_job_status_start ON runs (job, status, started_ms, id);
      -- runningRuns() and history filtered by status across jobs.
      CREATE INDEX runs_by_status_start ON runs (status, started_ms, id);

      CREATE TABLE steps (
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        job         TEXT NOT NULL,
        name        TEXT NOT NULL,
        type        TEXT NOT NULL,
        status      TEXT NOT NULL,
        started_at  TEXT,
        started_ms  INTEGER,
        finished_at TEXT,
        duration_ms INTEGER,
        exit_code   INTEGER,
        attempts    INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        summary     TEXT,
        targets     TEXT NOT NULL DEFAULT '[]',
        log_path    TEXT,
        PRIMARY KEY (run_id, idx)
      );
      -- stepHistory(): only results that count as a success are ever asked for, so only they are indexed.
      CREATE INDEX steps_success_history ON steps (job, name, started_ms, run_id)
        WHERE status IN ('succeeded', 'warning');

      CREATE TABLE notifications (
        id       INTEGER PRIMARY KEY,
        run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        notifier TEXT NOT NULL,
        event    TEXT NOT NULL,
        ok       INTEGER NOT NULL,
        at       TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error    TEXT
      );
      CREATE INDEX notifications_by_run ON notifications (run_id, id);

      -- The latest non-pending record of each step name of a job, kept current by every step update,
      -- so that status never has to scan the history.
      CREATE TABLE step_latest (
        job         TEXT NOT NULL,
        name        TEXT NOT NULL,
        type        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        status      TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        error       TEXT,
        -- when the record started (the run's start for a step that never started, e.g. skipped)
        order_ms    INTEGER NOT NULL,
        PRIMARY KEY (job, name)
      ) WITHOUT ROWID;

      CREATE TABLE state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    // Issue 12 item 9: runs are ordered by `seq`, the order they were recorded in, not by their clock
    // times — a failure recorded while the clock was behind must not hide behind an earlier success.
    // Existing runs take their rowid: the order SQLite inserted them in (VACUUM may renumber rowids,
    // which is why the order gets a column of its own from here on).
    version: 2,
    sql: `
      ALTER TABLE runs ADD COLUMN seq INTEGER;
      UPDATE runs SET seq = rowid;
      DROP INDEX runs_by_start;
      DROP INDEX runs_by_job_start;
      DROP INDEX runs_by_job_status_start;
      DROP INDEX runs_by_status_start;
      -- history pages (all jobs) and the next seq: newest first without a sort.
      CREATE UNIQUE INDEX runs_by_seq ON runs (seq);
      -- history of one job, and a job's last run.
      CREATE INDEX runs_by_job_seq ON runs (job, seq);
      -- a job's last success/failure in one seek each, and history filtered by job and status.
      CREATE INDEX runs_by_job_status_seq ON runs (job, status, seq);
      -- runningRuns() and history filtered by status across jobs.
      CREATE INDEX runs_by_status_seq ON runs (status, seq);

      ALTER TABLE steps ADD COLUMN run_seq INTEGER;
      UPDATE steps SET run_seq = (SELECT seq FROM runs WHERE runs.id = steps.run_id);
      DROP INDEX steps_success_history;
      CREATE INDEX steps_success_history ON steps (job, name, run_seq)
        WHERE status IN ('succeeded', 'warning');

      -- step_latest: the latest record of each step name by the seq of its run (was: by start time).
      CREATE TABLE step_latest_v2 (
        job         TEXT NOT NULL,
        name        TEXT NOT NULL,
        type        TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        status      TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        error       TEXT,
        run_seq     INTEGER NOT NULL,
        PRIMARY KEY (job, name)
      ) WITHOUT ROWID;
      INSERT INTO step_latest_v2
        SELECT job, name, type, run_id, idx, status, started_at, finished_at, duration_ms, error, run_seq
        FROM (SELECT s.*, row_number() OVER (PARTITION BY s.job, s.name ORDER BY s.run_seq DESC) AS rn
              FROM steps s WHERE s.status <> 'pending')
        WHERE rn = 1;
      DROP TABLE step_latest;
      ALTER TABLE step_latest_v2 RENAME TO step_latest;
    `,
  },
  {
    // Issue 18: the fleet outbox. Every change of a run (its row, a step, a notification) queues the
    // run's id in the same transaction as the change, so replication (src/fleet/) can never miss one
    // and replays in the order of recording. Only while the fleet is on (state key fleet:outbox, set
    // by the first sync, which also queues the runs recorded before it); a host without a fleet pays
    // one state lookup per write. AUTOINCREMENT: ids never go back after the queue is emptied.
    version: 3,
    sql: `
      CREATE TABLE fleet_outbox (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id    TEXT NOT NULL,
        queued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TRIGGER fleet_outbox_run_insert AFTER INSERT ON runs
        WHEN EXISTS (SELECT 1 FROM state WHERE key = 'fleet:outbox')
        BEGIN INSERT INTO fleet_outbox (run_id) VALUES (NEW.id); END;
      CREATE TRIGGER fleet_outbox_run_update AFTER UPDATE ON runs
        WHEN EXISTS (SELECT 1 FROM state WHERE key = 'fleet:outbox')
        BEGIN INSERT INTO fleet_outbox (run_id) VALUES (NEW.id); END;
      CREATE TRIGGER fleet_outbox_step_update AFTER UPDATE ON steps
        WHEN EXISTS (SELECT 1 FROM state WHERE key = 'fleet:outbox')
        BEGIN INSERT INTO fleet_outbox (run_id) VALUES (NEW.run_id); END;
      CREATE TRIGGER fleet_outbox_notification_insert AFTER INSERT ON notifications
        WHEN EXISTS (SELECT 1 FROM state WHERE key = 'fleet:outbox')
        BEGIN INSERT INTO fleet_outbox (run_id) VALUES (NEW.run_id); END;
    `,
  },
];

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
