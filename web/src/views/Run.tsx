// One run: the per-step pipeline timeline, each step's result (targets, error and hint), Cancel while
// it runs, and the log of a step, followed as it is written (LogView.tsx; the step is in the URL, so
// it survives reloads and can be linked).
import { useEffect, useState } from "preact/hooks";
import { getJson, postJson } from "../api.js";
import { Badge, Crumbs, Duration, ErrorBox, Link, Loading, Time } from "../components.js";
import { formatBytes } from "../format.js";
import { useLoad } from "../hooks.js";
import { info, liveMode, progress, refreshStatus, tick } from "../live.js";
import { href, hostLinks, navigate, type HostLinks } from "../router.js";
import { useStore } from "../store.js";
import type { CancelResponse, RunRecord, StepRecord } from "../types.js";
import { LogView } from "./LogView.js";
import { ProgressLine } from "./progress.js";

const TONE: Record<string, string> = {
  succeeded: "ok",
  warning: "warn",
  running: "run",
  failed: "bad",
  timed_out: "bad",
  cancelled: "bad",
  interrupted: "bad",
};

/** While a run goes on and no event stream tells us, its record is re-read this often. */
const RUNNING_POLL_MS = 3000;

/** A run of the hub's own history, or with `host` a fleet host's run at the hub (its logs stay there). */
export function RunView({
  id,
  step,
  host = null,
}: {
  id: string;
  step: string | null;
  host?: string | null;
}) {
  const links = hostLinks(host);
  const t = useStore(tick);
  const mode = useStore(liveMode);
  const [local, setLocal] = useState(0);
  const run = useLoad(
    `run:${host ?? ""}:${id}`,
    (signal) => getJson<RunRecord>(`/api/runs/${encodeURIComponent(id)}${links.query("?")}`, signal),
    t + local,
  );
  const r = run.value;
  const running = r?.status === "running";
  useEffect(() => {
    if (!running || mode === "events") return;
    const timer = setInterval(() => setLocal((n) => n + 1), RUNNING_POLL_MS);
    return () => clearInterval(timer);
  }, [running, mode]);

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
          ...(r
            ? [{ label: `job ${r.job}`, href: r.job.startsWith("@") ? href.home() : links.job(r.job) }]
            : []),
          { label: `run ${id.slice(-10)}` },
        ]}
      />
      <h1 tabIndex={-1}>
        Run {r ? <>of {r.job}</> : id} {r && <Badge status={r.status} />}
      </h1>
      {run.error !== null && <ErrorBox error={run.error} title="The run could not be read" />}
      {!r && run.error === null && <Loading what="the run" />}
      {r && <RunBody run={r} step={step} links={links} />}
    </>
  );
}

function RunBody({ run, step, links }: { run: RunRecord; step: string | null; links: HostLinks }) {
  const i = useStore(info);
  const live = useStore(progress)[run.id];
  const running = run.status === "running";
  const canCancel = links.host === null && running && i?.capabilities.cancel === true && i.role !== "viewer";
  const [cancel, setCancel] = useState<
    { state: "idle" | "asking" | "sent" } | { state: "error"; error: unknown }
  >({
    state: "idle",
  });
  const selected = run.steps.find((s) => s.name === step) ?? null;

  return (
    <>
      <dl class="facts">
        <div>
          <dt>Started</dt>
          <dd>
            <Time iso={run.started_at} />
          </dd>
        </div>
        <div>
          <dt>Took</dt>
          <dd>{running ? <span>running…</span> : <Duration ms={run.duration_ms} />}</dd>
        </div>
        <div>
          <dt>Trigger</dt>
          <dd>
            {run.trigger} on {run.host}
          </dd>
        </div>
        {run.exit_code !== null && (
          <div>
            <dt>Exit code</dt>
            <dd>{run.exit_code}</dd>
          </div>
        )}
      </dl>
      {run.error && (
        <div class="error" role="alert">
          {run.error.message}
          {run.error.hint && <div class="hint">{run.error.hint}</div>}
        </div>
      )}
      {live && <ProgressLine p={live} />}
      {canCancel && (
        <div class="actions">
          {cancel.state === "asking" ? (
            <>
              <span>Stop this run? It is recorded as cancelled.</span>
              <button
                type="button"
                class="danger"
                onClick={() => {
                  postJson<CancelResponse>(`/api/runs/${encodeURIComponent(run.id)}/cancel`).then(
                    () => {
                      setCancel({ state: "sent" });
                      void refreshStatus();
                    },
                    (error: unknown) => setCancel({ state: "error", error }),
                  );
                }}
              >
                Yes, cancel it
              </button>
              <button type="button" class="secondary" onClick={() => setCancel({ state: "idle" })}>
                No
              </button>
            </>
          ) : (
            <button
              type="button"
              class="danger"
              onClick={() => setCancel({ state: "asking" })}
              disabled={cancel.state === "sent"}
            >
              {cancel.state === "sent" ? "Cancelling…" : "Cancel run"}
            </button>
          )}
        </div>
      )}
      {cancel.state === "error" && <ErrorBox error={cancel.error} title="Cancel failed" />}

      <h2 id="timeline-h">Pipeline</h2>
      <Timeline run={run} links={links} />

      <h2 id="steps-h">Steps</h2>
      <div class="tabs" role="tablist" aria-label="Step logs">
        {run.steps.map((s) => (
          <button
            key={s.index}
            type="button"
            role="tab"
            id={`tab-${s.index}`}
            aria-selected={selected?.index === s.index}
            aria-controls="step-panel"
            onClick={() => navigate(links.run(run.id, s.name), { replace: true })}
          >
            {s.name} <span class="small">({s.status.replace("_", " ")})</span>
          </button>
        ))}
      </div>
      {selected ? (
        <div id="step-panel" role="tabpanel" aria-labelledby={`tab-${selected.index}`}>
          <StepDetail step={selected} local={links.host === null} />
          {links.host === null ? (
            <LogView key={`${run.id}:${selected.index}`} runId={run.id} step={selected} />
          ) : (
            <p class="muted">
              The log stays on {run.host}: <code>holdfast logs {run.id}</code> there.
            </p>
          )}
        </div>
      ) : (
        <p class="muted">Choose a step to see its result and log.</p>
      )}
    </>
  );
}

