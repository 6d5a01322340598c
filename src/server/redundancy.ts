// The redundancy matrix of the dashboard: for each source, where its snapshots are (repository ×
// latest snapshot age, by backup or by copy), and a 3-2-1 verdict: at least 3 copies counting the
// source itself, on at least 2 media counting the source's own (a medium is a filesystem or a remote
// host/bucket: server/media.ts), at least 1 of them offsite.
// Each database of a dump step is a row of its own (source + database): its own snapshot per
// repository, its own newest dump, its own last drill.
// It reads only the config and the history: no repository is contacted.
import type { Config } from "../config/types.js";
import { dataFlowOf } from "../registry.js";
import { databaseFlows, dumpTargetTime, listDatabases } from "../dump/sources.js";
import { drillStateKey } from "../store/state-keys.js";
import { mediaOfPaths, mediumOfRepository } from "./media.js";
import type { RunRecord, RunStore, StepRecord } from "../store/types.js";

export interface RedundancyCell {
  repo: string;
  /** The config writes this source to this repository (by a backup or a copy step). */
  planned: boolean;
  latest_snapshot_at: string | null;
  age_ms: number | null;
  snapshot_id: string | null;
  via: "backup" | "copy" | null;
  /** Older than the max_age of the job that writes it. */
  stale: boolean;
  /** When a `verify` restore drill last passed for this source in this repository. */
  last_verified_at: string | null;
  /** When a `check` step last passed for this repository. */
  last_check_at: string | null;
  /** The repository is on the filesystem of the source it holds: a copy, but no second medium. */
  same_medium_as_source: boolean;
}

export interface RedundancyRow {
  source: string;
  /** A database of a dump source (each is a row of its own); null for a source under `sources:`. */
  database: string | null;
  /** The source's paths; for a database what it is ("postgresql:shop", "sqlite:/srv/app.db"). */
  paths: string[];
  cells: RedundancyCell[];
  /** The source itself plus every repository holding a snapshot of it. */
  copies: number;
  /** Media holding it: the source's own, plus each other filesystem or remote with a snapshot. */
  media: number;
  offsite: number;
  verdict: "ok" | "at_risk";
  problems: string[];
}

export interface RedundancyMatrix {
  repositories: Array<{ name: string; offsite: boolean; backend: string | null }>;
  sources: RedundancyRow[];
}

interface Writer {
  job: string;
  step: string;
  kind: "backup" | "copy";
  /** A dump step's writer of one database: only that database's targets count. */
  database?: string;
  /** For copies: the repository the snapshots come from. */
  from?: string;
  maxAgeMs: number | null;
}

/** Recent runs read per job: they catch targets that succeeded inside a step that failed overall. */
const RUNS_SCANNED = 20;
/** Successful records read per writing step, whatever their age (copies are dated against these). */
const SUCCESSES_READ = 5;
const OK_STATUSES = new Set(["succeeded", "warning"]);

const key = (row: string, repo: string) => `${row}\u0000${repo}`;
/** The row id of a database of a dump source (a source name has no control characters). */
const databaseRow = (source: string, database: string) => `${source}\u0001${database}`;

interface Row {
  id: string;
  source: string;
  database: string | null;
  paths: string[];
  /** Paths on this machine whose filesystem is the row's own medium. */
  localPaths: string[];
}

export function backendOf(repo: { url?: string | undefined; url_file?: string | undefined }): string | null {
  if (!repo.url) return null;
  const scheme = /^(sftp|rest|s3|b2|azure|gs|swift|rclone):/.exec(repo.url);
  return scheme?.[1] ?? "local";
}

