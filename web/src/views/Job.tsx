// One job: its freshness, its steps' latest records (Run now per job and per step), and its history
// paged with a cursor; every row is a link to the run, so it can be focused and opened by keyboard.
// With `host` (the fleet hub's /fleet/hosts/ID/jobs/JOB), the same view of that host's job, read
// from the fleet database (?host=ID); runs are started on the host itself, not from the hub.
import { useState } from "preact/hooks";
import { errorText, getJson, postJson } from "../api.js";
import { Badge, Crumbs, Duration, ErrorBox, Link, Loading, Time } from "../components.js";
import { FRESHNESS_LABEL, freshnessOf } from "../freshness.js";
import { useLoad } from "../hooks.js";
import { info, refreshStatus, statuses, tick } from "../live.js";
import { href, hostLinks, navigate, type HostLinks } from "../router.js";
import { useStore } from "../store.js";
import type { JobStatus, RunsPage, RunStarted, StatusResponse } from "../types.js";
import { RunTable } from "./RunTable.js";

const PAGE = 20;

/** The job statuses of the hub's own config, or of a fleet host (null while loading). */
export function useStatuses(host: string | null): { jobs: JobStatus[] | null; error: unknown } {
  const local = useStore(statuses);
  const t = useStore(tick);
  const remote = useLoad(
    `status:${host ?? ""}`,
    (signal) =>
      host === null
        ? Promise.resolve(null)
        : getJson<StatusResponse>(`/api/status?host=${encodeURIComponent(host)}`, signal),
    t,
  );
  if (host === null) return { jobs: local, error: null };
  return { jobs: remote.value?.jobs ?? null, error: remote.error };
}

export function JobView({ job, host = null }: { job: string; host?: string | null }) {
  const links = hostLinks(host);
  const { jobs: all, error: statusError } = useStatuses(host);
  const i = useStore(info);
  const status = all?.find((j) => j.name === job) ?? null;
  const canRun = host === null && i?.capabilities.run === true && i.role !== "viewer";
  const [message, setMessage] = useState<{ ok: boolean; text: string; hint?: string | null } | null>(null);

  const runNow = async (steps?: string[]) => {
    setMessage(null);
    try {
      const r = await postJson<RunStarted>(
        `/api/jobs/${encodeURIComponent(job)}/run`,
        steps ? { steps } : {},
      );
      void refreshStatus();
      if (r.run_id) navigate(href.run(r.run_id));
      else setMessage({ ok: true, text: `started (pid ${r.pid}); it shows up in the history in a moment` });
    } catch (err) {
      const e = errorText(err);
      setMessage({ ok: false, text: e.message, hint: e.hint });
    }
  };

  return (
    <>
      <Crumbs
        items={[
          { label: "home", href: href.home() },
          ...(host === null
            ? []
            : [
                { label: "fleet", href: href.fleet() },
                { label: `host ${host}`, href: href.fleetHost(host) },
              ]),
          { label: `job ${job}` },
        ]}
      />
      <h1 tabIndex={-1}>
        {job} {host !== null && <span class="muted">on {host}</span>}{" "}
        {status && <Badge status={freshnessOf(status)} label={FRESHNESS_LABEL[freshnessOf(status)]} />}
      </h1>
      {statusError !== null && <ErrorBox error={statusError} title="The job's state could not be read" />}
      {all !== null && !status && (
        <ErrorBox
          error={
            new Error(
              host === null
                ? `there is no job named "${job}" in the config`
                : `host ${host} has no job named "${job}" at the hub`,
            )
          }
        />
      )}
      {status && (
        <>
          <dl class="facts">
            <div>
              <dt>Schedule</dt>
              <dd>{status.schedule ?? <span class="muted">none (run by hand)</span>}</dd>
            </div>
            <div>
              <dt>Next run</dt>
              <dd>
                <Time iso={status.next_run_at} rel />
              </dd>
            </div>
            <div>
              <dt>Last success</dt>
              <dd>
                <Time iso={status.last_success_at} rel />
              </dd>
            </div>
            <div>
              <dt>Max age</dt>
              <dd>
                <Duration ms={status.max_age_ms} />
              </dd>
            </div>
          </dl>
          {canRun && (
            <div class="actions">
              <button
                type="button"
                onClick={() => void runNow()}
                disabled={status.last_run?.status === "running"}
              >
                Run now
              </button>
            </div>
          )}
          {message && (
            <div class={message.ok ? "notice" : "error"} role={message.ok ? "status" : "alert"}>
              {message.text}
              {message.hint && <div class="hint">{message.hint}</div>}
            </div>
          )}
          <h2>Steps</h2>
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Latest</th>
                <th scope="col">When</th>
                <th scope="col">Took</th>
                {canRun && <th scope="col">Run</th>}
              </tr>
            </thead>
            <tbody>
              {status.steps.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    {s.name} <span class="muted small">{s.type}</span>
                  </th>
                  <td data-label="Latest">
                    <Link href={links.run(s.run_id, s.name)}>
                      <Badge status={s.status} />
                    </Link>
                    {s.error && (
                      <div class="small">
                        {s.error.message}
                        {s.error.hint && <div class="hint">{s.error.hint}</div>}
                      </div>
                    )}
                  </td>
                  <td data-label="When">
                    <Time iso={s.started_at} />
                  </td>
                  <td data-label="Took">
                    <Duration ms={s.duration_ms} />
                  </td>
                  {canRun && (
                    <td data-label="Run">
                      <button
                        type="button"
                        class="secondary"
                        onClick={() => void runNow([s.name])}
                        aria-label={`run step ${s.name} now`}
                      >
                        Run step
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>History</h2>
      <History job={job} links={links} />
    </>
  );
}

/** Pages by cursor; the first page follows live updates, older pages stay as they were read. */
function History({ job, links }: { job: string; links: HostLinks }) {
  const t = useStore(tick);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1) ?? null;
  const page = useLoad(
    `runs:${links.host ?? ""}:${job}:${cursor ?? ""}`,
    (signal) =>
      getJson<RunsPage>(
        `/api/runs?job=${encodeURIComponent(job)}&limit=${PAGE}${cursor ? `&before_run=${encodeURIComponent(cursor)}` : ""}${links.query("&")}`,
        signal,
      ),
    cursor === null ? t : 0,
  );
  return (
    <>
      {page.error !== null && <ErrorBox error={page.error} title="The history could not be read" />}
      {page.value === null && page.error === null && <Loading what="the history" />}
      {page.value && <RunTable runs={page.value.runs} runHref={(id) => links.run(id)} />}
      <div class="pager">
        {cursors.length > 0 && (
          <button type="button" class="secondary" onClick={() => setCursors([])}>
            Newest
          </button>
        )}
        {cursors.length > 0 && (
          <button type="button" class="secondary" onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer
          </button>
        )}
        {page.value?.next_before_run && (
          <button
            type="button"
            class="secondary"
            onClick={() => setCursors((c) => [...c, page.value?.next_before_run as string])}
          >
            Older
          </button>
        )}
        {cursors.length > 0 && <span class="muted small">page {cursors.length + 1}</span>}
      </div>
    </>
  );
}
