// The fleet as the hub sees it (issue 18 item 3): host × job, judged on the hub's own clock — the
// fleet database server's now(), never a host's. A host's times are moved onto the hub's clock by
// its measured skew (heartbeat sent_at − received_at), and a success counts no later than the hub
// received it, so a host whose clock runs ahead cannot look fresh. A host that stopped reporting is
// `missing` once its earliest expected run (+ randomized delay) plus fleet.missing_grace has passed
// on the hub's clock without a new report — never "ok because the last thing it said was ok".
//
// computeFleetView is pure (tested with made-up rows); readFleetView loads the rows in one
// read-only snapshot: hosts + heartbeats (one row each) and job_latest (one row per cell).
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

/** A skew beyond this is shown as a clock problem. */
export const SKEW_WARNING_MS = 60_000;

export interface HostRow {
  host_id: string;
  display_name: string;
  first_seen_at: Date;
  last_received_at: Date | null;
  conflict_at: Date | null;
  hb_sent_at: Date | null;
  hb_received_at: Date | null;
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
  oldest_pending_at: Date | null;
}

export interface JobLatestRow {
  host_id: string;
  job: string;
  last_run_id: string;
  last_status: string;
  last_started_at: Date;
  last_finished_at: Date | null;
  last_received_at: Date;
  last_success_at: Date | null;
  last_success_received_at: Date | null;
  last_failure_at: Date | null;
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
  /** The earliest run the hub expects next (hub clock), and when the host counts as missing. */
  next_expected_at: string | null;
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

export function computeFleetView(
  hubNow: Date,
  hosts: HostRow[],
  latest: JobLatestRow[],
  missingGraceMs: number,
): FleetView {
  const now = hubNow.getTime();
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
    const heard = Math.max(h.last_received_at?.getTime() ?? 0, h.hb_received_at?.getTime() ?? 0);
    // Expected runs, by the last heartbeat: each job's next run plus its randomized delay.
    let expected: number | null = null;
    const nextOf = new Map<string, number | null>();
    for (const j of h.jobs ?? []) {
      const next = j.next_run_at === null ? null : onHub(Date.parse(j.next_run_at));
      nextOf.set(j.job, next !== null && Number.isFinite(next) ? next : null);
      if (next === null) continue;
      const t = next + (j.randomized_delay_ms ?? 0);
      if (Number.isFinite(t) && (expected === null || t < expected)) expected = t;
    }
    const missingAfter = expected === null ? null : expected + missingGraceMs;
    const missing = missingAfter !== null && now > missingAfter && heard < (expected ?? 0);
    const conflict = h.conflict_at !== null;
    const hostState: FleetHostState = missing
      ? "missing"
      : conflict
        ? "conflict"
        : h.hb_received_at === null
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
        row?.last_success_at == null
          ? null
          : Math.min(
              onHub(row.last_success_at.getTime()),
              row.last_success_received_at?.getTime() ?? Number.POSITIVE_INFINITY,
            );
      const maxAge = spec?.max_age_ms ?? null;
      let staleFor: number | null = null;
      if (maxAge !== null) {
        // Never succeeded: stale once the hub has known the host for max_age.
        const since = successMs ?? h.first_seen_at.getTime();
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
                started_at: row.last_started_at.toISOString(),
                finished_at: row.last_finished_at?.toISOString() ?? null,
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
    const oldest = h.oldest_pending_at === null ? null : onHub(h.oldest_pending_at.getTime());
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
      missing_after: iso(missingAfter),
      missing_since: missing ? iso(missingAfter) : null,
      replication:
        h.hb_received_at === null
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
  return { hub_now: hubNow.toISOString(), missing_grace_ms: missingGraceMs, hosts: outHosts, cells, summary };
}

function formatSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
  return `${text} ${ms > 0 ? "ahead of" : "behind"}`;
}

/** Reads the rows for the view in one read-only snapshot and computes it on the hub's clock. */
export async function readFleetView(c: pg.ClientBase, missingGraceMs: number): Promise<FleetView> {
  await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const now = await c.query<{ now: Date }>("SELECT now() AS now");
    const hosts = await c.query<HostRow>(
      `SELECT h.host_id, h.display_name, h.first_seen_at, h.last_received_at, h.conflict_at,
              b.sent_at AS hb_sent_at, b.received_at AS hb_received_at, b.skew_ms, b.holdfast_version,
              b.restic_version, b.jobs, b.pending, b.oldest_pending_at
       FROM holdfast.hosts h LEFT JOIN holdfast.heartbeats b USING (host_id)`,
    );
    const latest = await c.query<JobLatestRow>(
      `SELECT host_id, job, last_run_id, last_status, last_started_at, last_finished_at, last_received_at,
              last_success_at, last_success_received_at, last_failure_at
       FROM holdfast.job_latest`,
    );
    await c.query("COMMIT");
    return computeFleetView(now.rows[0]!.now, hosts.rows, latest.rows, missingGraceMs);
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
