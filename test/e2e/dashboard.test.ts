// The dashboard in a real browser: Debian's Chromium driven by playwright-core against a real
// `holdfast serve` (the built CLI) over real restic repositories. Keyboard-only from home to a run's
// log, no horizontal scroll at phone width, a snapshot browsed three levels deep, files and a folder
// with spaces and a comma in its name restored and compared byte for byte, that folder (and a file)
// downloaded by the browser as tar.gz and zip, unpacked and compared byte for byte and found in the
// history, and a screenshot of every view at desktop and phone width (written to
// test/e2e/screenshots/, or HOLDFAST_SCREENSHOTS).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { REPO_ROOT, collect, runCli, startCli } from "../helpers/cli.js";
import { resticInit, writePassword } from "../helpers/restic-backends.js";

/** `holdfast serve` for the whole file (serve-helper's servers and makeTempDir's dirs go after each test). */
async function serveForFile(configFile: string): Promise<{ child: ChildProcess; base: string }> {
  const child = startCli(["--config", configFile, "serve", "--listen", "127.0.0.1:0"]);
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

async function waitForAsync<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitFor<T>(what: string, fn: () => T | null, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
const hasRestic = spawnSync("restic", ["version"], { encoding: "utf8" }).status === 0;
const SHOTS = process.env.HOLDFAST_SCREENSHOTS ?? path.join(REPO_ROOT, "test", "e2e", "screenshots");
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const COMMA_DIR = "My Folder, with comma";

let dir: string;
let src: string;
let restoreRoot: string;
let configFile: string;
let server: { child: ChildProcess; base: string };
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let nightlyRun: string;
let tickerRun: string | null = null;
let brokenRun: string;
let snapshotId: string;
let canBrowse = false;
let canRestorePaths = false;

function writeSource(root: string): void {
  const files: Record<string, string | Buffer> = {
    "a.txt": "first file\n",
    "b.bin": Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251)),
    "level1/level2/level3/deep.txt": "three levels down\n",
    "level1/level2/level3/more.txt": "and one more\n",
    "level1/top.txt": "level one\n",
    [`${COMMA_DIR}/inside file.txt`]: "inside the folder with a comma\n",
    [`${COMMA_DIR}/nested dir/x y.dat`]: Buffer.from([0, 1, 2, 3, 255, 254, 10, 13]),
  };
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
}

/** The page's globals inside page functions (serialised into the page: no closures; this file
 * compiles without the DOM types, and a string would be eval, which the dashboard's CSP refuses). */
type InPage = { document: { querySelector(s: string): { innerText: string } | null } };

