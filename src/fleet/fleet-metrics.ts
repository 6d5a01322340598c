// The hub's /metrics (serve --store postgres): the fleet view as Prometheus series with a `host`
// label (the display name; a name two hosts share is told apart by its host id). Job families keep
// the names of a host's own metrics (docs/metrics.md), plus holdfast_job_expected — 1 for every job
// a host declared in its heartbeat — so a job that never ran still alerts:
//   holdfast_job_expected unless on (host, job) holdfast_job_last_success_timestamp_seconds
import { createExposition } from "../metrics/exposition.js";
import { FLEET_STATE_ORDER, type FleetView } from "./fleet-view.js";

const sec = (iso: string | null) => (iso === null ? null : Date.parse(iso) / 1000);

export function renderFleetMetrics(view: FleetView): string {
  const x = createExposition();
  const names = new Map<string, number>();
  for (const h of view.hosts) names.set(h.host, (names.get(h.host) ?? 0) + 1);
  const label = new Map(
    view.hosts.map((h) => [h.host_id, (names.get(h.host) ?? 0) > 1 ? `${h.host} (${h.host_id})` : h.host]),
  );
  const host = (id: string) => label.get(id) ?? id;

  const info = x.family(
    "holdfast_fleet_host_info",
    "One series per host in the fleet database, with its id and versions; always 1.",
  );
  const missing = x.family(
    "holdfast_fleet_host_missing",
    "1 when the host has not reported since its expected run + fleet.missing_grace (the hub's clock).",
  );
  const heard = x.family(
    "holdfast_fleet_host_last_report_timestamp_seconds",
    "When the hub last heard from the host (the hub's clock, Unix time).",
  );
  const skew = x.family(
    "holdfast_fleet_host_clock_skew_seconds",
    "The host's clock minus the hub's at its last heartbeat (> 0: ahead).",
  );
  const pending = x.family(
    "holdfast_fleet_host_replication_pending",
    "History changes the host had still queued at its last report.",
  );
  const lag = x.family(
    "holdfast_fleet_host_replication_lag_seconds",
    "Age, on the hub's clock, of the oldest change the host had queued at its last report (0: in sync).",
  );
  const conflict = x.family(
    "holdfast_fleet_host_id_conflict",
    "1 when another machine reported under the host's id.",
  );
  const expected = x.family(
    "holdfast_job_expected",
    "1 for every job a host declared (its heartbeat), whether or not it ever ran.",
  );
  const state = x.family(
    "holdfast_job_state",
    "The job's state on the hub: 1 for the current state (missing, failed, stale, warning, never, running, ok).",
  );
  const lastSuccess = x.family(
    "holdfast_job_last_success_timestamp_seconds",
    "When the job's last successful run ended, on the hub's clock (Unix time).",
  );
  const lastStart = x.family(
    "holdfast_job_last_run_start_timestamp_seconds",
    "When the job's last run started (the host's clock, Unix time).",
  );
  const stale = x.family("holdfast_job_stale", "1 when the job has had no success within max_age, else 0.");
  const maxAge = x.family("holdfast_job_max_age_seconds", "The job's freshness limit (max_age).");
  const next = x.family(
    "holdfast_job_next_expected_timestamp_seconds",
    "When the hub expects the job's next run (the hub's clock, Unix time).",
  );

  for (const h of view.hosts) {
    const l = { host: host(h.host_id) };
    info.set(
      {
        ...l,
        host_id: h.host_id,
        holdfast_version: h.holdfast_version ?? "",
        restic_version: h.restic_version ?? "",
      },
      1,
    );
    missing.set(l, h.state === "missing" ? 1 : 0);
    conflict.set(l, h.conflict ? 1 : 0);
    const t = sec(h.last_heard_at);
    if (t !== null) heard.set(l, t);
    if (h.skew_ms !== null) skew.set(l, h.skew_ms / 1000);
    if (h.replication !== null) {
      pending.set(l, h.replication.pending);
      lag.set(l, h.replication.lag_seconds);
    }
  }
  for (const c of view.cells) {
    const l = { host: host(c.host_id), job: c.job };
    if (c.declared) expected.set(l, 1);
    for (const s of FLEET_STATE_ORDER) state.set({ ...l, state: s }, c.state === s ? 1 : 0);
    const success = sec(c.last_success_at);
    if (success !== null) lastSuccess.set(l, success);
    const started = sec(c.last_run?.started_at ?? null);
    if (started !== null) lastStart.set(l, started);
    stale.set(l, c.stale ? 1 : 0);
    if (c.max_age_ms !== null) maxAge.set(l, c.max_age_ms / 1000);
    const n = sec(c.next_expected_at);
    if (n !== null) next.set(l, n);
  }
  return x.render();
}
