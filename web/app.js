// The holdfast dashboard: plain browser JavaScript, no framework, no build step, no CDN.
// Every piece of text from the API goes in through textContent (never innerHTML), and charts are SVG
// built with the DOM API, so the strict Content-Security-Policy of the server holds.

const TOKEN_KEY = "holdfast.token";
const TREND_RUNS = 30;
const REFRESH_MS = 15_000;
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  info: null,
  status: null,
  runs: [],
  historyBefore: null,
  paged: false,
  selectedRun: null,
  timer: null,
};

// ---------- small helpers ----------

const $ = (id) => document.getElementById(id);

/** Creates an element; attrs may hold `class`, `text`, `on<event>`, `dataset` and plain attributes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

function applyAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
}

function svgTitle(text) {
  const t = s("title");
  t.textContent = text;
  return t;
}

function badge(status) {
  return h("span", { class: `badge s-${status}`, text: status.replace("_", " ") });
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 1 : 0)} s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min}m${String(Math.round(sec % 60)).padStart(2, "0")}s`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return `${hours}h${String(min % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${units[i]}`;
}

function fmtAge(iso) {
  if (!iso) return "never";
  const ms = Date.now() - Date.parse(iso);
  if (ms < 0) return `in ${fmtDuration(-ms)}`;
  return `${fmtDuration(ms)} ago`;
}

function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function showMessage(text, ok = false) {
  const el = $("message");
  el.textContent = text;
  el.className = ok ? "message ok" : "message";
  el.hidden = !text;
}

// ---------- the API ----------

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.hint = body?.error?.hint ?? null;
    this.body = body;
  }
}

async function api(path, { method = "GET", body, text = false } = {}) {
  const headers = { Accept: text ? "text/plain" : "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (method !== "GET") headers["X-Holdfast-Request"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (res.status === 401) $("auth").hidden = false;
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      /* not JSON */
    }
    throw new ApiFailure(res.status, parsed);
  }
  return text ? res.text() : res.json();
}

// ---------- jobs ----------

function renderJobs() {
  const root = $("jobs");
  root.replaceChildren();
  const jobs = state.status?.jobs ?? [];
  if (jobs.length === 0) root.append(h("p", { class: "muted", text: "No jobs in the config." }));
  for (const job of jobs) {
    const last = job.last_run;
    const runButton = h("button", {
      type: "button",
      text: "Run now",
      title: `start holdfast run ${job.name}`,
    });
    runButton.disabled = job.state === "running" || !state.info?.capabilities?.run;
    runButton.addEventListener("click", () => runNow(job.name, runButton));
    const card = h(
      "article",
      { class: `job${job.state === "stale" ? " stale" : ""}` },
      h("h3", {}, job.name, badge(job.state)),
      job.state === "stale"
        ? h("div", {
            class: "error",
            text: `no success for ${fmtDuration(job.stale_for_ms)} (max age ${fmtDuration(job.max_age_ms)})`,
          })
        : null,
      h(
        "dl",
        {},
        h("dt", { text: "last run" }),
        h(
          "dd",
          {},
          last
            ? [badge(last.status), " ", fmtAge(last.started_at), ` · ${fmtDuration(last.duration_ms)}`]
            : "never",
        ),
        h("dt", { text: "last success" }),
        h("dd", { text: fmtAge(job.last_success_at) }),
        h("dt", { text: "next run" }),
        h("dd", {
          text: job.next_run_at
            ? `${fmtTime(job.next_run_at)} (${fmtAge(job.next_run_at)})`
            : "not scheduled",
        }),
      ),
      h(
        "div",
        { class: "steps" },
        job.steps.map((st) =>
          h("span", {
            class: `chip s-${st.status}`,
            title: `${st.name}: ${st.status}${st.duration_ms !== null ? ` in ${fmtDuration(st.duration_ms)}` : ""}${st.error ? ` — ${st.error.message}` : ""}`,
          }),
        ),
      ),
      h("div", { class: "actions" }, runButton),
    );
    root.append(card);
  }
}

async function runNow(job, button) {
  button.disabled = true;
  try {
    const started = await api(`/api/jobs/${encodeURIComponent(job)}/run`, { method: "POST" });
    showMessage(
      `Started ${job} (pid ${started.pid}${started.run_id ? `, run ${started.run_id}` : ""}).`,
      true,
    );
    await refresh();
    if (started.run_id) await openRun(started.run_id);
  } catch (err) {
    showMessage(`Could not start ${job}: ${err.message}${err.hint ? ` — ${err.hint}` : ""}`);
  } finally {
    button.disabled = false;
  }
}