async function shot(name: string): Promise<void> {
  for (const [label, size] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

async function noHorizontalOverflow(url: string): Promise<void> {
  await page.setViewportSize(PHONE);
  await page.goto(url);
  await page.waitForSelector("main h1");
  // Not "networkidle": the event stream is a request that never ends. The view has loaded when its
  // loading notes are gone.
  await page.waitForFunction(
    () => !(globalThis as unknown as InPage).document.querySelector("main [aria-busy=true], main .loading"),
    null,
    {
      timeout: 15_000,
    },
  );
  await page.waitForTimeout(300);
  const width = await page.evaluate<number>("document.documentElement.scrollWidth");
  expect(width, `${url} is ${width}px wide at 390px`).toBeLessThanOrEqual(PHONE.width);
  await page.setViewportSize(DESKTOP);
}

describe.skipIf(!hasChromium || !hasRestic)("the dashboard in Chromium", () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-e2e-dash-"));
    src = path.join(dir, "data");
    writeSource(src);
    const pass = writePassword(path.join(dir, "secrets", "repo.pass"), "e2e-dash-pw-4b1d");
    resticInit({ repo: path.join(dir, "repo"), passwordFile: pass });
    resticInit({ repo: path.join(dir, "slow-repo"), passwordFile: pass });
    // 40 MiB of random data for a backup slow enough (4 MiB/s upload limit, 4 MiB packs) that its
    // progress is seen to change.
    fs.mkdirSync(path.join(dir, "bulk"), { recursive: true });
    for (let i = 0; i < 40; i++)
      fs.writeFileSync(path.join(dir, "bulk", `f${i}.bin`), crypto.randomBytes(1 << 20));
    restoreRoot = path.join(dir, "restores");
    configFile = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(
      configFile,
      `version: 1
state_dir: ${dir}/state
host: e2e-host
repositories:
  local: { url: ${dir}/repo, password_file: ${pass} }
  missing: { url: ${dir}/not-a-repo, password_file: ${pass} }
  throttled: { url: ${dir}/slow-repo, password_file: ${pass}, limit_upload: 4096 }
sources:
  data: { paths: [${src}] }
  bulk: { paths: [${dir}/bulk] }
jobs:
  nightly:
    max_age: 2d
    steps:
      - { name: data, type: backup, source: data, repos: [local] }
  broken:
    max_age: 2d
    steps:
      - { name: offsite, type: backup, source: data, repos: [missing] }
  bulk:
    steps:
      - { name: bulk, type: backup, source: bulk, repos: [throttled], extra_args: [--pack-size, "4"] }
  slow:
    steps:
      - { name: nap, type: exec, shell: "touch ${dir}/nap-started; sleep 120" }
      - { name: wake, type: exec, always: true, command: [touch, ${dir}/woke] }
  ticker:
    steps:
      - name: tick
        type: exec
        shell: >-
          echo "before the view opened";
          for i in $(seq 1 60); do echo "filler line $i"; done;
          while [ ! -e ${dir}/tick-go ]; do sleep 0.05; done;
          echo "printed after the view opened";
          for i in $(seq 1 20); do echo "tick $i"; sleep 0.3; done
server:
  restore_root: ${restoreRoot}
`,
    );
    const ok = await runCli(["--config", configFile, "run", "nightly"]);
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await runCli(["--config", configFile, "run", "broken"]);
    expect(bad.code, "the broken job fails").not.toBe(0);

    server = await serveForFile(configFile);
    const runs = (await (await fetch(`${server.base}/api/runs?limit=10`)).json()) as {
      runs: Array<{ id: string; job: string; steps: Array<{ targets: Array<{ snapshot_id?: string }> }> }>;
    };
    nightlyRun = runs.runs.find((r) => r.job === "nightly")?.id as string;
    brokenRun = runs.runs.find((r) => r.job === "broken")?.id as string;
    snapshotId = runs.runs.find((r) => r.job === "nightly")?.steps[0]?.targets[0]?.snapshot_id as string;
    const info = (await (await fetch(`${server.base}/api/info`)).json()) as {
      capabilities: Record<string, boolean>;
      endpoints: string[];
    };
    canBrowse = info.capabilities.browse === true;
    // The restore API with whole paths and a recorded result (issue 15, server side).
    canRestorePaths = info.endpoints.some((e) => e.startsWith("GET /api/restores/"));

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
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (server && server.child.exitCode === null) {
      const exited = new Promise((r) => server.child.once("exit", r));
      server.child.kill("SIGTERM");
      await exited;
    }
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("home says what is not safe: the failed job's step and hint, a red title and favicon", async () => {
    const cspErrors: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    await page.goto(`${server.base}/`);
    await page.waitForSelector(".board .card");
    const broken = page.locator(".card", { hasText: "broken" });
    await expect.poll(() => broken.locator(".badge").first().textContent()).toBe("failed");
    expect(await broken.locator(".why").textContent()).toMatch(/offsite/);
    expect(await page.locator(".card", { hasText: "nightly" }).locator(".badge").first().textContent()).toBe(
      "ok",
    );
    expect(await page.locator(".verdict").textContent()).toContain("broken is failed");
    await expect.poll(() => page.title()).toMatch(/^✖ 1 failed or stale/);
    expect(await page.getAttribute("#favicon", "href")).toBe("/favicon-alert.svg");
    await page.waitForSelector("table.matrix td.cell-ok");
    // data's one repository is on its own disk: one medium, said as such (and in the singular).
    const data = page.locator("table.matrix tr", { hasText: "data" }).first();
    expect(await data.textContent()).toContain("on the source's disk");
    expect(await data.locator('td[data-label="3-2-1"] .small').first().textContent()).toMatch(
      /^2 copies · 1 medium · 0 offsite$/,
    );
    expect(cspErrors).toEqual([]);
    await shot("home");
  });

  it("goes from home to a run's log with the keyboard only", async () => {
    await page.goto(`${server.base}/`);
    await page.waitForSelector(".board .card");
    // Page-side code as strings: the tests are compiled without the DOM library.
    const focusedLabel = () =>
      page.evaluate<string>(
        `(() => { const el = document.activeElement; return (el?.getAttribute("aria-label") ?? "") + "|" + (el?.textContent ?? ""); })()`,
      );

    const tabTo = async (match: RegExp, max = 40) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press("Tab");
        if (match.test(await focusedLabel())) return;
      }
      throw new Error(`Tab never reached ${match}`);
    };
    await tabTo(/last run of nightly/);
    // Focus is visible: an outline is drawn on the focused link.
    const outline = await page.evaluate<string>("getComputedStyle(document.activeElement).outlineStyle");
    expect(outline).not.toBe("none");
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/runs/${nightlyRun}`);
    await page.waitForSelector(".timeline");
    await tabTo(/^\|data/);
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/runs/${nightlyRun}?step=data`);
    const log = page.locator("[data-testid=log]");
    await log.waitFor();
    expect((await log.textContent())?.length).toBeGreaterThan(0);
    await shot("run");
    // Back and forward follow the URLs.
    await page.goBack();
    await page.waitForURL(`${server.base}/`);
    await page.waitForSelector(".board .card");
    await page.goForward();
    await page.waitForSelector("[data-testid=log]");
  });

  it("shows a job and a failed run with the step's error", async () => {
    await page.goto(`${server.base}/jobs/nightly`);
    await page.waitForSelector("table.runs tbody tr");
    await shot("job");
    await page.goto(`${server.base}/runs/${brokenRun}?step=offsite`);
    await page.waitForSelector(".step-detail .error");
    await shot("run-failed");
    // At phone width a target's error reads in the value column beside the labels, as wide as the
    // card — not squeezed into the 6rem label column of the next line.
    await page.setViewportSize(PHONE);
    const err = page.locator(".step-detail td[data-label=Status] .small").first();
    const badge = page.locator(".step-detail td[data-label=Status] .badge").first();
    const [errBox, badgeBox] = [await err.boundingBox(), await badge.boundingBox()];
    expect(errBox && badgeBox && errBox.x >= badgeBox.x - 8, "the error starts under the badge").toBe(true);
    expect(errBox?.width ?? 0, "the error's width at 390 px").toBeGreaterThan(200);
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(
      PHONE.width,
    );
    await page.setViewportSize(DESKTOP);
    await page.goto(`${server.base}/repos/local/snapshots/${snapshotId}/restore`);
    await page.waitForSelector("fieldset");
    await shot("restore-form");
  });

  it("lists the repository's snapshots", async () => {
    await page.goto(`${server.base}/repos/local`);
    await page.waitForSelector("table.snapshots tbody tr");
    expect(await page.locator("table.snapshots tbody tr").count()).toBe(1);
    await shot("repository");
  });

  it("browses a snapshot three levels deep", async (ctx) => {
    if (!canBrowse) ctx.skip("this server has no snapshot browser yet (capabilities.browse)");
    await page.goto(`${server.base}/repos/local`);
    await page.locator("table.snapshots tbody tr th a").first().click();
    await page.waitForURL(/\/repos\/local\/snapshots\/[0-9a-f]+$/);
    // The snapshot's root holds the source's absolute path: walk down to the source first.
    for (const seg of src.split("/").filter(Boolean)) {
      await page.getByRole("link", { name: `folder ${seg}`, exact: true }).click();
    }
    await page.waitForSelector("text=level1/");
    await shot("snapshot");
    for (const seg of ["level1", "level2", "level3"]) {
      await page.getByRole("link", { name: `folder ${seg}`, exact: true }).click();
      await page.waitForURL(
        new RegExp(`path=${encodeURIComponent(`/${seg}`).replace(/%2F/g, "%2F")}|${seg}$`),
      );
    }
    await page.waitForSelector("text=deep.txt");
    expect(await page.locator("table.entries tbody th").allTextContents()).toEqual(["deep.txt", "more.txt"]);
    expect(decodeURIComponent(new URL(page.url()).searchParams.get("path") ?? "")).toBe(
      `${src}/level1/level2/level3`,
    );
    await shot("snapshot-deep");
    await page.goBack();
    await page.waitForSelector("text=level3/");
  });

  it("restores two files and a folder with spaces and a comma, byte for byte", async (ctx) => {
    if (!canBrowse) ctx.skip("this server has no snapshot browser yet (capabilities.browse)");
    await page.goto(`${server.base}/repos/local/snapshots/${snapshotId}?path=${encodeURIComponent(src)}`);
    await page.waitForSelector("table.entries");
    for (const name of ["a.txt", "b.bin", COMMA_DIR])
      await page.getByRole("checkbox", { name: `pick ${name} for restore` }).check();
    await page.getByRole("link", { name: /Restore 3 selected/ }).click();
    await page.waitForURL(/\/restore$/);
    expect(await page.locator(".picked li code").allTextContents()).toEqual(
      [`${src}/${COMMA_DIR}`, `${src}/a.txt`, `${src}/b.bin`].sort(),
    );
    await page.fill("#target", "from-browser");
    await shot("restore");
    await page.getByRole("button", { name: "Restore", exact: true }).click();
    const result = page.locator("[data-testid=restore-result]");
    // The first restore API only says "started"; the one that records restores says how it ended.
    await expect
      .poll(() => result.textContent(), { timeout: 60_000 })
      .toMatch(canRestorePaths ? /succeeded/ : /started|succeeded|finished/);
    await shot("restore-done");
    if (canRestorePaths) {
      // It names what was restored, and the picks are gone: a second restore does not take them along.
      expect(await result.locator("code.path").allTextContents()).toEqual(
        expect.arrayContaining([`${src}/a.txt`, `${src}/b.bin`]),
      );
      await expect.poll(() => page.locator(".picked li").count()).toBe(0);
      await page.goto(`${server.base}/repos/local/snapshots/${snapshotId}?path=${encodeURIComponent(src)}`);
      await page.waitForSelector("table.entries");
      expect(await page.getByRole("checkbox", { name: "pick a.txt for restore" }).isChecked()).toBe(false);
      await page.getByRole("link", { name: /Restore all/ }).waitFor();
    }
    const out = path.join(restoreRoot, "from-browser");
    const restored = await waitFor(
      "the restored files",
      () => (fs.existsSync(path.join(out, src, "b.bin")) ? path.join(out, src) : null),
      30_000,
    );
    for (const rel of ["a.txt", "b.bin", `${COMMA_DIR}/inside file.txt`, `${COMMA_DIR}/nested dir/x y.dat`]) {
      expect(
        fs.readFileSync(path.join(restored, rel)).equals(fs.readFileSync(path.join(src, rel))),
        rel,
      ).toBe(true);
    }
    expect(fs.existsSync(path.join(restored, "level1")), "only what was picked").toBe(false);
  });

  it("downloads a folder with spaces and a comma as tar.gz and zip, and a file: bytes equal, each in the history", async (ctx) => {
    if (!canBrowse) ctx.skip("this server has no snapshot browser yet (capabilities.browse)");
    const folder = `${src}/${COMMA_DIR}`;
    const out = fs.mkdtempSync(path.join(dir, "downloads-"));
    const before = (await (await fetch(`${server.base}/api/runs?job=@download&limit=50`)).json()) as {
      runs: unknown[];
    };
    await page.goto(`${server.base}/repos/local/snapshots/${snapshotId}?path=${encodeURIComponent(src)}`);
    await page.waitForSelector("table.entries");
    const tgzButton = page.getByRole("button", { name: `download ${COMMA_DIR} as tar.gz`, exact: true });
    await tgzButton.waitFor();
    await tgzButton.scrollIntoViewIfNeeded();
    await shot("snapshot-download");

    /** Clicks a download control in the page and saves what the browser received. */
    const take = async (name: string): Promise<{ file: string; suggested: string }> => {
      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout: 30_000 }),
        page.getByRole("button", { name, exact: true }).click(),
      ]);
      expect(await download.failure(), name).toBeNull();
      const file = path.join(out, download.suggestedFilename());
      await download.saveAs(file);
      return { file, suggested: download.suggestedFilename() };
    };
    /** Every file under a folder, relative to it. */
    const filesUnder = (root: string): string[] =>
      fs
        .readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
        .sort();
    const rels = filesUnder(folder);
    expect(rels).toEqual(["inside file.txt", "nested dir/x y.dat"]);

    const tgz = await take(`download ${COMMA_DIR} as tar.gz`);
    expect(tgz.suggested).toBe(`${COMMA_DIR}.tar.gz`);
    const untarred = path.join(out, "untar");
    fs.mkdirSync(untarred);
    const untar = spawnSync("tar", ["-xzf", tgz.file, "-C", untarred], { encoding: "utf8" });
    expect(untar.status, untar.stderr).toBe(0);
    // The archive holds the folder at its path in the snapshot (tar strips the leading "/"), and
    // nothing else.
    const inArchive = rels.map((rel) => path.join(folder.slice(1), rel));
    expect(filesUnder(untarred), "tar.gz: the folder's files, nothing else").toEqual(inArchive);
    for (const rel of rels)
      expect(
        fs.readFileSync(path.join(untarred, folder, rel)).equals(fs.readFileSync(path.join(folder, rel))),
        `tar.gz: ${rel}`,
      ).toBe(true);

    const hasUnzip = spawnSync("unzip", ["-v"], { encoding: "utf8" }).status === 0;
    const zip = await take(`download ${COMMA_DIR} as zip`);
    expect(zip.suggested).toBe(`${COMMA_DIR}.zip`);
    expect(fs.readFileSync(zip.file).subarray(0, 2).toString("latin1")).toBe("PK");
    if (hasUnzip) {
      const unzipped = path.join(out, "unzip");
      const unz = spawnSync("unzip", ["-q", zip.file, "-d", unzipped], { encoding: "utf8" });
      expect(unz.status, unz.stderr).toBe(0);
      expect(filesUnder(unzipped), "zip: the folder's files, nothing else").toEqual(inArchive);
      for (const rel of rels)
        expect(
          fs.readFileSync(path.join(unzipped, folder, rel)).equals(fs.readFileSync(path.join(folder, rel))),
          `zip: ${rel}`,
        ).toBe(true);
    }

    const bin = await take("download b.bin");
    expect(bin.suggested).toBe("b.bin");
    expect(fs.readFileSync(bin.file).equals(fs.readFileSync(path.join(src, "b.bin"))), "b.bin").toBe(true);
    // Each download says it is being prepared, then that it started; one that fails says so.
    const status = page.locator("[data-testid=download-status]");
    await expect.poll(() => status.textContent()).toMatch(/download of b\.bin started/);
    await page.route("**/api/downloads", (route) => route.abort("connectionrefused"));
    await page.getByRole("button", { name: "download a.txt", exact: true }).click();
    await expect.poll(() => status.textContent()).toMatch(/download of a\.txt could not start/);
    await shot("snapshot-download-failed");
    await page.unroute("**/api/downloads");

    // Each download is in the history like a run: who, what, where, result (newest first).
    type DownloadRun = {
      job: string;
      status: string;
      steps: Array<{ summary: Record<string, unknown> | null }>;
    };
    const runs = await waitForAsync("three recorded downloads", async () => {
      const { runs } = (await (await fetch(`${server.base}/api/runs?job=@download&limit=50`)).json()) as {
        runs: DownloadRun[];
      };
      const fresh = runs.slice(0, runs.length - before.runs.length);
      return fresh.length === 3 && fresh.every((r) => r.status !== "running") ? fresh : null;
    });
    const saved = [bin, zip, tgz];
    expect(
      runs.map((r) => {
        const s = r.steps[0]?.summary ?? {};
        return [
          r.job,
          r.status,
          s.kind,
          s.repo,
          s.snapshot_id,
          s.paths,
          s.format,
          s.target,
          s.bytes_restored,
        ];
      }),
    ).toEqual(
      [
        [`${src}/b.bin`, "raw"],
        [folder, "zip"],
        [folder, "tar.gz"],
      ].map(([p, format], i) => [
        "@download",
        "succeeded",
        "download",
        "local",
        snapshotId,
        [p],
        format,
        saved[i]?.suggested,
        fs.statSync(saved[i]?.file as string).size,
      ]),
    );
    // No tokens on this server: who asked is the loopback caller.
    for (const r of runs) expect(r.steps[0]?.summary?.who, "who asked").toBe("loopback");
  });

  it("cancels a running job from its run page: recorded cancelled, its always step still ran", async () => {
    const child = startCli(["--config", configFile, "run", "slow"]);
    const ended = collect(child);
    const deadline = Date.now() + 30_000;
    let runId: string | undefined;
    while (!runId || !fs.existsSync(path.join(dir, "nap-started"))) {
      if (Date.now() > deadline) throw new Error("the slow run did not start within 30 s");
      await new Promise((r) => setTimeout(r, 100));
      const { runs } = (await (await fetch(`${server.base}/api/runs?job=slow&limit=1`)).json()) as {
        runs: Array<{ id: string; status: string }>;
      };
      runId = runs[0]?.status === "running" ? runs[0].id : undefined;
    }
    await page.goto(`${server.base}/runs/${runId}`);
    await page.getByRole("button", { name: "Cancel run" }).click();
    await shot("run-cancel-asking");
    await page.getByRole("button", { name: "Yes, cancel it" }).click();
    const result = await ended;
    expect(result.code, result.stderr).toBe(143);
    // The page re-reads the running run and shows how it ended, without a reload.
    await page.waitForSelector("h1 .badge:text('cancelled')", { timeout: 15_000 });
    await shot("run-cancelled");
    const run = (await (await fetch(`${server.base}/api/runs/${runId}`)).json()) as {
      status: string;
      steps: Array<{ name: string; status: string }>;
    };
    expect(run.status).toBe("cancelled");
    expect(run.steps.map((st) => `${st.name} ${st.status}`)).toEqual(["nap cancelled", "wake succeeded"]);
    expect(fs.existsSync(path.join(dir, "woke"))).toBe(true);
    // Home and the job's view say cancelled — not failed (the status, metrics and notifications
    // still count it as a failure: it is an alarm).
    await page.goto(`${server.base}/`);
    const card = page.locator("li.card", { has: page.getByRole("link", { name: "slow", exact: true }) });
    await expect.poll(() => card.locator(".card-head .badge").textContent()).toBe("cancelled");
    expect(await page.locator(".verdict").textContent()).toContain("slow is cancelled");
    await shot("home-cancelled");
    await page.goto(`${server.base}/jobs/slow`);
    await expect.poll(() => page.locator("h1 .badge").first().textContent()).toBe("cancelled");
    await shot("job-cancelled");
  });

  it("follows a running step's log: new lines without reload, auto-scroll that yields to the reader", async () => {
    const child = startCli(["--config", configFile, "run", "ticker"]);
    const ended = collect(child);
    try {
      const runId = await waitForAsync("the ticker run's step to run", async () => {
        const { runs } = (await (await fetch(`${server.base}/api/runs?job=ticker&limit=1`)).json()) as {
          runs: Array<{ id: string; status: string; steps: Array<{ status: string }> }>;
        };
        const r = runs[0];
        return r?.status === "running" && r.steps[0]?.status === "running" ? r.id : null;
      });
      tickerRun = runId;
      const navigations: string[] = [];
      const onNav = (f: { url(): string }) => navigations.push(f.url());
      await page.goto(`${server.base}/runs/${runId}?step=tick`);
      page.on("framenavigated", onNav);
      const log = page.locator("[data-testid=log]");
      await page.waitForFunction(
        () =>
          (globalThis as unknown as InPage).document
            .querySelector("[data-testid=log]")
            ?.innerText.includes("filler line 60") ?? false,
        null,
        { timeout: 15_000 },
      );
      await page.locator("[data-testid=log-following]").waitFor();
      expect(await log.innerText()).not.toContain("printed after the view opened");
      const distanceFromBottom = () =>
        page.evaluate<number>(
          `(() => { const el = document.querySelector("[data-testid=log]"); return el.scrollHeight - el.scrollTop - el.clientHeight; })()`,
        );
      const overflows = await page.evaluate<boolean>(
        `(() => { const el = document.querySelector("[data-testid=log]"); return el.scrollHeight > el.clientHeight + 50; })()`,
      );
      expect(overflows, "the log is longer than its box (so scrolling is tested)").toBe(true);
      expect(await distanceFromBottom()).toBeLessThan(24);
      // Marks the element: if a refresh of the run around it re-created or reset the log, the mark goes.
      await page.evaluate(`document.querySelector("[data-testid=log]").dataset.mark = "kept"`);

      fs.writeFileSync(path.join(dir, "tick-go"), "");
      await page.waitForFunction(
        () =>
          (globalThis as unknown as InPage).document
            .querySelector("[data-testid=log]")
            ?.innerText.includes("printed after the view opened") ?? false,
        null,
        { timeout: 15_000 },
      );
      await expect.poll(distanceFromBottom).toBeLessThan(24);
      await shot("run-following");
      // The reader scrolls up: new lines still come, the view stays where they are, Follow is offered.
      await page.evaluate(`document.querySelector("[data-testid=log]").scrollTop = 0`);
      await page.getByRole("button", { name: "↓ Follow" }).waitFor({ timeout: 5_000 });
      const before = await log.innerText();
      await expect.poll(() => log.innerText(), { timeout: 10_000 }).not.toBe(before);
      expect(await page.evaluate<number>(`document.querySelector("[data-testid=log]").scrollTop`)).toBe(0);
      await page.getByRole("button", { name: "↓ Follow" }).click();
      await expect.poll(distanceFromBottom).toBeLessThan(24);

      const result = await ended;
      expect(result.code, result.stderr).toBe(0);
      // The end: the stream closes by itself, the run shows succeeded (from the event stream).
      await page.locator("[data-testid=log-following]").waitFor({ state: "detached", timeout: 15_000 });
      await page.waitForSelector("h1 .badge:text('succeeded')", { timeout: 15_000 });
      const text = await log.innerText();
      expect(text.startsWith("holdfast: started step tick")).toBe(true);
      expect(text).toContain("filler line 1\n");
      expect(text).toContain("tick 20");
      expect(text).toMatch(/run tick finished with exit code 0/);
      // Every line once: nothing repeated when chunks joined up.
      expect(text.match(/tick 3\n/g)?.length).toBe(1);
      expect(await page.evaluate<string>(`document.querySelector("[data-testid=log]").dataset.mark`)).toBe(
        "kept",
      );
      expect(navigations, "no reload").toEqual([]);
      page.off("framenavigated", onNav);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await ended;
    }
  });

  it("shows a backup's progress change without reload, one event stream for two tabs", async () => {
    await page.goto(`${server.base}/`);
    await page.waitForSelector("[data-live=events]", { timeout: 15_000 });
    const second = await context.newPage();
    const streams: string[] = [];
    second.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/events") streams.push(r.url());
    });
    await second.goto(`${server.base}/`);
    await second.waitForSelector("main h1");
    await second.waitForSelector("[data-live=events]", { timeout: 15_000 });

    const child = startCli(["--config", configFile, "run", "bulk"]);
    const ended = collect(child);
    const card = page.locator("[data-testid=progress]").first();
    await card.waitFor({ timeout: 30_000 });
    const first = await card.innerText();
    await shot("home-progress");
    // The figures move while the page stays as it is (no navigation, no reload).
    const navigations: string[] = [];
    page.on("framenavigated", (f) => navigations.push(f.url()));
    await page.waitForFunction(
      (before) => {
        const el = (globalThis as unknown as InPage).document.querySelector("[data-testid=progress]");
        return el !== null && el.innerText !== before;
      },
      first,
      { timeout: 30_000 },
    );
    const later = await card.innerText();
    expect(later).toMatch(/files/);
    expect(later).not.toBe(first);
    // The other tab shows progress too — from the first tab's stream, passed on to it.
    await second.locator("[data-testid=progress]").first().waitFor({ timeout: 15_000 });
    const result = await ended;
    expect(result.code, result.stderr).toBe(0);
    // The end reaches the page without a reload: the progress goes, the job is ok.
    await page.locator("[data-testid=progress]").waitFor({ state: "detached", timeout: 15_000 });
    expect(navigations).toEqual([]);
    expect(streams, "the second tab opened no stream of its own").toEqual([]);
    await second.close();
  });

  it("with tokens: a wrong one is said so, a viewer sees no Run now and is refused, log out", async () => {
    // A server of its own (its own state dir and so its own tokens), so the others stay tokenless.
    const config = path.join(dir, "holdfast-tokens.yaml");
    fs.writeFileSync(
      config,
      fs
        .readFileSync(configFile, "utf8")
        .replace(`state_dir: ${dir}/state`, `state_dir: ${dir}/state-tokens`),
    );
    const add = await runCli(["--config", config, "serve", "token", "add", "phone", "--role", "viewer"]);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim();
    const s2 = await serveForFile(config);
    try {
      await page.goto(`${s2.base}/jobs/nightly`);
      await page.getByLabel("Token", { exact: true }).waitFor();
      await shot("token");
      await page.getByLabel("Token", { exact: true }).fill("hf_not-the-token-at-all-000000000000000000000");
      await page.getByRole("button", { name: "Use token" }).click();
      await page.getByRole("alert").filter({ hasText: "Wrong token" }).waitFor({ timeout: 10_000 });
      await shot("token-wrong");
      await page.getByLabel("Token", { exact: true }).fill(token);
      await page.getByRole("button", { name: "Use token" }).click();
      await page.locator("main h1").filter({ hasText: "nightly" }).waitFor({ timeout: 10_000 });
      await page.locator("header .role").filter({ hasText: "viewer" }).waitFor();
      expect(await page.getByRole("button", { name: /Run now/ }).count()).toBe(0);
      await shot("job-viewer");
      // What the page does not offer, the API refuses, saying why.
      const refused = await page.evaluate(async (t) => {
        const res = await fetch("/api/jobs/nightly/run", {
          method: "POST",
          headers: { Authorization: `Bearer ${t}`, "X-Holdfast-Request": "1" },
        });
        return { status: res.status, body: await res.text() };
      }, token);
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('the token \\"phone\\" is a viewer token');
      await page.getByRole("button", { name: "Log out" }).click();
      await page.locator("main h1").filter({ hasText: "API token" }).waitFor();
      expect(await page.getByRole("alert").filter({ hasText: "Wrong token" }).count()).toBe(0);
      // The token is gone from the tab: a reload asks again.
      await page.reload();
      await page.locator("main h1").filter({ hasText: "API token" }).waitFor();
    } finally {
      const exited = new Promise((r) => s2.child.once("exit", r));
      s2.child.kill("SIGTERM");
      await exited;
    }
  });

  it("dark mode (prefers-color-scheme): screenshots at desktop and phone width, dark backgrounds", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    try {
      const views: Array<[string, string]> = [
        ["home-dark", "/"],
        ["job-dark", "/jobs/nightly"],
        ["run-dark", `/runs/${brokenRun}?step=offsite`],
        ["repo-dark", "/repos/local"],
        ...(canBrowse
          ? [
              ["snapshot-dark", `/repos/local/snapshots/${snapshotId}?path=${encodeURIComponent(src)}`] as [
                string,
                string,
              ],
            ]
          : []),
        ["restore-dark", `/repos/local/snapshots/${snapshotId}/restore`],
      ];
      for (const [name, url] of views) {
        await page.goto(`${server.base}${url}`);
        await page.waitForSelector("main h1");
        await page.waitForFunction(
          () => !(globalThis as unknown as InPage).document.querySelector("main .loading"),
          null,
          { timeout: 15_000 },
        );
        const bg = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
        const rgb = (bg.match(/\d+/g) ?? []).slice(0, 3).map(Number);
        expect(Math.max(...rgb), `${url} background ${bg} in dark mode`).toBeLessThan(80);
        await shot(name);
      }
    } finally {
      await page.emulateMedia({ colorScheme: "light" });
    }
  });

  it("has no horizontal scroll at 390 px on any view", async () => {
    const urls = [
      "/",
      "/jobs/nightly",
      `/runs/${nightlyRun}?step=data`,
      `/runs/${brokenRun}?step=offsite`,
      ...(tickerRun ? [`/runs/${tickerRun}?step=tick`] : []),
      "/repos/local",
      ...(canBrowse ? [`/repos/local/snapshots/${snapshotId}?path=${encodeURIComponent(src)}`] : []),
      `/repos/local/snapshots/${snapshotId}/restore`,
    ];
    for (const url of urls) await noHorizontalOverflow(`${server.base}${url}`);
  });
});
