// Budgets of issue 15 measured in a real browser (Debian's Chromium through playwright-core) against a
// real `holdfast serve` (the built CLI) over a SQLite history of 100,000 runs of 10 jobs × 10 steps
// (bench/p7-history.mjs's seed):
//   - home to interactive ≤ 300 ms: from navigation start until every job card and the 3-2-1 matrix
//     are rendered (first load with an empty cache, then the median of warm loads);
//   - an idle tab ≤ 20 KB/min: every byte the browser received (headers and bodies, on the wire, from
//     the DevTools protocol) over 60 s on the home page doing nothing — once with the event stream
//     (the default), once with /api/events blocked so the tab polls (as behind a proxy that buffers).
//   - opening a directory of 10,000 entries in a cached snapshot ≤ 200 ms: a real restic repository
//     (restic on PATH) with a snapshot of a folder of 10,000 small files, served by a second
//     `holdfast serve`; the folder is opened once (restic ls fills the server's cache by snapshot id),
//     then, each time on a freshly loaded page of its parent folder (so the page's own cache is empty),
//     from the click on the folder's link until its listing is rendered and painted; median of 7. The
//     same click in a tab that listed it before (the page's cache) is reported beside it.
// Also: the API answers home makes, raw vs compressed, and server time per call.
//   npm run build && node bench/dashboard-browser.mjs        (prints one JSON object; exit 1 over budget)
//   HOLDFAST_BENCH_DASH_RUNS=N   seed N runs instead of 100,000; HOLDFAST_BENCH_IDLE_S=S  idle window
//   HOLDFAST_BENCH_DIR_ENTRIES=N entries of the big folder (10,000); HOLDFAST_BENCH_ONLY=home|browse
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { BENCH_JOBS, BENCH_STEPS, seedHistory } from "./p7-history.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.HOLDFAST_BENCH_DASH_RUNS ?? 100_000);
const IDLE_S = Number(process.env.HOLDFAST_BENCH_IDLE_S ?? 60);
const HOME_BUDGET_MS = 300;
const IDLE_BUDGET_KB_MIN = 20;
const WARM_LOADS = 7;
const ONLY = process.env.HOLDFAST_BENCH_ONLY ?? "";
const DIR_ENTRIES = Number(process.env.HOLDFAST_BENCH_DIR_ENTRIES ?? 10_000);
const DIR_BUDGET_MS = 200;
const DIR_OPENS = 7;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

if (
  !fs.existsSync(path.join(root, "dist/cli/main.js")) ||
  !fs.existsSync(path.join(root, "web/dist/index.html"))
) {
  console.error("bench/dashboard-browser: run `npm run build` first");
  process.exit(2);
}

