// The one table of runs: a job's history (Job.tsx) and a fleet host's runs at the hub (fleet.tsx).
// Every row's start is a link to the run, so it can be focused and opened by keyboard.
import { Badge, Duration, Link, Time } from "../components.js";
import { href } from "../router.js";

/** What a row needs: a RunRecord of /api/runs, or a run of /api/fleet/hosts/:id/runs. */
export interface RunRow {
  id: string;
  job: string;
  status: string;
  trigger: string;
  started_at: string;
  duration_ms: number | null;
  /** The hub's clock, for a run read from the fleet database. */
  received_at?: string;
  steps: ReadonlyArray<{ name: string; status: string }>;
}

export function RunTable({
  runs,
  runHref = href.run,
  showJob = false,
  showReceived = false,
  empty = "No runs yet.",
}: {
  runs: readonly RunRow[];
  runHref?: (id: string) => string;
  /** A column with the job (a host's runs of every job). */
  showJob?: boolean;
  /** The hub's received_at beside the host's started_at. */
  showReceived?: boolean;
  empty?: string;
}) {
  if (runs.length === 0) return <p class="muted">{empty}</p>;
  return (
    <table class="stack runs">
      <thead>
        <tr>
          <th scope="col">{showReceived ? "Started (host clock)" : "Started"}</th>
          {showJob && <th scope="col">Job</th>}
          <th scope="col">Status</th>
          <th scope="col">Took</th>
          <th scope="col">Trigger</th>
          {showReceived && <th scope="col">Received (hub clock)</th>}
          <th scope="col">Steps</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <th scope="row">
              <Link
                href={runHref(r.id)}
                aria-label={`run ${r.id} of ${r.job}, ${r.status}, started ${r.started_at}`}
              >
                <Time iso={r.started_at} />
              </Link>
              <div class="muted small mono">{r.id.slice(-10)}</div>
            </th>
            {showJob && <td data-label="Job">{r.job}</td>}
            <td data-label="Status">
              <Badge status={r.status} />
            </td>
            <td data-label="Took">
              <Duration ms={r.duration_ms} />
            </td>
            <td data-label="Trigger">{r.trigger}</td>
            {showReceived && (
              <td data-label="Received">
                <Time iso={r.received_at ?? null} />
              </td>
            )}
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
  );
}
