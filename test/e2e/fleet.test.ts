// The fleet hub's dashboard in a real browser (issue 18 item 4: "every existing view filtered by
// host"): Debian's Chromium driven by playwright-core against the built CLI's `serve --store
// postgres` over a private PostgreSQL 15, fed by two hosts (own state dirs and ids) that ran jobs
// and replicated. From the fleet grid, the host picker opens one host: its jobs and only its runs;
// its job's history and a run are the dashboard's own job and run views filtered by host. No
// horizontal scroll at phone width; screenshots of each view at desktop and phone width (written to
// test/e2e/screenshots/, or HOLDFAST_SCREENSHOTS).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, startCli } from "../helpers/cli.js";
import { makeFleetHosts, startFleetDatabase, type FleetTestHost } from "../helpers/fleet.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import type { PostgresServer } from "../helpers/postgres.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
const SHOTS = process.env.HOLDFAST_SCREENSHOTS ?? path.join(REPO_ROOT, "test", "e2e", "screenshots");
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = "e2e-fleet-owner-pw-58";

let db: { server: PostgresServer; url: string };
let root: string;
let hosts: FleetTestHost[];
let server: { child: ChildProcess; base: string };
let context: BrowserContext;
let page: Page;
let userDataDir: string;

async function serveHub(configFile: string): Promise<{ child: ChildProcess; base: string }> {
  const child = startCli(["--config", configFile, "serve", "--listen", "127.0.0.1:0", "--store", "postgres"]);
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(`serve: ${d.toString()}`));
  let seen = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within 20 s: ${seen}`)), 20_000);
    child.stdout?.on("data", (d: Buffer) => {
      seen += d.toString();
      const match = /http:\/\/\S+?:(\d+)\//.exec(seen);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${seen}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

/** The page's globals inside page functions (this file compiles without the DOM types). */
type InPage = { document: { querySelector(s: string): unknown } };

async function loaded(): Promise<void> {
  await page.waitForSelector("main h1");
  await page.waitForFunction(
    () => !(globalThis as unknown as InPage).document.querySelector("main [aria-busy=true], main .loading"),
    null,
    { timeout: 15_000 },
  );
}

async function shot(name: string): Promise<void> {
  for (const [label, size] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
    if (label === "phone") {
      const width = await page.evaluate<number>("document.documentElement.scrollWidth");
      expect(width, `${page.url()} is ${width}px wide at 390px`).toBeLessThanOrEqual(PHONE.width);
    }
  }
  await page.setViewportSize(DESKTOP);
}

describe.skipIf(!hasChromium)("the fleet hub's dashboard in Chromium", () => {
  beforeAll(async () => {
    db = await startFleetDatabase("fleet_owner", PASSWORD);
    root = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-e2e-fleet-"));
    hosts = await makeFleetHosts(root, db.url, 2, (i) =>
      i === 0
        ? {
            jobs: {
              nightly: {
                schedule: "*-*-* 03:00:00",
                max_age: "2d",
                steps: [
                  { name: "hello", type: "exec", command: ["echo", "nightly of host-0"] },
                  { name: "bye", type: "exec", command: ["true"] },
                ],
              },
            },
          }
        : {
            jobs: {
              "db-dump": {
                schedule: "*-*-* 04:00:00",
                steps: [{ name: "dump", type: "exec", command: ["false"] }],
              },
            },
          },
    );
    for (let k = 0; k < 2; k++) expectExit(await hosts[0]!.cfg.run(["run", "nightly", "-q"]), 0);
    expectExit(await hosts[1]!.cfg.run(["run", "db-dump", "-q"]), 1);
    const hubDir = path.join(root, "hub");
    fs.mkdirSync(hubDir);
    const urlFile = path.join(hubDir, "fleet.url");
    fs.writeFileSync(urlFile, `${db.url}\n`, { mode: 0o600 });
    const hub = writeTestConfig(hubDir, { host: "hub", fleet: { url_file: urlFile }, jobs: {} });
    server = await serveHub(hub.file);

    fs.mkdirSync(SHOTS, { recursive: true });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: DESKTOP,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => {
      throw err;
    });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    if (server && server.child.exitCode === null) {
      const exited = new Promise((r) => server.child.once("exit", r));
      server.child.kill("SIGTERM");
      await exited;
    }
    await db?.server.stop();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("from the grid, picks a host and sees only its jobs and runs; its job and run views are host-scoped", async () => {
    const [a, b] = hosts as [FleetTestHost, FleetTestHost];
    await page.goto(`${server.base}/fleet`);
    await page.waitForSelector("table.fleet-grid tbody tr");
    await loaded();
    const grid = await page.locator("table.fleet-grid tbody").innerText();
    expect(grid).toContain("host-0");
    expect(grid).toContain("host-1");
    // Worst first: host-1's failed job above host-0's.
    expect(grid.indexOf("db-dump")).toBeLessThan(grid.indexOf("nightly"));
    await page.waitForSelector(`select[aria-label=host] option[value="${a.id}"]`, { state: "attached" });
    await shot("fleet");

    await page.selectOption("select[aria-label=host]", a.id);
    await page.waitForURL(`**/fleet/hosts/${a.id}`);
    await page.waitForSelector(".board .card");
    await page.waitForSelector("table.runs tbody tr");
    await loaded();
    expect(await page.locator("main h1").innerText()).toContain("host-0");
    const cards = await page.locator(".board .card h3").allInnerTexts();
    expect(cards).toEqual(["nightly"]);
    const rows = page.locator("table.runs tbody tr");
    expect(await rows.count()).toBe(2);
    const jobs = await page.locator("table.runs tbody td[data-label=Job]").allInnerTexts();
    expect(jobs).toEqual(["nightly", "nightly"]);
    expect(await page.locator("main").innerText()).not.toContain("db-dump");
    await shot("fleet-host");

    await page.locator(".board .card h3 a", { hasText: "nightly" }).click();
    await page.waitForURL(`**/fleet/hosts/${a.id}/jobs/nightly`);
    await page.waitForSelector("table.runs tbody tr");
    await loaded();
    expect(await page.locator("table.runs tbody tr").count()).toBe(2);
    expect(await page.locator("main").innerText()).toMatch(/hello/);
    // Runs start on the host, not from the hub.
    expect(await page.locator("button", { hasText: "Run now" }).count()).toBe(0);
    await shot("fleet-job");

    await page.locator("table.runs tbody tr th a").first().click();
    await page.waitForURL(new RegExp(`/fleet/hosts/${a.id}/runs/[0-9A-Z]+$`));
    await page.waitForSelector("ol.timeline li");
    await page.locator("ol.timeline li a", { hasText: "hello" }).click();
    await page.waitForSelector("#step-panel");
    expect(await page.locator("#step-panel").innerText()).toMatch(
      /The log stays on host-0: holdfast logs [0-9A-Z]+ there/,
    );
    expect(await page.locator("button", { hasText: "Cancel run" }).count()).toBe(0);
    await loaded();
    await shot("fleet-run");

    // The other host, by the picker: only its run.
    await page.goto(`${server.base}/fleet/hosts/${b.id}`);
    await page.waitForSelector("table.runs tbody tr");
    await loaded();
    expect(await page.locator("table.runs tbody td[data-label=Job]").allInnerTexts()).toEqual(["db-dump"]);
    expect(await page.locator(".board .card .badge").first().innerText()).toBe("failed");
  }, 180_000);
});