/** Starts the built CLI's `holdfast serve` on a free port of 127.0.0.1. */
async function startServe(configFile) {
  const child = spawn(
    process.execPath,
    [path.join(root, "dist/cli/main.js"), "--config", configFile, "serve", "--listen", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const base = await new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (d) => {
      seen += d;
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${seen}`)));
  });
  return { child, base };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-bench-dash-"));
const state = path.join(dir, "state");
fs.mkdirSync(state, { recursive: true });
const configFile = path.join(dir, "holdfast.yaml");
fs.writeFileSync(
  configFile,
  [
    "version: 1",
    `state_dir: ${state}`,
    "host: vm",
    "jobs:",
    ...BENCH_JOBS.flatMap((job) => [
      `  ${job}:`,
      "    max_age: 2d",
      "    steps:",
      ...BENCH_STEPS.map((s) => `      - { name: ${s.name}, type: exec, command: ["true"] }`),
    ]),
    "",
  ].join("\n"),
);
const seed = ONLY === "browse" ? null : await seedHistory(path.join(state, "history.db"), RUNS);
const servers = [];
let base = null;
if (ONLY !== "browse") {
  const served = await startServe(configFile);
  servers.push(served.child);
  base = served.base;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

/** Byte counter of a page from the DevTools protocol: what arrived on the wire, headers included. */
async function meter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const byRequest = new Map();
  let counting = false;
  const requests = [];
  cdp.on("Network.requestWillBeSent", (e) => {
    if (counting) requests.push(new URL(e.request.url).pathname);
  });
  cdp.on("Network.responseReceived", (e) => {
    if (counting)
      byRequest.set(e.requestId, (byRequest.get(e.requestId) ?? 0) + (e.response.encodedDataLength ?? 0));
  });
  cdp.on("Network.dataReceived", (e) => {
    if (counting) byRequest.set(e.requestId, (byRequest.get(e.requestId) ?? 0) + e.encodedDataLength);
  });
  return {
    start() {
      counting = true;
    },
    stop() {
      counting = false;
      return { bytes: [...byRequest.values()].reduce((a, b) => a + b, 0), requests };
    },
  };
}

const HOME_READY = `document.querySelectorAll("ul.board > li.card").length === ${BENCH_JOBS.length} && document.querySelector("#matrix-h") !== null && !document.querySelector("main .loading")`;

async function homeLoad(page) {
  await page.goto(`${base}/`, { waitUntil: "commit" });
  // Polled from outside the page (the CSP refuses eval): the moment is taken inside, in ms since
  // navigation start.
  for (;;) {
    const t = await page.evaluate(`(${HOME_READY}) ? performance.now() : null`).catch(() => null);
    if (t !== null) return t;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const out = {
  runs: ONLY === "browse" ? null : RUNS,
  seed,
  load_average_at_start: os.loadavg().map((x) => round(x, 2)),
  cpus: os.cpus().length,
};
try {
  if (ONLY !== "browse") await benchHome();
  if (ONLY !== "home") out.directory = await benchDirectory();
} finally {
  await browser.close();
  for (const child of servers) child.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
}

async function benchHome() {
  // --- home to interactive
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const cold = await homeLoad(page);
    const warm = [];
    for (let i = 0; i < WARM_LOADS; i++) warm.push(await homeLoad(page));
    // The same moment measured the other way: a rAF after the last card is painted, from the page's
    // own Navigation Timing (domContentLoaded), to see how much of it is the page itself.
    const nav = await page.evaluate(
      `(() => { const n = performance.getEntriesByType("navigation")[0]; return { dom_content_loaded_ms: n.domContentLoadedEventEnd, transfer_size: n.transferSize }; })()`,
    );
    out.home = {
      // The budget is judged on warm loads (assets cached, as for anyone who opened it before); the
      // first load is reported beside it — on a shared machine it is mostly Chromium starting up.
      cold_ms: round(cold),
      warm_median_ms: round(median(warm)),
      warm_ms: warm.map((x) => round(x)),
      ...nav,
      budget_ms: HOME_BUDGET_MS,
      met: median(warm) <= HOME_BUDGET_MS,
    };
    await context.close();
  }

  // --- the API calls home makes: size raw / br, and time
  {
    const calls = {};
    for (const url of ["/api/info", "/api/status", "/api/redundancy", "/api/runs?limit=50"]) {
      const times = [];
      let raw = 0;
      let br = 0;
      for (let i = 0; i < 9; i++) {
        const t0 = performance.now();
        const res = await fetch(`${base}${url}`, { headers: { "Accept-Encoding": "identity" } });
        raw = (await res.arrayBuffer()).byteLength;
        times.push(performance.now() - t0);
      }
      const { request } = await import("node:http");
      br = await new Promise((resolve, reject) => {
        const req = request(`${base}${url}`, { headers: { "Accept-Encoding": "br" } }, (res) => {
          let n = 0;
          res.on("data", (d) => (n += d.length));
          res.on("end", () => resolve(n));
        });
        req.on("error", reject);
        req.end();
      });
      calls[url] = { raw_bytes: raw, br_bytes: br, median_ms: round(median(times)) };
    }
    out.api = calls;
  }

  // --- idle tab, with the event stream and polling, side by side (separate contexts: no sharing)
  {
    const measure = async (mode) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (mode === "polling") await page.route("**/api/events", (r) => r.abort());
      const m = await meter(page);
      await homeLoad(page);
      await page.waitForTimeout(5_000); // settle: the stream is up, the first poll done
      m.start();
      await page.waitForTimeout(IDLE_S * 1000);
      const { bytes, requests } = m.stop();
      const liveMode = await page.evaluate(
        `document.querySelector("[data-live]")?.getAttribute("data-live")`,
      );
      await context.close();
      const kbMin = bytes / 1024 / (IDLE_S / 60);
      return {
        live_mode: liveMode,
        bytes,
        seconds: IDLE_S,
        kb_per_min: round(kbMin, 2),
        requests: requests.length,
        request_paths: [...new Set(requests)],
        budget_kb_per_min: IDLE_BUDGET_KB_MIN,
        met: kbMin <= IDLE_BUDGET_KB_MIN,
      };
    };
    const [events, polling] = await Promise.all([measure("events"), measure("polling")]);
    out.idle = { events, polling };
  }
}

/** The restic on PATH, with the repository's password file; throws with restic's stderr on failure. */
function restic(repo, pass, args, cwd) {
  const r = spawnSync("restic", ["-r", repo, "--password-file", pass, ...args], {
    encoding: "utf8",
    cwd,
    env: { ...process.env, RESTIC_CACHE_DIR: path.join(dir, "restic-cache") },
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`restic ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// In the page: from the click on the folder's link until the listing of `total` entries is in the
// DOM, and until the frame after it was painted (a requestAnimationFrame, then a task).
function armClickTimer(total) {
  return `(() => {
  window.__bench = { clicked: null, dom: null, painted: null, rows: null };
  document.addEventListener("click", () => { window.__bench.clicked = performance.now(); }, { capture: true, once: true });
  const ready = () => {
    const t = document.querySelector("table.entries");
    return t !== null && t.dataset.total === "${total}" && t.querySelector("tbody tr th.name") !== null
      && !document.querySelector("main .loading");
  };
  const obs = new MutationObserver(() => {
    if (window.__bench.clicked === null || window.__bench.dom !== null || !ready()) return;
    window.__bench.dom = performance.now();
    window.__bench.rows = document.querySelectorAll("table.entries tbody tr").length;
    obs.disconnect();
    requestAnimationFrame(() => setTimeout(() => { window.__bench.painted = performance.now(); }, 0));
  });
  obs.observe(document.body, { childList: true, subtree: true, attributes: true });
})()`;
}

async function benchDirectory() {
  const work = path.join(dir, "browse");
  const src = path.join(work, "src");
  const many = path.join(src, "many");
  fs.mkdirSync(many, { recursive: true });
  const t0 = performance.now();
  for (let i = 0; i < DIR_ENTRIES; i++)
    fs.writeFileSync(path.join(many, `f${String(i).padStart(5, "0")}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(src, "README.txt"), "the folder beside it has many files\n");
  const made_ms = performance.now() - t0;
  const repo = path.join(work, "repo");
  const pass = path.join(work, "repo.pass");
  fs.writeFileSync(pass, "bench-dir-pw-5e1f\n", { mode: 0o600 });
  restic(repo, pass, ["init"]);
  const t1 = performance.now();
  restic(repo, pass, ["backup", "--quiet", src]);
  const backup_ms = performance.now() - t1;
  const snaps = JSON.parse(restic(repo, pass, ["snapshots", "--json"]));
  const snapshot = snaps[0].id;
  const browseState = path.join(work, "state");
  fs.mkdirSync(browseState, { recursive: true });
  const config = path.join(work, "holdfast.yaml");
  fs.writeFileSync(
    config,
    [
      "version: 1",
      `state_dir: ${browseState}`,
      "host: vm",
      "repositories:",
      `  big: { url: ${repo}, password_file: ${pass} }`,
      "sources:",
      `  many: { paths: [${src}] }`,
      "jobs:",
      "  many:",
      "    steps:",
      "      - { name: files, type: backup, source: many, repos: [big] }",
      "",
    ].join("\n"),
  );
  const served = await startServe(config);
  servers.push(served.child);
  const snapUrl = (p) => `${served.base}/repos/big/snapshots/${snapshot}?path=${encodeURIComponent(p)}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  // Polled from outside with page.evaluate (waitForFunction's string form is eval, which the CSP refuses).
  const until = async (expression, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await page.evaluate(expression).catch(() => null);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const waitReady = (total) =>
    until(
      `(() => { const t = document.querySelector("table.entries"); return t !== null && t.dataset.total === "${total}" && !document.querySelector("main .loading"); })()`,
      180_000,
    );
  // The first open: restic ls (not cached yet), then the server keeps it by the snapshot's id.
  const tFirst = performance.now();
  await page.goto(snapUrl(many));
  await waitReady(DIR_ENTRIES);
  const first_open_ms = performance.now() - tFirst;
  const linkName = "folder many";
  const clickOnce = async () => {
    await page.evaluate(armClickTimer(DIR_ENTRIES));
    await page.getByRole("link", { name: linkName, exact: true }).click();
    await until(`window.__bench.painted !== null`, 60_000);
    return page.evaluate(`window.__bench`);
  };
  // Cached on the server, a fresh page: the parent folder loaded anew each time, then the click.
  const fresh = [];
  let rows = null;
  for (let i = 0; i < DIR_OPENS; i++) {
    await page.goto(snapUrl(src));
    await waitReady(2);
    const b = await clickOnce();
    fresh.push({ dom: b.dom - b.clicked, painted: b.painted - b.clicked });
    rows = b.rows;
  }
  // The same tab again (the page kept the listing too): up, and the click once more.
  const tab = [];
  for (let i = 0; i < DIR_OPENS; i++) {
    await page.getByRole("link", { name: "↑ Up" }).click();
    await waitReady(2);
    const b = await clickOnce();
    tab.push({ dom: b.dom - b.clicked, painted: b.painted - b.clicked });
  }
  // What the listing costs on the wire and on the server, cached.
  const api = `${served.base}/api/repositories/big/snapshots/${snapshot}/ls?path=${encodeURIComponent(many)}`;
  const times = [];
  let raw = 0;
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    const res = await fetch(api, { headers: { "Accept-Encoding": "identity" } });
    raw = (await res.arrayBuffer()).byteLength;
    times.push(performance.now() - t);
  }
  await context.close();
  const median_painted = median(fresh.map((x) => x.painted));
  return {
    entries: DIR_ENTRIES,
    files_made_ms: round(made_ms),
    restic_backup_ms: round(backup_ms),
    first_open_uncached_ms: round(first_open_ms),
    rows_in_dom_when_shown: rows,
    click_to_painted_median_ms: round(median_painted),
    click_to_painted_ms: fresh.map((x) => round(x.painted)),
    click_to_dom_ms: fresh.map((x) => round(x.dom)),
    same_tab_click_to_painted_median_ms: round(median(tab.map((x) => x.painted))),
    same_tab_click_to_painted_ms: tab.map((x) => round(x.painted)),
    ls_api_cached: { raw_bytes: raw, median_ms: round(median(times)) },
    budget_ms: DIR_BUDGET_MS,
    met: median_painted <= DIR_BUDGET_MS,
  };
}

out.load_average_at_end = os.loadavg().map((x) => round(x, 2));
out.met = [out.home, out.idle?.events, out.idle?.polling, out.directory].every((part) => !part || part.met);
const resultsDir = path.join(root, "bench", "results");
fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(
  path.join(resultsDir, `dashboard-browser${ONLY ? `-${ONLY}` : ""}.json`),
  `${JSON.stringify(out, null, 2)}\n`,
);
console.log(JSON.stringify(out, null, 2));
process.exit(out.met ? 0 : 1);
