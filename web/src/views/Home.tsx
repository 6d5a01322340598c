// Home answers one question — is everything safe? — with a freshness card per job (the failing step
// and its hint on the card) and the 3-2-1 matrix of sources × repositories.
import { getJsonCached } from "../api.js";
import { Badge, Duration, ErrorBox, Link, Loading, Time } from "../components.js";
import { FRESHNESS_LABEL, failingStep, freshnessOf, isAlarm, type Freshness } from "../freshness.js";
import { useLoad } from "../hooks.js";
import { progress, statusError, statuses, tick, type Progress } from "../live.js";
import { href, hostLinks, type HostLinks } from "../router.js";
import { useStore } from "../store.js";
import type { JobStatus, RedundancyMatrix } from "../types.js";
import { ProgressLine } from "./progress.js";

export function Home() {
  const jobs = useStore(statuses);
  const error = useStore(statusError);
  const live = useStore(progress);
  const now = Date.now();
  const rows = (jobs ?? []).map((job) => ({ job, f: freshnessOf(job, now) }));
  const bad = rows.filter((r) => isAlarm(r.f));
  return (
    <>
      <h1 tabIndex={-1}>Is everything safe?</h1>
      {error !== null && <ErrorBox error={error} title="Job states could not be read" />}
      {jobs === null && error === null && <Loading what="job states" />}
      {jobs !== null && (
        <p class={`verdict ${bad.length ? "bad" : "ok"}`} role="status">
          {jobs.length === 0
            ? "No jobs in the config."
            : bad.length === 0
              ? `Yes: all ${jobs.length} job${jobs.length === 1 ? " is" : "s are"} fresh.`
              : `No: ${bad.map((r) => `${r.job.name} is ${FRESHNESS_LABEL[r.f]}`).join(", ")}.`}
        </p>
      )}
      <section aria-labelledby="board-h">
        <h2 id="board-h">Jobs</h2>
        <ul class="board">
          {rows.map(({ job, f }) => (
            <JobCard
              key={job.name}
              job={job}
              f={f}
              progress={job.last_run ? live[job.last_run.id] : undefined}
            />
          ))}
        </ul>
      </section>
      <Redundancy />
    </>
  );
}