export async function computeRedundancy(
  config: Config,
  store: RunStore,
  now: Date,
): Promise<RedundancyMatrix> {
  const repos = Object.values(config.repositories);
  const databases = listDatabases(databaseFlows(config, dataFlowOf));
  const rows: Row[] = [
    ...Object.values(config.sources).map((s) => ({
      id: s.name,
      source: s.name,
      database: null,
      paths: s.paths,
      localPaths: s.paths,
    })),
    ...databases.map((d) => ({
      id: databaseRow(d.source, d.database),
      source: d.source,
      database: d.database,
      paths: [d.what],
      localPaths: d.file !== undefined ? [d.file] : [],
    })),
  ];
  // The rows a source's snapshots land in: its own, and one per database it dumps.
  const rowsOf = new Map<string, string[]>();
  for (const row of rows) rowsOf.set(row.source, [...(rowsOf.get(row.source) ?? []), row.id]);
  const writers = new Map<string, Writer[]>();
  const addWriter = (row: string, repo: string, writer: Writer) => {
    const list = writers.get(key(row, repo)) ?? [];
    list.push(writer);
    writers.set(key(row, repo), list);
  };

  // Steps that snapshot a source (backup, dump) count as backups here: their records carry one target
  // per repository (and per database, for a dump) with its snapshot.
  for (const job of Object.values(config.jobs)) {
    const maxAgeMs = job.max_age ?? null;
    for (const step of job.steps) {
      const flow = dataFlowOf(step);
      if ((flow?.how !== "backup" && flow?.how !== "dump") || flow.source === undefined) continue;
      const writer = { job: job.name, step: step.name, kind: "backup" as const, maxAgeMs };
      for (const repo of flow.repos) {
        if (flow.databases?.length)
          for (const db of flow.databases)
            addWriter(databaseRow(flow.source, db.name), repo, { ...writer, database: db.name });
        else addWriter(flow.source, repo, writer);
      }
    }
  }
  // Copies second, so "all sources in the from-repository" sees every backup writer.
  for (const job of Object.values(config.jobs)) {
    const maxAgeMs = job.max_age ?? null;
    for (const step of job.steps) {
      const flow = dataFlowOf(step);
      if (flow?.how !== "copy" || flow.from === undefined) continue;
      const from = flow.from;
      // A copy of a source carries every database of it (restic copy selects by the source: tag).
      const copied = (flow.sources ?? [...rowsOf.keys()])
        .flatMap((source) => rowsOf.get(source) ?? [])
        .filter((row) => flow.sources !== undefined || writers.has(key(row, from)));
      for (const row of copied) {
        for (const to of flow.repos) {
          addWriter(row, to, { job: job.name, step: step.name, kind: "copy", from, maxAgeMs });
        }
      }
    }
  }

  // What each (job, step) writes, so a history record is matched in one lookup.
  const byStep = new Map<string, Array<{ cellKey: string; repo: string; writer: Writer }>>();
  for (const [cellKey, list] of writers) {
    const repo = cellKey.split("\u0000")[1] as string;
    for (const writer of list) {
      const stepKey = `${writer.job}\u0000${writer.step}`;
      byStep.set(stepKey, [...(byStep.get(stepKey) ?? []), { cellKey, repo, writer }]);
    }
  }

  // Every snapshot time found per (source, repo), from backups; copies are resolved against these.
  const backupTimes = new Map<string, Array<{ at: string; snapshot_id: string | null }>>();
  const copyTimes = new Map<string, Array<{ finished: string; from: string }>>();
  const collect = (jobName: string, step: StepRecord) => {
    for (const { cellKey, repo, writer } of byStep.get(`${jobName}\u0000${step.name}`) ?? []) {
      const target = step.targets.find(
        (t) =>
          t.repo === repo &&
          OK_STATUSES.has(t.status) &&
          (writer.database === undefined || t.database === writer.database),
      );
      if (!target) continue;
      const at =
        writer.kind === "copy"
          ? (step.finished_at ?? step.started_at)
          : writer.database !== undefined
            ? dumpTargetTime(step, target.duration_ms)
            : step.started_at;
      if (!at) continue;
      if (writer.kind === "backup") {
        const snapshotId = typeof target.snapshot_id === "string" ? target.snapshot_id : null;
        backupTimes.set(cellKey, [...(backupTimes.get(cellKey) ?? []), { at, snapshot_id: snapshotId }]);
      } else if (writer.from !== undefined) {
        copyTimes.set(cellKey, [...(copyTimes.get(cellKey) ?? []), { finished: at, from: writer.from }]);
      }
    }
  };

  for (const jobName of new Set([...byStep.values()].flat().map((e) => e.writer.job))) {
    const runs: RunRecord[] = await store.listRuns({ job: jobName, limit: RUNS_SCANNED });
    for (const run of runs) for (const step of run.steps) collect(jobName, step);
    // The last successful records of each writing step, however long ago (stepHistory is indexed).
    for (const stepKey of byStep.keys()) {
      const [stepJob, stepName] = stepKey.split("\u0000") as [string, string];
      if (stepJob !== jobName) continue;
      for (const step of await store.stepHistory(jobName, stepName, SUCCESSES_READ)) collect(jobName, step);
    }
  }

  // The last passed `check` of each repository (a check is of a whole repository: every source's cell
  // in its column shows the same).
  const lastCheck = new Map<string, string>();
  for (const job of Object.values(config.jobs)) {
    for (const step of job.steps) {
      const flow = dataFlowOf(step);
      if (flow?.how !== "check") continue;
      const checked = flow.repos;
      for (const record of await store.stepHistory(job.name, step.name, SUCCESSES_READ)) {
        const at = record.finished_at ?? record.started_at;
        if (!at) continue;
        const passed = record.targets.length
          ? record.targets.filter((t) => OK_STATUSES.has(t.status)).map((t) => t.repo)
          : OK_STATUSES.has(record.status)
            ? checked
            : [];
        for (const repo of passed) {
          if (checked.includes(repo) && at > (lastCheck.get(repo) ?? "")) lastCheck.set(repo, at);
        }
      }
    }
  }

  const repoMedium = new Map(repos.map((r) => [r.name, mediumOfRepository(r)]));
  const out: RedundancyRow[] = [];
  for (const source of rows) {
    // A source whose paths cannot be read here (a database on a server) shares no filesystem with a
    // repository; a SQLite file is on its own filesystem.
    const sourceMedia = mediaOfPaths(source.localPaths);
    const cells: RedundancyCell[] = [];
    for (const repo of repos) {
      const cellKey = key(source.id, repo.name);
      const cellWriters = writers.get(cellKey) ?? [];
      let best: { at: string; snapshot_id: string | null; via: "backup" | "copy" } | null = null;
      for (const b of backupTimes.get(cellKey) ?? []) {
        if (!best || b.at > best.at) best = { ...b, via: "backup" };
      }
      // A copy carries the newest snapshot the from-repository had when the copy ran.
      for (const c of copyTimes.get(cellKey) ?? []) {
        const before = (backupTimes.get(key(source.id, c.from)) ?? []).filter((b) => b.at <= c.finished);
        const newest = before.reduce<string | null>(
          (acc, b) => (acc === null || b.at > acc ? b.at : acc),
          null,
        );
        if (newest !== null && (!best || newest > best.at))
          best = { at: newest, snapshot_id: null, via: "copy" };
      }
      const ageMs = best ? Math.max(0, now.getTime() - Date.parse(best.at)) : null;
      const maxAges = cellWriters.map((w) => w.maxAgeMs).filter((m): m is number => m !== null);
      const limit = maxAges.length ? Math.max(...maxAges) : null;
      cells.push({
        repo: repo.name,
        planned: cellWriters.length > 0,
        latest_snapshot_at: best?.at ?? null,
        age_ms: ageMs,
        snapshot_id: best?.snapshot_id ?? null,
        via: best?.via ?? null,
        stale: ageMs !== null && limit !== null && ageMs > limit,
        last_verified_at: await store.getState(
          source.database === null
            ? drillStateKey(repo.name, source.source)
            : drillStateKey(repo.name, source.source, source.database),
        ),
        last_check_at: lastCheck.get(repo.name) ?? null,
        same_medium_as_source: sourceMedia.has(repoMedium.get(repo.name) ?? ""),
      });
    }
    const held = cells.filter((c) => c.latest_snapshot_at !== null);
    const offsite = held.filter((c) => config.repositories[c.repo]?.offsite === true).length;
    const copies = 1 + held.length;
    // The source is one medium (however many filesystems its paths span); each other medium holding
    // a snapshot adds one.
    const otherMedia = new Set(
      held.filter((c) => !c.same_medium_as_source).map((c) => repoMedium.get(c.repo) ?? `repo:${c.repo}`),
    );
    const media = 1 + otherMedia.size;
    const problems: string[] = [];
    if (copies < 3)
      problems.push(
        `${copies} cop${copies === 1 ? "y" : "ies"} (the source and ${held.length} snapshot${held.length === 1 ? "" : "s"}); 3-2-1 needs 3`,
      );
    const onSourceMedium = held.filter((c) => c.same_medium_as_source).map((c) => c.repo);
    if (media < 2)
      problems.push(
        onSourceMedium.length
          ? `${onSourceMedium.join(", ")} ${onSourceMedium.length === 1 ? "is" : "are"} on the source's own filesystem: one medium in all; 3-2-1 needs 2 media`
          : `1 medium in all (the source's); 3-2-1 needs 2 media`,
      );
    if (offsite < 1) problems.push("no offsite copy; back it up to a repository marked offsite: true");
    for (const c of cells) {
      if (c.planned && c.latest_snapshot_at === null)
        problems.push(`no snapshot in ${c.repo} yet, though the config writes it there`);
    }
    out.push({
      source: source.source,
      database: source.database,
      paths: source.paths,
      cells,
      copies,
      media,
      offsite,
      verdict: copies >= 3 && media >= 2 && offsite >= 1 ? "ok" : "at_risk",
      problems,
    });
  }
  return {
    repositories: repos.map((r) => ({ name: r.name, offsite: r.offsite, backend: backendOf(r) })),
    sources: out,
  };
}
