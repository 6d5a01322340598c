// The fleet as the hub sees it (issue 18 item 3): host × job, judged on the hub's own clock — the
// fleet database server's now(), never a host's. A host's times are moved onto the hub's clock by
// its measured skew (heartbeat sent_at − received_at), and a success counts no later than the hub
// received it, so a host whose clock runs ahead cannot look fresh. A host that stopped reporting is
// `missing` once its earliest expected run (+ randomized delay) plus fleet.missing_grace has passed
// on the hub's clock without a new report — never "ok because the last thing it said was ok".
//
// computeFleetView is pure (tested with made-up rows); readFleetView loads its rows in one statement
// (one snapshot, one round trip): hosts + heartbeats (one row each) and job_latest (one row per cell,
// kept by a trigger on ingest), as one JSON document with times as epoch milliseconds.
import type pg from "pg";

export type FleetJobState = "missing" | "failed" | "stale" | "warning" | "never" | "running" | "ok";
export type FleetHostState = "missing" | "conflict" | "ok" | "unknown";

/** Worst first: the grid's order. */
export const FLEET_STATE_ORDER: readonly FleetJobState[] = [
  "missing",
  "failed",
  "stale",
  "warning",
  "never",
  "running",
  "ok",
];

/** A host with no scheduled job that did not say how often it reports is expected to, daily. */
export const DEFAULT_REPORT_EVERY_MS = 24 * 3_600_000;

/** A skew beyond this is shown as a clock problem. */
export const SKEW_WARNING_MS = 60_000;

/** A host's row as readFleetView reads it: times as epoch milliseconds (host clock unless noted). */
export interface HostRow {
  host_id: string;
  display_name: string;
  /** The hub's clock. */
  first_seen_ms: number;
  /** The hub's clock: the last batch of runs it received from the host. */
  last_received_ms: number | null;
  conflict: boolean;
  /** The hub's clock: the last heartbeat (null before the first). */
  hb_received_ms: number | null;
  skew_ms: number | null;
  holdfast_version: string | null;
  restic_version: string | null;
  jobs: Array<{
    job: string;
    schedule: string | null;
    next_run_at: string | null;
    randomized_delay_ms: number;
    max_age_ms: number | null;
  }> | null;
  pending: number | null;
  oldest_pending_ms: number | null;
  /** How often the host promised to report (fleet.report_every); null: it did not say. */
  report_every_ms: number | null;
}

/** A job_latest row: times as epoch milliseconds on the host's clock, but the received ones (hub's). */
export interface JobLatestRow {
  host_id: string;
  job: string;
  last_run_id: string;
  last_status: string;
  last_started_ms: number;
  last_finished_ms: number | null;
  last_success_ms: number | null;
  last_success_received_ms: number | null;
}

export interface FleetHost {
  host_id: string;
  host: string;
  state: FleetHostState;
  /** The worst state of its jobs (missing when the host is). */
  worst: FleetJobState;
  /** When the hub last heard from it (hub clock). */
  last_heard_at: string | null;
  /** Host clock − hub clock at the last heartbeat (ms); null before the first. */
  skew_ms: number | null;
  clock_warning: string | null;
  holdfast_version: string | null;
  restic_version: string | null;
  /**
   * The earliest run or report the hub expects next (hub clock), and when the host counts as missing.
   * A report is expected report_every after the last one: the host's fleet.report_every, or
   * DEFAULT_REPORT_EVERY_MS for a host with no scheduled job (so it too goes missing when silent).
   */
  next_expected_at: string | null;
  /** The report interval the hub holds the host to (null: only its scheduled runs count). */
  report_every_ms: number | null;
  missing_after: string | null;
  missing_since: string | null;
  replication: { pending: number; oldest_pending_at: string | null; lag_seconds: number } | null;
  conflict: boolean;
}

export interface FleetCell {
  host_id: string;
  host: string;
  job: string;
  state: FleetJobState;
  /** The job's state ignoring the host's liveness (what it last said). */
  reported_state: Exclude<FleetJobState, "missing">;
  stale: boolean;
  last_run: { id: string; status: string; started_at: string; finished_at: string | null } | null;
  /** The last success on the hub's clock. */
  last_success_at: string | null;
  stale_for_ms: number | null;
  max_age_ms: number | null;
  schedule: string | null;
  /** The host declared the job in its last heartbeat (a job it no longer has is only in the history). */
  declared: boolean;
  /** The next expected run (hub clock). */
  next_expected_at: string | null;
}