/** One job's card; `links` makes it a fleet host's (the hub's /fleet/hosts/ID/…). */
export function JobCard({
  job,
  f,
  progress,
  links = hostLinks(null),
}: {
  job: JobStatus;
  f: Freshness;
  progress: Progress | undefined;
  links?: HostLinks;
}) {
  const failing = f === "failed" || f === "cancelled" || f === "overdue" ? failingStep(job) : null;
  const last = job.last_run;
  return (
    <li class={`card fresh-${f}`}>
      <div class="card-head">
        <h3>
          <Link href={links.job(job.name)}>{job.name}</Link>
        </h3>
        <Badge status={f} label={FRESHNESS_LABEL[f]} />
      </div>
      <dl class="facts">
        <div>
          <dt>Last success</dt>
          <dd>
            <Time iso={job.last_success_at} rel />
          </dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd>
            {last ? (
              <Link href={links.run(last.id)} aria-label={`last run of ${job.name}, ${last.status}`}>
                <Time iso={last.started_at} rel /> · {last.status}
                {last.duration_ms !== null && (
                  <>
                    {" "}
                    · <Duration ms={last.duration_ms} />
                  </>
                )}
              </Link>
            ) : (
              <span class="muted">never</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Next</dt>
          <dd>
            {job.next_run_at ? <Time iso={job.next_run_at} rel /> : <span class="muted">no schedule</span>}
          </dd>
        </div>
      </dl>
      {f === "overdue" && job.stale_for_ms !== null && (
        <p class="why">
          No success for <Duration ms={job.stale_for_ms} /> (max age <Duration ms={job.max_age_ms} />
          ).
        </p>
      )}
      {job.clock_warning && <p class="why">{job.clock_warning}</p>}
      {failing?.error && (
        <div class="why">
          <p>
            Step <strong>{failing.name}</strong> ({failing.type}) {failing.status.replace("_", " ")}:{" "}
            {failing.error.message}
          </p>
          {failing.error.hint && <p class="hint">{failing.error.hint}</p>}
        </div>
      )}
      {(f === "running" || f === "hung") && progress && <ProgressLine p={progress} />}
    </li>
  );
}

function Redundancy() {
  const t = useStore(tick);
  // The matrix changes when a run ends: re-read it every fourth poll, not at each one.
  const m = useLoad(
    "redundancy",
    () => getJsonCached<RedundancyMatrix>("/api/redundancy"),
    Math.floor(t / 4),
  );
  return (
    <section aria-labelledby="matrix-h">
      <h2 id="matrix-h">3-2-1 copies</h2>
      <p class="muted small">
        Per source: 3 copies (the source counts), on 2 media, 1 offsite. Each cell: the newest snapshot, the
        last passed restore drill of it, and the last passed check of the repository.
      </p>
      {m.error !== null && <ErrorBox error={m.error} title="The matrix could not be read" />}
      {m.value === null && m.error === null && <Loading what="the 3-2-1 matrix" />}
      {m.value && <Matrix m={m.value} />}
    </section>
  );
}

function Matrix({ m }: { m: RedundancyMatrix }) {
  if (m.sources.length === 0) return <p class="muted">No sources in the config.</p>;
  return (
    <table class="matrix stack">
      <caption class="sr-only">Snapshots of each source per repository</caption>
      <thead>
        <tr>
          <th scope="col">Source</th>
          {m.repositories.map((r) => (
            <th scope="col" key={r.name}>
              <Link href={href.repo(r.name)}>{r.name}</Link>
              <span class="muted small">
                {" "}
                {r.backend ?? "?"}
                {r.offsite ? " · offsite" : ""}
              </span>
            </th>
          ))}
          <th scope="col">3-2-1</th>
        </tr>
      </thead>
      <tbody>
        {m.sources.map((row) => (
          <tr key={row.database === null ? row.source : `${row.source}/${row.database}`}>
            <th scope="row">
              {row.database === null ? row.source : `${row.source} · ${row.database}`}
              <div class="muted small path">{row.paths.join(", ")}</div>
            </th>
            {row.cells.map((c) => {
              return (
                <td
                  key={c.repo}
                  data-label={c.repo}
                  class={c.stale ? "cell-bad" : c.latest_snapshot_at ? "cell-ok" : ""}
                >
                  {c.latest_snapshot_at ? (
                    <>
                      <div>
                        <Time iso={c.latest_snapshot_at} rel />
                        {c.via === "copy" ? " (copy)" : ""}
                        {c.stale && <Badge status="stale" />}
                      </div>
                      <div class="small">
                        drill:{" "}
                        {c.last_verified_at ? (
                          <Time iso={c.last_verified_at} rel />
                        ) : (
                          <span class="muted">never</span>
                        )}
                      </div>
                      <div class="small">
                        check:{" "}
                        {c.last_check_at ? (
                          <Time iso={c.last_check_at} rel />
                        ) : (
                          <span class="muted">never</span>
                        )}
                      </div>
                      {c.same_medium_as_source && (
                        <div class="small muted" title="a copy, but not a second medium for 3-2-1">
                          on the source's disk
                        </div>
                      )}
                    </>
                  ) : (
                    <span class="muted">{c.planned ? "planned, none yet" : "—"}</span>
                  )}
                </td>
              );
            })}
            <td data-label="3-2-1">
              <Badge status={row.verdict} label={row.verdict === "ok" ? "ok" : "at risk"} />
              <div class="small">
                {row.copies} {row.copies === 1 ? "copy" : "copies"} · {row.media}{" "}
                {row.media === 1 ? "medium" : "media"} · {row.offsite} offsite
              </div>
              {row.problems.length > 0 && (
                <ul class="problems small">
                  {row.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