// ---------- redundancy matrix ----------

function renderRedundancy(matrix) {
  const root = $("redundancy");
  root.replaceChildren();
  if (matrix.sources.length === 0 || matrix.repositories.length === 0) {
    root.append(h("p", { class: "muted", text: "No sources or repositories in the config." }));
    return;
  }
  const head = h(
    "tr",
    {},
    h("th", { text: "source" }),
    matrix.repositories.map((r) =>
      h(
        "th",
        { title: r.backend ?? "" },
        r.name,
        r.offsite ? h("span", { class: "offsite", text: "offsite" }) : null,
      ),
    ),
    h("th", { text: "3-2-1" }),
  );
  const rows = matrix.sources.map((row) =>
    h(
      "tr",
      {},
      h("td", { title: row.paths.join("\n") }, h("strong", { text: row.source })),
      row.cells.map((cell) => {
        if (cell.latest_snapshot_at) {
          const title = [
            `latest snapshot ${fmtTime(cell.latest_snapshot_at)}`,
            cell.snapshot_id ? `id ${cell.snapshot_id.slice(0, 12)}` : null,
            cell.via === "copy" ? "by copy" : "by backup",
            cell.last_verified_at
              ? `restore drill passed ${fmtAge(cell.last_verified_at)}`
              : "no restore drill yet",
          ]
            .filter(Boolean)
            .join("\n");
          return h(
            "td",
            { class: `cell ${cell.stale ? "stale" : "have"}`, title },
            fmtDuration(cell.age_ms),
            cell.via === "copy" ? " (copy)" : "",
            cell.last_verified_at ? " ✓" : "",
          );
        }
        if (cell.planned)
          return h("td", {
            class: "cell missing",
            text: "missing",
            title: "the config writes it here; no snapshot yet",
          });
        return h("td", { class: "cell none", text: "–" });
      }),
      h(
        "td",
        {},
        badge(row.verdict === "ok" ? "ok" : "at_risk"),
        ` ${row.copies} copies · ${row.media} media · ${row.offsite} offsite`,
        row.problems.length
          ? h(
              "ul",
              { class: "problems" },
              row.problems.map((p) => h("li", { text: p })),
            )
          : null,
      ),
    ),
  );
  root.append(h("table", { class: "matrix" }, h("thead", {}, head), h("tbody", {}, rows)));
}

// ---------- trends ----------

function dataAdded(run) {
  let total = 0;
  let any = false;
  for (const step of run.steps) {
    for (const t of step.targets ?? []) {
      if (typeof t.data_added === "number") {
        total += t.data_added;
        any = true;
      }
    }
  }
  return any ? total : null;
}

function barChart(values, { width = 320, height = 70, format, classOf, titleOf }) {
  const max = Math.max(1, ...values.map((v) => v.value ?? 0));
  const n = Math.max(values.length, 1);
  const gap = 2;
  const barW = Math.max(2, (width - 30 - gap * n) / n);
  const svg = s("svg", { width, height: height + 14, viewBox: `0 0 ${width} ${height + 14}`, role: "img" });
  svg.append(s("line", { class: "axis", x1: 30, y1: height, x2: width, y2: height }));
  const top = s("text", { x: 0, y: 9 });
  top.textContent = format(max);
  svg.append(top);
  values.forEach((v, i) => {
    const value = v.value ?? 0;
    const hgt = v.value === null ? 0 : Math.max(1, (value / max) * (height - 12));
    const rect = s("rect", {
      x: 30 + i * (barW + gap),
      y: height - hgt,
      width: barW,
      height: hgt,
      class: classOf(v),
    });
    rect.append(svgTitle(titleOf(v)));
    svg.append(rect);
  });
  return svg;
}

async function renderTrends() {
  const root = $("trends");
  $("trend-n").textContent = String(TREND_RUNS);
  const jobs = state.status?.jobs ?? [];
  const charts = await Promise.all(
    jobs.map(async (job) => {
      const { runs } = await api(`/api/runs?job=${encodeURIComponent(job.name)}&limit=${TREND_RUNS}`);
      const ordered = runs.filter((r) => r.status !== "running").reverse();
      const points = ordered.map((r) => ({ run: r, value: r.duration_ms }));
      const data = ordered.map((r) => ({ run: r, value: dataAdded(r) }));
      const hasData = data.some((d) => d.value !== null);
      return h(
        "div",
        { class: "trend" },
        h("h3", { text: job.name }),
        ordered.length === 0
          ? h("p", { class: "muted", text: "no finished runs yet" })
          : [
              h("div", { class: "label", text: "duration" }),
              barChart(points, {
                format: fmtDuration,
                classOf: (v) => `bar-${v.run.status}`,
                titleOf: (v) => `${fmtTime(v.run.started_at)} · ${v.run.status} · ${fmtDuration(v.value)}`,
              }),
              hasData ? h("div", { class: "label", text: "data added" }) : null,
              hasData
                ? barChart(data, {
                    format: fmtBytes,
                    classOf: () => "bar-data",
                    titleOf: (v) => `${fmtTime(v.run.started_at)} · ${fmtBytes(v.value)} added`,
                  })
                : null,
            ],
      );
    }),
  );
  root.replaceChildren(...charts);
}