export interface FleetView {
  /** The hub's clock (the fleet database's now()) when the view was read. */
  hub_now: string;
  missing_grace_ms: number;
  hosts: FleetHost[];
  cells: FleetCell[];
  summary: Record<FleetJobState, number> & { hosts: number; missing_hosts: number };
}

const rank = (s: FleetJobState) => FLEET_STATE_ORDER.indexOf(s);
// Many cells share times (a heartbeat's next runs, a day's schedule): format each value once.
const isoCache = new Map<number, string>();
const iso = (ms: number | null): string | null => {
  if (ms === null) return null;
  let text = isoCache.get(ms);
  if (text === undefined) {
    if (isoCache.size > 50_000) isoCache.clear();
    text = new Date(ms).toISOString();
    isoCache.set(ms, text);
  }
  return text;
};

function reportedState(status: string | null): Exclude<FleetJobState, "missing" | "stale"> {
  switch (status) {
    case null:
      return "never";
    case "succeeded":
      return "ok";
    case "warning":
      return "warning";
    case "running":
      return "running";
    default:
      return "failed"; // failed, interrupted, cancelled, timed out
  }
}

// Heartbeats of many hosts carry the same next run times (a daily schedule): parse each text once.
const parsedCache = new Map<string, number>();
const parseIso = (text: string): number => {
  let ms = parsedCache.get(text);
  if (ms === undefined) {
    if (parsedCache.size > 50_000) parsedCache.clear();
    ms = Date.parse(text);
    parsedCache.set(text, ms);
  }
  return ms;
};

