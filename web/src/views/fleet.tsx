// The fleet hub's views (serve --store postgres): /fleet — every host (state, last report, clock
// skew, replication lag, versions) and the host × job grid, worst first, on the hub's clock — and
// /fleet/hosts/:id, one host's home: its jobs (GET /api/status?host=ID) and its last 50 runs
// (/api/fleet/hosts/:id/runs); from there its jobs and runs (/fleet/hosts/:id/jobs/:job, …/runs/:run)
// are the dashboard's own job and run views filtered by host. A host picker on each.
import { getJson } from "../api.js";
import { Badge, Crumbs, ErrorBox, Link, Loading, Time } from "../components.js";
import { FRESHNESS_LABEL, freshnessOf } from "../freshness.js";
import { useLoad } from "../hooks.js";
import { tick } from "../live.js";
import { href, hostLinks, navigate } from "../router.js";
import { useStore } from "../store.js";
import type { StatusResponse } from "../types.js";
import { JobCard } from "./Home.js";
import { RunTable, type RunRow } from "./RunTable.js";

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
  runs: RunRow[];
}

interface FleetHostsBody {
  hub_now: string;
  hosts: FleetHost[];
}

/** Picks a host: its page (the hosts of GET /api/fleet/hosts, worst first). */
function HostPicker({ current }: { current: string | null }) {
  const list = useLoad("fleet-hosts", (signal) => getJson<FleetHostsBody>("/api/fleet/hosts", signal));
  const hosts = list.value?.hosts ?? [];
  return (
    <label class="host-picker">
      Host{" "}
      <select
        aria-label="host"
        value={current ?? ""}
        onChange={(e) => {
          const id = e.currentTarget.value;
          if (id !== "") navigate(href.fleetHost(id));
        }}
      >
        <option value="">{hosts.length === 0 ? "…" : "every host"}</option>
        {hosts.map((h) => (
          <option key={h.host_id} value={h.host_id}>
            {h.host} ({h.state === "ok" ? h.worst : h.state})
          </option>
        ))}
      </select>
    </label>
  );
}

function skewText(ms: number | null): string {
  if (ms === null) return "-";
  const s = Math.round(Math.abs(ms) / 1000);
  if (s === 0) return "0 s"; // not "−0 s" for a clock a few ms behind
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
      <HostPicker current={null} />
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
                    <Link href={href.fleetHost(c.host_id)}>{c.host}</Link> /{" "}
                    <Link href={href.fleetJob(c.host_id, c.job)}>{c.job}</Link>
                  </th>
                  <td data-label="State">
                    <Badge
                      status={c.state === "missing" ? "failed" : c.state}
                      label={
                        c.state === "failed" && c.last_run?.status === "cancelled" ? "cancelled" : c.state
                      }
                    />
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
  const links = hostLinks(id);
  const status = useLoad(
    `fleet-host-status:${id}`,
    (signal) =>
      getJson<StatusResponse & { host: FleetHost & { hub_now: string } }>(
        `/api/status?host=${encodeURIComponent(id)}`,
        signal,
      ),
    t,
  );
  const jobs = status.value?.jobs ?? null;
  const page = useLoad(
    `fleet-host:${id}`,
    (signal) => getJson<HostRunsBody>(`/api/fleet/hosts/${encodeURIComponent(id)}/runs?limit=50`, signal),
    t,
  );
  const h = status.value?.host ?? null;
  const p = page.value;
  const now = Date.now();
  return (
    <>
      <Crumbs
        items={[
          { label: "home", href: href.home() },
          { label: "fleet", href: href.fleet() },
          { label: `host ${h?.host ?? id}` },
        ]}
      />
      <h1 tabIndex={-1}>
        Host {h?.host ?? id}{" "}
        {h && (
          <Badge
            status={h.state === "missing" ? "failed" : h.worst}
            label={h.state === "ok" ? h.worst : h.state}
          />
        )}
      </h1>
      <HostPicker current={id} />
      {status.error !== null && <ErrorBox error={status.error} title="The host could not be read" />}
      {h && (
        <dl class="facts">
          <div>
            <dt>Host id</dt>
            <dd class="mono">{h.host_id}</dd>
          </div>
          <div>
            <dt>Last report</dt>
            <dd>
              <Time iso={h.last_heard_at} rel />
              {h.missing_since && (
                <div class="small">
                  missing since <Time iso={h.missing_since} />
                </div>
              )}
            </dd>
          </div>
          <div>
            <dt>Clock skew</dt>
            <dd title={h.clock_warning ?? ""}>
              {skewText(h.skew_ms)} {h.clock_warning && <span class="badge bad">clock</span>}
            </dd>
          </div>
          <div>
            <dt>Versions</dt>
            <dd class="small">
              holdfast {h.holdfast_version ?? "?"}, restic {h.restic_version ?? "-"}
            </dd>
          </div>
        </dl>
      )}
      <section aria-labelledby="host-jobs-h">
        <h2 id="host-jobs-h">Jobs</h2>
        {jobs === null && status.error === null && <Loading what="the host's jobs" />}
        {jobs !== null && jobs.length === 0 && <p class="muted">No jobs from this host at the hub yet.</p>}
        {jobs !== null && (
          <ul class="board">
            {jobs.map((job) => {
              const f = freshnessOf(job, now);
              return <JobCard key={job.name} job={job} f={f} progress={undefined} links={links} />;
            })}
          </ul>
        )}
        {jobs !== null && jobs.some((j) => j.fleet_state === "missing") && (
          <p class="why">
            The host is missing: it has not reported since it was expected to, so its jobs count as{" "}
            {FRESHNESS_LABEL.overdue} whatever they last said.
          </p>
        )}
      </section>
      <h2>Runs</h2>
      {page.error !== null && <ErrorBox error={page.error} />}
      {p === null && page.error === null && <Loading what="the host's runs" />}
      {p !== null && (
        <RunTable
          runs={p.runs}
          runHref={(run) => links.run(run)}
          showJob
          showReceived
          empty="No runs from this host at the hub yet."
        />
      )}
    </>
  );
}