// ---------- history ----------

function historyQuery(before) {
  const params = new URLSearchParams({ limit: $("history-limit").value });
  if ($("history-job").value) params.set("job", $("history-job").value);
  if (before) params.set("before", before);
  return `/api/runs?${params.toString()}`;
}

async function loadHistory(append = false) {
  const page = await api(historyQuery(append ? state.historyBefore : null));
  // Once older pages are shown, the periodic refresh leaves the list alone until the filter changes.
  state.paged = append;
  state.runs = append ? [...state.runs, ...page.runs] : page.runs;
  state.historyBefore = page.next_before;
  $("history-more").disabled = !page.next_before;
  renderHistory();
}

function renderHistory() {
  const root = $("history");
  if (state.runs.length === 0) {
    root.replaceChildren(h("p", { class: "muted", text: "No runs yet." }));
    return;
  }
  const rows = state.runs.map((run) =>
    h(
      "tr",
      {
        class: `clickable${state.selectedRun?.id === run.id ? " selected" : ""}`,
        onclick: () => openRun(run.id),
      },
      h("td", { class: "mono", title: run.id, text: run.id.slice(-10) }),
      h("td", { text: run.job }),
      h("td", {}, badge(run.status)),
      h("td", { text: run.trigger }),
      h("td", { title: run.started_at, text: fmtTime(run.started_at) }),
      h("td", { class: "num", text: fmtDuration(run.duration_ms) }),
      h(
        "td",
        {},
        run.steps.map((st) =>
          h("span", {
            class: `chip s-${st.status}`,
            title: `${st.name}: ${st.status} ${fmtDuration(st.duration_ms)}`,
          }),
        ),
      ),
    ),
  );
  root.replaceChildren(
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["run", "job", "status", "trigger", "started", "duration", "steps"].map((t) =>
            h("th", { text: t }),
          ),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

// ---------- one run ----------

function timeline(run) {
  const start = Date.parse(run.started_at);
  const ends = run.steps
    .filter((st) => st.started_at)
    .map((st) => Date.parse(st.started_at) + (st.duration_ms ?? Date.now() - Date.parse(st.started_at)));
  const end = Math.max(run.finished_at ? Date.parse(run.finished_at) : Date.now(), ...ends, start + 1);
  const span = end - start;
  const width = 760;
  const labelW = 150;
  const rowH = 20;
  const height = run.steps.length * rowH + 20;
  const svg = s("svg", { class: "timeline", width: "100%", viewBox: `0 0 ${width} ${height}`, role: "img" });
  run.steps.forEach((st, i) => {
    const y = i * rowH + 4;
    const label = s("text", { class: "step", x: 0, y: y + 12 });
    label.textContent = st.name;
    svg.append(label);
    if (!st.started_at) return;
    const s0 = Date.parse(st.started_at) - start;
    const dur = st.duration_ms ?? Date.now() - Date.parse(st.started_at);
    const x = labelW + (s0 / span) * (width - labelW - 70);
    const w = Math.max(2, (dur / span) * (width - labelW - 70));
    const rect = s("rect", { x, y, width: w, height: rowH - 6, rx: 2, class: `bar-${st.status}` });
    rect.append(
      svgTitle(`${st.name} (${st.type}): ${st.status}, ${fmtDuration(dur)}, started +${fmtDuration(s0)}`),
    );
    svg.append(rect);
    const d = s("text", { x: x + w + 4, y: y + 12 });
    d.textContent = fmtDuration(dur);
    svg.append(d);
  });
  const axisY = run.steps.length * rowH + 8;
  svg.append(s("line", { class: "axis", x1: labelW, y1: axisY, x2: width - 70, y2: axisY }));
  const total = s("text", { x: width - 66, y: axisY + 4 });
  total.textContent = fmtDuration(span);
  svg.append(total);
  return svg;
}

function targetFigures(t) {
  const skip = new Set(["repo", "status", "error", "duration_ms", "snapshot_id"]);
  return Object.entries(t)
    .filter(([k, v]) => !skip.has(k) && v !== null && v !== undefined && typeof v !== "object")
    .map(
      ([k, v]) =>
        `${k}=${typeof v === "number" && (k.includes("bytes") || k === "data_added") ? fmtBytes(v) : v}`,
    )
    .join(" ");
}

async function openRun(id) {
  const run = await api(`/api/runs/${encodeURIComponent(id)}`);
  state.selectedRun = run;
  renderHistory();
  $("run").hidden = false;
  $("run-title").textContent = `${run.id} · ${run.job}`;
  const logView = h("pre", { class: "log", hidden: true });
  const showLog = async (step) => {
    logView.hidden = false;
    logView.textContent = "loading…";
    try {
      const params = step ? `?step=${encodeURIComponent(step)}` : "";
      logView.textContent = await api(`/api/runs/${encodeURIComponent(run.id)}/logs${params}`, {
        text: true,
      });
    } catch (err) {
      logView.textContent = `cannot load the log: ${err.message}`;
    }
  };
  const stepRows = run.steps.map((st) =>
    h(
      "tr",
      {},
      h("td", { text: String(st.index + 1) }),
      h("td", {}, h("strong", { text: st.name }), h("div", { class: "muted small", text: st.type })),
      h("td", {}, badge(st.status)),
      h("td", { class: "num", text: fmtDuration(st.duration_ms) }),
      h("td", { class: "num", text: st.exit_code ?? "–" }),
      h("td", { class: "num", text: String(st.attempts) }),
      h(
        "td",
        {},
        st.error
          ? h(
              "div",
              { class: "error" },
              `${st.error.kind}: ${st.error.message}`,
              st.error.hint ? h("div", { class: "muted", text: `hint: ${st.error.hint}` }) : null,
            )
          : null,
        (st.targets ?? []).map((t) =>
          h(
            "div",
            { class: "small" },
            h("strong", { text: t.repo }),
            " ",
            badge(t.status),
            " ",
            t.snapshot_id
              ? h("span", { class: "mono", text: `${String(t.snapshot_id).slice(0, 8)} ` })
              : null,
            targetFigures(t),
            t.error ? h("div", { class: "error", text: `${t.error.kind}: ${t.error.message}` }) : null,
          ),
        ),
        st.summary
          ? h(
              "div",
              { class: "small muted" },
              Object.entries(st.summary)
                .filter(([, v]) => typeof v !== "object")
                .map(([k, v]) => `${k}=${v}`)
                .join(" "),
            )
          : null,
      ),
      h("td", {}, h("button", { type: "button", text: "log", onclick: () => showLog(st.name) })),
    ),
  );
  $("run-body").replaceChildren(
    h(
      "p",
      {},
      badge(run.status),
      ` exit ${run.exit_code ?? "–"} · ${run.trigger} on ${run.host} · started ${fmtTime(run.started_at)} · ${fmtDuration(run.duration_ms)}`,
    ),
    // replaceChildren would print a null as the text "null": an empty text instead.
    run.error ? h("p", { class: "error", text: `${run.error.kind}: ${run.error.message}` }) : "",
    timeline(run),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["#", "step", "status", "duration", "exit", "tries", "details", ""].map((t) =>
            h("th", { text: t }),
          ),
        ),
      ),
      h("tbody", {}, stepRows),
    ),
    h("p", {}, h("button", { type: "button", text: "whole log", onclick: () => showLog(null) })),
    logView,
  );
}

