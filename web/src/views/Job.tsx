// One job: its freshness, its steps' latest records (Run now per job and per step), and its history
// paged with a cursor; every row is a link to the run, so it can be focused and opened by keyboard.
import { useState } from "preact/hooks";
import { errorText, getJson, postJson } from "../api.js";
import { Badge, Crumbs, Duration, ErrorBox, Link, Loading, Time } from "../components.js";
import { FRESHNESS_LABEL, freshnessOf } from "../freshness.js";
import { useLoad } from "../hooks.js";
import { info, refreshStatus, statuses, tick } from "../live.js";
import { href, navigate } from "../router.js";
import { useStore } from "../store.js";
import type { RunRecord, RunsPage, RunStarted } from "../types.js";

const PAGE = 20;

export function JobView({ job }: { job: string }) {
  const all = useStore(statuses);
  const i = useStore(info);
  const status = all?.find((j) => j.name === job) ?? null;
  const canRun = i?.capabilities.run === true && i.role !== "viewer";
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
      <Crumbs items={[{ label: "home", href: href.home() }, { label: `job ${job}` }]} />
      <h1 tabIndex={-1}>
        {job} {status && <Badge status={freshnessOf(status)} label={FRESHNESS_LABEL[freshnessOf(status)]} />}
      </h1>
      {all !== null && !status && (
        <ErrorBox error={new Error(`there is no job named "${job}" in the config`)} />
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
                    <Link href={href.run(s.run_id, s.name)}>
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
      <History job={job} />
    </>
  );
}

/** Pages by cursor; the first page follows live updates, older pages stay as they were read. */
function History({ job }: { job: string }) {
  const t = useStore(tick);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1) ?? null;
  const page = useLoad(
    `runs:${job}:${cursor ?? ""}`,
    (signal) =>
      getJson<RunsPage>(
        `/api/runs?job=${encodeURIComponent(job)}&limit=${PAGE}${cursor ? `&before_run=${encodeURIComponent(cursor)}` : ""}`,
        signal,
      ),
    cursor === null ? t : 0,
  );
  return (
    <>
      {page.error !== null && <ErrorBox error={page.error} title="The history could not be read" />}
      {page.value === null && page.error === null && <Loading what="the history" />}
      {page.value && <RunTable runs={page.value.runs} />}
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

export function RunTable({ runs }: { runs: RunRecord[] }) {
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <table class="stack runs">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Status</th>
          <th scope="col">Took</th>
          <th scope="col">Trigger</th>
          <th scope="col">Steps</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <th scope="row">
              <Link
                href={href.run(r.id)}
                aria-label={`run ${r.id} of ${r.job}, ${r.status}, started ${r.started_at}`}
              >
                <Time iso={r.started_at} />
              </Link>
              <div class="muted small mono">{r.id.slice(-10)}</div>
            </th>
            <td data-label="Status">
              <Badge status={r.status} />
            </td>
            <td data-label="Took">
              <Duration ms={r.duration_ms} />
            </td>
            <td data-label="Trigger">{r.trigger}</td>
            <td data-label="Steps" class="small">
              {r.steps.map((s) => (
                <span key={s.index} class={`step-chip ${s.status}`} title={`${s.name}: ${s.status}`}>
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
