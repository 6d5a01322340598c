// `npm run bench`: runs every benchmark of targets.md (P1–P7, P1′, P2′) and writes bench/RESULTS.md.
// Each bench/pN-*.mjs prints one JSON object on stdout; this script runs them one after the other
// (never in parallel: they measure ratios against baselines on a shared 2-core machine), keeps the
// raw JSON in bench/results/, and renders a table: what, baseline, figure, target, met.
//   HOLDFAST_BENCH_ONLY=P2,P7,P2prime npm run bench     (a subset; P2′ may be written P2prime)
// A primed id (P1′) lives in bench/p1prime-*.mjs and bench/results/P1prime.json, and sorts after P1.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, "results");
mkdirSync(resultsDir, { recursive: true });

/** "p1prime-own-cost.mjs" → "P1′"; "P2PRIME" or "P2'" → "P2′". */
const idOf = (name) => name.toUpperCase().replace(/(PRIME|'|′)$/, "′");
const scriptId = (file) => idOf(file.slice(0, file.indexOf("-")));
/** P1, P1′, P2, P2′, … */
const order = (id) => Number(id.match(/\d+/)[0]) + (id.endsWith("′") ? 0.5 : 0);
const resultsFile = (id) => `${id.replace("′", "prime")}.json`;
const only = process.env.HOLDFAST_BENCH_ONLY?.split(",").map((s) => idOf(s.trim()));
const scripts = readdirSync(benchDir)
  .filter((f) => /^p\d+(prime)?-.*\.mjs$/.test(f))
  .sort((a, b) => order(scriptId(a)) - order(scriptId(b)))
  .filter((f) => !only || only.includes(scriptId(f)));

const started = Date.now();
const results = [];
// HOLDFAST_BENCH_RENDER_ONLY=1 rewrites RESULTS.md from bench/results/ without running anything.
const renderOnly = process.env.HOLDFAST_BENCH_RENDER_ONLY === "1";
for (const script of renderOnly ? [] : scripts) {
  const id = scriptId(script);
  process.stderr.write(`bench: ${script} …\n`);
  const t0 = Date.now();
  const child = spawnSync(process.execPath, [join(benchDir, script)], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seconds = Math.round((Date.now() - t0) / 1000);
  let parsed = null;
  try {
    parsed = JSON.parse(child.stdout.slice(child.stdout.indexOf("{")));
  } catch {
    parsed = null;
  }
  if (child.status !== 0 || parsed === null) {
    results.push({ id, script, seconds, error: `exit ${child.status}; output: ${child.stdout.slice(-400)}` });
    process.stderr.write(`bench: ${script} failed (exit ${child.status})\n`);
    continue;
  }
  writeFileSync(join(resultsDir, resultsFile(id)), `${JSON.stringify(parsed, null, 2)}\n`);
  results.push({ id, script, seconds, data: parsed });
  process.stderr.write(`bench: ${script} done in ${seconds}s\n`);
}

// Keep earlier results for benchmarks not run this time (HOLDFAST_BENCH_ONLY), so the table stays whole.
for (const file of readdirSync(resultsDir).filter((f) => /^P\d+(prime)?\.json$/.test(f))) {
  const id = idOf(file.replace(".json", ""));
  if (results.some((r) => r.id === id)) continue;
  const data = JSON.parse(readFileSync(join(resultsDir, file), "utf8"));
  results.push({ id, script: "(earlier run)", seconds: null, data, earlier: !renderOnly });
}
results.sort((a, b) => order(a.id) - order(b.id));

const restic = spawnSync("restic", ["version"], { encoding: "utf8" }).stdout?.trim() ?? "restic not found";
const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const lines = [
  "# Benchmark results",
  "",
  `Written by \`npm run bench\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 10)}.`,
  `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()};`,
  `Node ${process.version}; ${restic}. Total time: ${Math.round((Date.now() - started) / 1000)} s.`,
  "",
  "Every timing is a ratio or difference against a baseline measured in the same run (medians; min–max in",
  "brackets), because this machine is shared and noisy. Raw figures: `bench/results/PN.json` (P1′: `P1prime.json`).",
  "",
  "| id | what | baseline (same run) | figure | target | met |",
  "|---|---|---|---|---|---|",
];
for (const r of results) lines.push(...renderRows(r));
lines.push("", "Rerun one: `npm run build && node bench/pN-….mjs`; all: `npm run bench`.", "");
// What was written by hand below the marker (analyses, decisions taken from the figures) is kept.
const NOTES_MARK = "<!-- notes: written by hand, kept by bench/run.mjs -->";
let previous = "";
try {
  previous = readFileSync(join(benchDir, "RESULTS.md"), "utf8");
} catch {
  previous = "";
}
if (previous.includes(NOTES_MARK)) lines.push(previous.slice(previous.indexOf(NOTES_MARK)));
writeFileSync(join(benchDir, "RESULTS.md"), lines.join("\n"));
process.stderr.write(`bench: wrote bench/RESULTS.md (${results.length} benchmarks)\n`);

function renderRows(r) {
  const note = r.earlier ? " (earlier run)" : "";
  if (r.error)
    return [
      `| ${r.id} | ${r.script} | – | failed: ${r.error.replace(/\|/g, "\\|").replace(/\n/g, " ")} | – | **no** |`,
    ];
  const d = r.data;
  const mark = (met) => (met ? "yes" : "**no**");
  const rows = [];
  const results = d.results && typeof d.results === "object" ? d.results : null;
  // Shapes: {cases: [...]}, {full, nightly_incremental}, {results: {name: {…}}}, or one flat figure.
  if (Array.isArray(d.cases)) {
    for (const c of d.cases) {
      const name = `${d.what} — ${c.case}${c.pinned && c.pinned !== "no" ? `, pinned: ${c.pinned}` : ""}`;
      rows.push(renderFigure(r.id, name, { ...c, command: d.command, baseline: d.baseline }, d, note, mark));
    }
  } else if (d.full && d.nightly_incremental) {
    rows.push(
      renderFigure(r.id, `${d.what} (full)`, { ...d.full, met: d.met, command: d.command }, d, note, mark),
    );
    rows.push(
      renderFigure(
        r.id,
        "the same, nightly incremental (a tenth changed)",
        { ...d.nightly_incremental, command: d.command },
        d,
        note,
        mark,
      ),
    );
  } else if (d.id === "P3") {
    rows.push(
      renderFigure(
        r.id,
        d.what,
        {
          what: d.what,
          command: d.command,
          baseline: d.baseline,
          figure: `${Math.round(d.lines_per_second_median / 1000)}k lines/s (${Math.round(d.lines_per_cpu_second_median / 1000)}k per CPU-second); peak RSS ${d.peak_rss_mb_verbose_20mb_median} MB with 20 MB of -v output`,
          target: d.target,
          met: d.met,
        },
        d,
        note,
        mark,
      ),
    );
  } else if (results && !Array.isArray(results)) {
    for (const [name, f] of Object.entries(results)) rows.push(renderFigure(r.id, name, f, d, note, mark));
  } else if (Array.isArray(results)) {
    for (const f of results) rows.push(renderFigure(r.id, f.name ?? f.what ?? "", f, d, note, mark));
  } else {
    rows.push(renderFigure(r.id, d.what ?? "", d, d, note, mark));
  }
  return rows;
}

function renderFigure(id, name, f, parent, note, mark) {
  const range = (s) =>
    s && typeof s === "object" && "median" in s ? `${s.median} [${s.min}–${s.max}]` : String(s ?? "–");
  let baseline = f.baseline_command ?? f.baseline ?? parent.baseline_command ?? parent.baseline ?? "–";
  if (typeof baseline === "object") baseline = JSON.stringify(baseline);
  let figure;
  let target;
  let met = f.met ?? f.pass ?? parent.met ?? parent.pass;
  if (f.figure) {
    figure = f.figure;
    target = String(f.target ?? "–");
  } else if (f.delta_ms) {
    figure = `+${range(f.delta_ms)} ms (${range(f.holdfast_ms)} vs ${range(f.baseline_ms)} ms)`;
    target = `≤ +${f.target_delta_ms} ms`;
  } else if (f.ratio_median !== undefined) {
    figure = `${f.ratio_median}× [${f.ratio_min}–${f.ratio_max}]`;
    target = String(f.target ?? parent.target ?? "–");
  } else if (f.median_ms !== undefined) {
    figure = `${f.median_ms} ms [${f.min_ms}–${f.max_ms}]`;
    target = parent.target_ms !== undefined ? `≤ ${parent.target_ms} ms` : String(parent.target ?? "–");
    if (met === undefined || f.met === undefined)
      met = parent.target_ms !== undefined ? f.median_ms <= parent.target_ms : met;
  } else {
    figure = Object.entries(f)
      .filter(([, v]) => typeof v === "number" || typeof v === "string")
      .slice(0, 6)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    target = String(f.target ?? parent.target ?? "–");
  }
  const what =
    [f.what ?? name, f.command ?? parent.command].filter(Boolean).join(" — `") +
    ((f.command ?? parent.command) ? "`" : "");
  return `| ${id}${note} | ${esc(what)} | ${esc(String(baseline))} | ${esc(figure)} | ${esc(target)} | ${met === undefined ? "–" : mark(met)} |`;
}

function esc(s) {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