// ---------- snapshots and restore ----------

function setupSnapshotsAndRestore(config) {
  const caps = state.info?.capabilities ?? {};
  $("snapshots").hidden = !caps.snapshots;
  $("restore").hidden = !caps.restore;
  const repos = Object.keys(config.repositories ?? {});
  const sources = Object.keys(config.sources ?? {});
  const options = (names) => names.map((name) => h("option", { value: name, text: name }));
  $("snapshots-repo").replaceChildren(...options(repos));
  $("snapshots-source").replaceChildren(h("option", { value: "", text: "all" }), ...options(sources));
  $("restore-repo").replaceChildren(...options(repos));
  $("restore-source").replaceChildren(h("option", { value: "", text: "(only one)" }), ...options(sources));
  if (caps.restore) $("restore-root").textContent = state.info.restore_root;
}

async function listSnapshots(event) {
  event.preventDefault();
  const root = $("snapshots-list");
  root.replaceChildren(h("p", { class: "muted", text: "asking restic…" }));
  const params = new URLSearchParams({ repo: $("snapshots-repo").value });
  if ($("snapshots-source").value) params.set("source", $("snapshots-source").value);
  try {
    const { repositories } = await api(`/api/snapshots?${params.toString()}`);
    root.replaceChildren(
      ...repositories.map((repo) => {
        if (repo.error)
          return h("p", { class: "error", text: `${repo.name}: ${repo.error.kind}: ${repo.error.message}` });
        if (repo.snapshots.length === 0)
          return h("p", { class: "muted", text: `${repo.name}: no snapshots` });
        const rows = [...repo.snapshots].reverse().map((snap) =>
          h(
            "tr",
            {},
            h("td", { class: "mono", title: snap.id, text: snap.short_id }),
            h("td", { title: snap.time, text: fmtTime(snap.time) }),
            h("td", { text: snap.hostname }),
            h("td", { text: snap.source ?? "–" }),
            h("td", { text: snap.job ?? "–" }),
            h("td", { class: "mono", text: snap.paths.join(" ") }),
            h(
              "td",
              {},
              state.info?.capabilities?.restore
                ? h("button", {
                    type: "button",
                    text: "restore…",
                    onclick: () => {
                      $("restore-repo").value = repo.name;
                      $("restore-snapshot").value = snap.id;
                      $("restore-source").value = snap.source ?? "";
                      $("restore-target").focus();
                    },
                  })
                : null,
            ),
          ),
        );
        return h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["id", "time", "host", "source", "job", "paths", ""].map((t) => h("th", { text: t })),
            ),
          ),
          h("tbody", {}, rows),
        );
      }),
    );
  } catch (err) {
    root.replaceChildren(
      h("p", { class: "error", text: `${err.message}${err.hint ? ` — ${err.hint}` : ""}` }),
    );
  }
}