function Timeline({ run, links }: { run: RunRecord; links: HostLinks }) {
  const start = Date.parse(run.started_at);
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  const span = Math.max(1, end - start);
  return (
    <ol class="timeline" aria-labelledby="timeline-h">
      {run.steps.map((s) => {
        const from = s.started_at ? Date.parse(s.started_at) : null;
        const to = s.finished_at ? Date.parse(s.finished_at) : s.status === "running" ? Date.now() : from;
        const left = from !== null ? ((from - start) / span) * 100 : 0;
        const width = from !== null && to !== null ? Math.max(0.5, ((to - from) / span) * 100) : 0;
        return (
          <li key={s.index}>
            <Link href={links.run(run.id, s.name)} aria-label={`${s.name}: ${s.status}`}>
              {s.name}
            </Link>
            <div class="track" aria-hidden="true">
              {from !== null && (
                // An object style is set through the CSSOM, which style-src 'self' allows (an attribute would not be).
                <span
                  class={`bar ${TONE[s.status] ?? ""}`}
                  style={{ left: `${left}%`, width: `${width}%` }}
                />
              )}
            </div>
            <span class="small num">
              <Badge status={s.status} /> {s.duration_ms !== null ? <Duration ms={s.duration_ms} /> : null}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

/** `local`: the repositories are this server's (a fleet host's are not browsable from the hub). */
function StepDetail({ step, local }: { step: StepRecord; local: boolean }) {
  return (
    <div class="step-detail">
      <p>
        <strong>{step.name}</strong> <span class="muted">({step.type})</span> <Badge status={step.status} />{" "}
        {step.started_at && (
          <>
            from <Time iso={step.started_at} />
          </>
        )}{" "}
        {step.duration_ms !== null && (
          <>
            · <Duration ms={step.duration_ms} />
          </>
        )}
        {step.attempts > 1 && ` · ${step.attempts} attempts`}
      </p>
      {step.error && (
        <div class="error">
          {step.error.message}
          {step.error.hint && <div class="hint">{step.error.hint}</div>}
        </div>
      )}
      {step.targets.length > 0 && (
        <table class="stack">
          <thead>
            <tr>
              <th scope="col">Repository</th>
              <th scope="col">Status</th>
              <th scope="col">Snapshot</th>
              <th scope="col">Figures</th>
            </tr>
          </thead>
          <tbody>
            {step.targets.map((t) => (
              <tr key={t.repo}>
                <th scope="row">{local ? <Link href={href.repo(t.repo)}>{t.repo}</Link> : t.repo}</th>
                <td data-label="Status">
                  <Badge status={t.status} />
                  {t.error && <div class="small">{t.error.message}</div>}
                </td>
                <td data-label="Snapshot">
                  {typeof t.snapshot_id === "string" && !local ? (
                    <span class="mono">{t.snapshot_id.slice(0, 8)}</span>
                  ) : typeof t.snapshot_id === "string" ? (
                    <Link href={href.snapshot(t.repo, t.snapshot_id)} class="mono">
                      {t.snapshot_id.slice(0, 8)}
                    </Link>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td data-label="Figures" class="small">
                  {figures(t).join(" · ") || <span class="muted">—</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const SKIP = new Set(["repo", "status", "duration_ms", "error", "snapshot_id"]);
function figures(t: Record<string, unknown>): string[] {
  return Object.entries(t)
    .filter(([k, v]) => !SKIP.has(k) && (typeof v === "number" || typeof v === "string"))
    .map(([k, v]) =>
      typeof v === "number" && /bytes|data_added|size/.test(k)
        ? `${k.replace(/_/g, " ")} ${formatBytes(v)}`
        : `${k.replace(/_/g, " ")} ${String(v)}`,
    );
}