export function computeFleetView(
  hubNowMs: number,
  hosts: HostRow[],
  latest: JobLatestRow[],
  missingGraceMs: number,
): FleetView {
  const now = hubNowMs;
  const latestOf = new Map<string, Map<string, JobLatestRow>>();
  for (const row of latest) {
    let m = latestOf.get(row.host_id);
    if (m === undefined) latestOf.set(row.host_id, (m = new Map<string, JobLatestRow>()));
    m.set(row.job, row);
  }
  const outHosts: FleetHost[] = [];
  const cells: FleetCell[] = [];
  for (const h of hosts) {
    const skew = h.skew_ms ?? 0;
    /** A host-clock time on the hub's clock. */
    const onHub = (hostMs: number) => hostMs - skew;
    const heard = Math.max(h.last_received_ms ?? 0, h.hb_received_ms ?? 0);
    // Expected runs, by the last heartbeat: each job's next run plus its randomized delay.
    let expected: number | null = null;
    const nextOf = new Map<string, number | null>();
    for (const j of h.jobs ?? []) {
      const next = typeof j.next_run_at === "string" ? onHub(parseIso(j.next_run_at)) : null;
      nextOf.set(j.job, next !== null && Number.isFinite(next) ? next : null);
      if (next === null) continue;
      const t = next + (j.randomized_delay_ms ?? 0);
      if (Number.isFinite(t) && (expected === null || t < expected)) expected = t;
    }
    // And its next report (the hub's clock throughout): a host with nothing scheduled is missing
    // too once it has been silent for its report interval + grace.
    const reportEvery =
      h.report_every_ms !== null && h.report_every_ms > 0
        ? h.report_every_ms
        : expected === null
          ? DEFAULT_REPORT_EVERY_MS
          : null;
    if (reportEvery !== null && heard > 0 && (expected === null || heard + reportEvery < expected))
      expected = heard + reportEvery;
    const missingAfter = expected === null ? null : expected + missingGraceMs;
    const missing = missingAfter !== null && now > missingAfter && heard < (expected ?? 0);
    const conflict = h.conflict;
    const hostState: FleetHostState = missing
      ? "missing"
      : conflict
        ? "conflict"
        : h.hb_received_ms === null
          ? "unknown"
          : "ok";

    const specs = new Map((h.jobs ?? []).map((j) => [j.job, j]));
    const rows = latestOf.get(h.host_id);
    const jobNames = new Set<string>([...specs.keys(), ...(rows?.keys() ?? [])]);
    const hostCells: FleetCell[] = [];
    for (const job of [...jobNames].sort()) {
      const spec = specs.get(job) ?? null;
      const row = rows?.get(job) ?? null;
      // A success counts on the hub's clock, and no later than the hub received it.
      const successMs =
        row == null || row.last_success_ms === null
          ? null
          : Math.min(onHub(row.last_success_ms), row.last_success_received_ms ?? Number.POSITIVE_INFINITY);
      const maxAge = spec?.max_age_ms ?? null;
      let staleFor: number | null = null;
      if (maxAge !== null) {
        // Never succeeded: stale once the hub has known the host for max_age.
        const since = successMs ?? h.first_seen_ms;
        const age = now - since;
        if (age > maxAge) staleFor = age - maxAge;
      }
      const stale = staleFor !== null;
      const base = reportedState(row?.last_status ?? null);
      const reported: Exclude<FleetJobState, "missing"> =
        stale && (base === "ok" || base === "warning" || base === "never" || base === "running")
          ? "stale"
          : base;
      const next = nextOf.get(job) ?? null;
      hostCells.push({
        host_id: h.host_id,
        host: h.display_name,
        job,
        state: missing ? "missing" : reported,
        reported_state: reported,
        stale,
        last_run:
          row === null
            ? null
            : {
                id: row.last_run_id,
                status: row.last_status,
                started_at: iso(row.last_started_ms)!,
                finished_at: iso(row.last_finished_ms),
              },
        last_success_at: iso(successMs),
        stale_for_ms: staleFor,
        max_age_ms: maxAge,
        schedule: spec?.schedule ?? null,
        declared: spec !== null,
        next_expected_at: iso(next),
      });
    }
    const worst = hostCells.reduce<FleetJobState>(
      (w, c) => (rank(c.state) < rank(w) ? c.state : w),
      missing ? "missing" : "ok",
    );
    const pending = h.pending ?? 0;
    const oldest = h.oldest_pending_ms === null ? null : onHub(h.oldest_pending_ms);
    outHosts.push({
      host_id: h.host_id,
      host: h.display_name,
      state: hostState,
      worst,
      last_heard_at: heard > 0 ? iso(heard) : null,
      skew_ms: h.skew_ms,
      clock_warning:
        h.skew_ms !== null && Math.abs(h.skew_ms) > SKEW_WARNING_MS
          ? `its clock is ${formatSkew(h.skew_ms)} the hub's`
          : null,
      holdfast_version: h.holdfast_version,
      restic_version: h.restic_version,
      next_expected_at: iso(expected),
      report_every_ms: reportEvery,
      missing_after: iso(missingAfter),
      missing_since: missing ? iso(missingAfter) : null,
      replication:
        h.hb_received_ms === null
          ? null
          : {
              pending,
              oldest_pending_at: iso(oldest),
              // What was still queued at the last report; a silent host's lag keeps growing.
              lag_seconds:
                pending > 0 && oldest !== null ? Math.max(0, Math.round((now - oldest) / 1000)) : 0,
            },
      conflict,
    });
    cells.push(...hostCells);
  }
  // Plain code-point order (localeCompare costs ~100 ms over 10,000 cells).
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  outHosts.sort((a, b) => rank(a.worst) - rank(b.worst) || cmp(a.host, b.host) || cmp(a.host_id, b.host_id));
  const hostOrder = new Map(outHosts.map((h, i) => [h.host_id, i]));
  const keyed = cells.map((c, i) => ({ c, r: rank(c.state), h: hostOrder.get(c.host_id) ?? 0, i }));
  // Within a host, cells are already in job order: the original position breaks ties.
  keyed.sort((a, b) => a.r - b.r || a.h - b.h || a.i - b.i);
  cells.length = 0;
  for (const k of keyed) cells.push(k.c);
  const summary = Object.fromEntries(FLEET_STATE_ORDER.map((s) => [s, 0])) as FleetView["summary"];
  for (const c of cells) summary[c.state]++;
  summary.hosts = outHosts.length;
  summary.missing_hosts = outHosts.filter((h) => h.state === "missing").length;
  return {
    hub_now: new Date(now).toISOString(),
    missing_grace_ms: missingGraceMs,
    hosts: outHosts,
    cells,
    summary,
  };
}

function formatSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
  return `${text} ${ms > 0 ? "ahead of" : "behind"}`;
}

/**
 * A timestamptz as epoch milliseconds, computed by the server (float8 seconds; + 0.5 µs so that
 * float rounding never takes a millisecond off): the client parses numbers, not 60,000 timestamps.
 */
const ms = (col: string) => `floor(date_part('epoch', ${col}) * 1000 + 0.0005)::bigint`;

/**
 * The whole grid's input in one statement (one snapshot, one round trip, the hub's now() in it),
 * as one JSON document of arrays: hosts with their heartbeat, and job_latest (one row per cell).
 * With oneHost, only the host $1 (its primary keys lead with host_id).
 */
const fleetViewSql = (oneHost: boolean) => `
  SELECT json_build_object(
    'now', ${ms("now()")},
    'hosts', coalesce((
      SELECT json_agg(json_build_array(h.host_id, h.display_name, ${ms("h.first_seen_at")},
               ${ms("h.last_received_at")}, h.conflict_at IS NOT NULL, ${ms("b.received_at")}, b.skew_ms,
               b.holdfast_version, b.restic_version, b.jobs, b.pending, ${ms("b.oldest_pending_at")},
               b.report_every_ms))
      FROM holdfast.hosts h LEFT JOIN holdfast.heartbeats b USING (host_id)
      ${oneHost ? "WHERE h.host_id = $1" : ""}), '[]'::json),
    'latest', coalesce((
      SELECT json_agg(json_build_array(host_id, job, last_run_id, last_status, ${ms("last_started_at")},
               ${ms("last_finished_at")}, ${ms("last_success_at")}, ${ms("last_success_received_at")}))
      FROM holdfast.job_latest ${oneHost ? "WHERE host_id = $1" : ""}), '[]'::json)
  )::text AS doc`;
export const FLEET_VIEW_SQL = fleetViewSql(false);
const HOST_VIEW_SQL = fleetViewSql(true);

type HostTuple = [
  string,
  string,
  number,
  number | null,
  boolean,
  number | null,
  number | null,
  string | null,
  string | null,
  HostRow["jobs"],
  number | null,
  number | null,
  number | null,
];
type LatestTuple = [string, string, string, string, number, number | null, number | null, number | null];

/**
 * Reads the grid's rows in one statement and computes the view on the hub's clock; with hostId,
 * the view of that host alone (the same judgement, for the host-scoped dashboard views).
 */
export async function readFleetView(
  c: pg.ClientBase,
  missingGraceMs: number,
  options: { hostId?: string } = {},
): Promise<FleetView> {
  const result =
    options.hostId === undefined
      ? await c.query<{ doc: string }>(FLEET_VIEW_SQL)
      : await c.query<{ doc: string }>(HOST_VIEW_SQL, [options.hostId]);
  const doc = JSON.parse(result.rows[0]!.doc) as { now: number; hosts: HostTuple[]; latest: LatestTuple[] };
  const hosts: HostRow[] = doc.hosts.map((t) => ({
    host_id: t[0],
    display_name: t[1],
    first_seen_ms: t[2],
    last_received_ms: t[3],
    conflict: t[4],
    hb_received_ms: t[5],
    skew_ms: t[6],
    holdfast_version: t[7],
    restic_version: t[8],
    // A host writes its own heartbeat: what is not a job entry is left out, not trusted.
    jobs: Array.isArray(t[9]) ? t[9].filter((j) => typeof j?.job === "string") : null,
    pending: t[10],
    oldest_pending_ms: t[11],
    report_every_ms: t[12],
  }));
  const latest: JobLatestRow[] = doc.latest.map((t) => ({
    host_id: t[0],
    job: t[1],
    last_run_id: t[2],
    last_status: t[3],
    last_started_ms: t[4],
    last_finished_ms: t[5],
    last_success_ms: t[6],
    last_success_received_ms: t[7],
  }));
  return computeFleetView(doc.now, hosts, latest, missingGraceMs);
}