async function submitRestore(event) {
  event.preventDefault();
  const out = $("restore-result");
  out.hidden = false;
  out.textContent = "starting…";
  const include = $("restore-include")
    .value.split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const body = { repo: $("restore-repo").value, target: $("restore-target").value.trim() };
  const snapshot = $("restore-snapshot").value.trim();
  if (snapshot) body.snapshot = snapshot;
  if ($("restore-source").value) body.source = $("restore-source").value;
  if (include.length) body.include = include;
  try {
    const result = await api("/api/restore", { method: "POST", body });
    out.textContent = `restore ${result.state} (pid ${result.pid}) into ${result.target}${result.output ? `\n${result.output}` : ""}`;
  } catch (err) {
    out.textContent = `${err.message}${err.hint ? `\nhint: ${err.hint}` : ""}`;
  }
}

// ---------- refresh loop ----------

async function refresh() {
  try {
    if (!state.info) {
      state.info = await api("/api/info");
      $("host").textContent = `${state.info.host} · v${state.info.version}`;
      setupSnapshotsAndRestore(await api("/api/config"));
    }
    state.status = await api("/api/status");
    const jobSelect = $("history-job");
    if (jobSelect.options.length === 1) {
      for (const job of state.status.jobs) jobSelect.append(h("option", { value: job.name, text: job.name }));
    }
    renderJobs();
    renderRedundancy(await api("/api/redundancy"));
    if (!state.paged) await loadHistory();
    await renderTrends();
    if (state.selectedRun && state.selectedRun.status === "running") await openRun(state.selectedRun.id);
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    if ($("message").textContent.startsWith("Cannot reach")) showMessage("");
    $("auth").hidden = true;
  } catch (err) {
    if (err.status === 401) {
      showMessage("This server needs its API token.");
      $("auth").hidden = false;
    } else {
      showMessage(`Cannot reach the holdfast API: ${err.message}`);
    }
  }
}

function schedule() {
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if (!document.hidden) void refresh();
  }, REFRESH_MS);
}

function init() {
  $("refresh").addEventListener("click", () => void refresh());
  $("history-job").addEventListener("change", () => void loadHistory());
  $("history-limit").addEventListener("change", () => void loadHistory());
  $("history-more").addEventListener("click", () => void loadHistory(true));
  $("restore-form").addEventListener("submit", (e) => void submitRestore(e));
  $("snapshots-form").addEventListener("submit", (e) => void listSnapshots(e));
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token-input").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    state.info = null;
    void refresh();
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showMessage("Token forgotten for this tab.", true);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) void refresh();
  });
  void refresh();
  schedule();
}

init();
