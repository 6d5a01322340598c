// The fleet hub's views (serve --store postgres): /fleet — every host (state, last report, clock
// skew, replication lag, versions) and the host × job grid, worst first, on the hub's clock — and
// /fleet/hosts/:id, a host's last 50 runs. Read from GET /api/fleet and /api/fleet/hosts/:id/runs.
import { getJson } from "../api.js";
import { Badge, Crumbs, Duration, ErrorBox, Link, Loading, Time } from "../components.js";
import { useLoad } from "../hooks.js";
import { tick } from "../live.js";
import { href } from "../router.js";
import { useStore } from "../store.js";

interface FleetHost {
  host_id: string;
  host: string;
  state: string;
  worst: string;
  last_heard_at: string | null;
  skew_ms: number | null;
  clock_warning: string | null;
  holdfast_version: string | null;
  restic_version: string | null;
  next_expected_at: string | null;
  missing_since: string | null;
  replication: { pending: number; oldest_pending_at: string | null; lag_seconds: number } | null;
  conflict: boolean;
}

interface FleetCell {
  host_id: string;
  host: string;
  job: string;
  state: string;
  reported_state: string;
  last_run: { id: string; status: string; started_at: string } | null;
  last_success_at: string | null;
  next_expected_at: string | null;
}

interface FleetViewBody {
  hub_now: string;
  hosts: FleetHost[];
  cells: FleetCell[];
  summary: Record<string, number>;
}

interface HostRunsBody {
  host_id: string;
  runs: Array<{
    id: string;
    job: string;
    status: string;
    trigger: string;
    started_at: string;
    received_at: string;
    duration_ms: number | null;
    steps: Array<{ name: string; status: string }>;
  }>;
}

function skewText(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.round(Math.abs(ms) / 1000);
  return `${ms >= 0 ? "+" : "−"}${s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`}`;
}

export function FleetOverview() {
  const t = useStore(tick);
  const view = useLoad("fleet", (signal) => getJson<FleetViewBody>("/api/fleet", signal), t);
  const v = view.value;
  return (
    <>
      <Crumbs items={[{ label: "home", href: href.home() }, { label: "fleet" }]} />
      <h1 tabIndex={-1}>Fleet</h1>
      {view.error !== null && <ErrorBox error={view.error} />}
      {v === null && view.error === null && <Loading what="the fleet" />}
      {v !== null && (
        <>
          <p class="muted small">
            {v.hosts.length} host(s), {v.summary.missing_hosts ?? 0} missing — the hub's clock:{" "}
            <Time iso={v.hub_now} />
          </p>
          <h2>Hosts</h2>
          <table class="stack fleet-hosts">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">State</th>
                <th scope="col">Last report</th>
                <th scope="col">Clock skew</th>
                <th scope="col">Replication</th>
                <th scope="col">Versions</th>
              </tr>
            </thead>
            <tbody>
              {v.hosts.map((h) => (
                <tr key={h.host_id}>
                  <th scope="row">
                    <Link href={href.fleetHost(h.host_id)}>{h.host}</Link>
                    <div class="muted small mono">{h.host_id}</div>
                  </th>
                  <td data-label="State">
                    <Badge
                      status={h.state === "missing" ? "failed" : h.worst}
                      label={h.state === "ok" ? h.worst : h.state}
                    />
                    {h.missing_since && (
                      <div class="muted small">
                        since <Time iso={h.missing_since} />
                      </div>
                    )}
                  </td>
                  <td data-label="Last report">
                    <Time iso={h.last_heard_at} rel />
                  </td>
                  <td data-label="Clock skew" title={h.clock_warning ?? ""}>
                    {skewText(h.skew_ms)}
                    {h.clock_warning && <span class="badge bad">clock</span>}
                  </td>
                  <td data-label="Replication">
                    {h.replication === null
                      ? "-"
                      : h.replication.pending === 0
                        ? "in sync"
                        : `${h.replication.pending} queued, ${Math.round(h.replication.lag_seconds / 60)} min behind`}
                  </td>
                  <td data-label="Versions" class="small">
                    holdfast {h.holdfast_version ?? "?"}, restic {h.restic_version ?? "-"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Jobs</h2>
          <table class="stack fleet-grid">
            <thead>
              <tr>
                <th scope="col">Host / job</th>
                <th scope="col">State</th>
                <th scope="col">Last success</th>
                <th scope="col">Last run</th>
                <th scope="col">Next expected</th>
              </tr>
            </thead>
            <tbody>
              {v.cells.map((c) => (
                <tr key={`${c.host_id}/${c.job}`}>
                  <th scope="row">
                    <Link href={href.fleetHost(c.host_id)}>{c.host}</Link> / {c.job}
                  </th>
                  <td data-label="State">
                    <Badge status={c.state === "missing" ? "failed" : c.state} label={c.state} />
                    {c.state === "missing" && <span class="muted small"> last said {c.reported_state}</span>}
                  </td>
                  <td data-label="Last success">
                    <Time iso={c.last_success_at} rel />
                  </td>
                  <td data-label="Last run">{c.last_run ? <Badge status={c.last_run.status} /> : "-"}</td>
                  <td data-label="Next expected">
                    <Time iso={c.next_expected_at} rel />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

export function FleetHostView({ id }: { id: string }) {
  const t = useStore(tick);
  const page = useLoad(
    `fleet-host:${id}`,
    (signal) => getJson<HostRunsBody>(`/api/fleet/hosts/${encodeURIComponent(id)}/runs?limit=50`, signal),
    t,
  );
  const p = page.value;
  return (
    <>
      <Crumbs
        items={[{ label: "home", href: href.home() }, { label: "fleet", href: href.fleet() }, { label: id }]}
      />
      <h1 tabIndex={-1}>Host {id}</h1>
      {page.error !== null && <ErrorBox error={page.error} />}
      {p === null && page.error === null && <Loading what="the host's runs" />}
      {p !== null && p.runs.length === 0 && <p class="muted">No runs from this host at the hub yet.</p>}
      {p !== null && p.runs.length > 0 && (
        <table class="stack runs">
          <thead>
            <tr>
              <th scope="col">Started (host clock)</th>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Took</th>
              <th scope="col">Received (hub clock)</th>
              <th scope="col">Steps</th>
            </tr>
          </thead>
          <tbody>
            {p.runs.map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  <Time iso={r.started_at} />
                  <div class="muted small mono">{r.id.slice(-10)}</div>
                </th>
                <td data-label="Job">{r.job}</td>
                <td data-label="Status">
                  <Badge status={r.status} />
                </td>
                <td data-label="Took">
                  <Duration ms={r.duration_ms} />
                </td>
                <td data-label="Received">
                  <Time iso={r.received_at} />
                </td>
                <td data-label="Steps" class="small">
                  {r.steps.map((s, i) => (
                    <span key={i} class={`step-chip ${s.status}`} title={`${s.name}: ${s.status}`}>
                      {s.name}{" "}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
