// web/app.js against the real API (in-process) in a small fake DOM: it renders jobs (stale marked),
// the redundancy matrix, trends, history and a run's timeline; "run now" sends the custom header; a
// token pasted once is kept in sessionStorage and sent as a Bearer header.
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp, PACKAGE_ROOT } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { makeFixture, seedHistory, type Fixture } from "./fixture.js";
import { FakeElement, loadDashboard, settle } from "./fake-dom.js";

const WEB = path.join(PACKAGE_ROOT, "web");
const NOW = new Date();

let fx: Fixture;
let store: RunStore;
let ids: { nightly: string[]; quick: string };

beforeEach(async () => {
  fx = makeFixture({ token: true });
  store = createMemoryStore();
  ids = await seedHistory(store, fx, NOW);
});

afterEach(async () => {
  await store.close();
});

const text = (el: FakeElement) => el.textContent;

/** Every text node under el, so a stray "null" shows up even between other words. */
function textNodes(el: FakeElement): string[] {
  return el.children.flatMap((c) => (c instanceof FakeElement ? textNodes(c) : [c.textContent]));
}

describe("the dashboard (web/app.js)", () => {
  it("asks for the token, keeps it in sessionStorage, then renders everything", async () => {
    const started: string[] = [];
    const app = createApp({
      config: fx.config,
      store,
      token: fx.token,
      logError: () => undefined,
      runJob: (job) => {
        started.push(job);
        return Promise.resolve({ pid: 4242, run_id: ids.quick, exit_code: null, output_tail: "" });
      },
    });
    const page = loadDashboard(app, WEB);

    await settle(page, () => !page.byId("auth").hidden, "the token prompt");
    expect(text(page.byId("message"))).toContain("needs its API token");
    expect(page.requests[0]?.headers.Authorization).toBeUndefined();

    page.byId("token-input").value = fx.token as string;
    page.byId("token-form").dispatch("submit");
    await settle(page, () => text(page.byId("updated")).startsWith("updated"), "a full refresh");
    expect(page.storage.get("holdfast.token")).toBe(fx.token);
    expect(page.byId("auth").hidden).toBe(true);
    const authed = page.requests.filter((r) => r.headers.Authorization === `Bearer ${fx.token}`);
    expect(authed.length).toBeGreaterThan(4);

    // Jobs: nightly is stale (last success 30 h ago, max_age 26h) and marked so.
    const jobs = page.byId("jobs");
    const cards = jobs.findAll((e) => e.tag === "article");
    expect(cards.map((c) => c.findAll((e) => e.tag === "h3")[0]?.textContent)).toEqual([
      "nightlystale",
      "quickok",
      "slownever",
    ]);
    expect(cards[0]?.className).toContain("stale");
    expect(text(cards[0] as FakeElement)).toMatch(/no success for (29h59m|30h00m) \(max age 26h00m\)/);

    // Redundancy: three repositories, offsite marked, a verdict per source.
    const matrix = page.byId("redundancy");
    const headers = matrix.findAll((e) => e.tag === "th").map(text);
    expect(headers).toEqual(["source", "local", "cloudoffsite", "nas", "3-2-1"]);
    const rows = matrix.findAll((e) => e.tag === "tr").slice(1);
    expect(text(rows[0] as FakeElement)).toMatch(/^home5h00m \(|^home/);
    expect(text(rows[0] as FakeElement)).toContain("ok 3 copies · 2 media · 1 offsite");
    expect(text(rows[1] as FakeElement)).toContain("at risk");
    expect(text(rows[1] as FakeElement)).toContain("(copy)");

    // Trends: bars per finished run.
    const trends = page.byId("trends");
    expect(trends.findAll((e) => e.tag === "rect").length).toBeGreaterThanOrEqual(3);
    expect(text(trends)).toContain("data added");

    // History: one row per run, newest first.
    const history = page.byId("history");
    const historyRows = history.findAll((e) => e.tag === "tr" && e.className.includes("clickable"));
    expect(historyRows).toHaveLength(3);

    // A run: the timeline has one bar per step that ran, the planted secrets stay masked.
    await Promise.all(historyRows[1]?.dispatch("click") ?? []);
    expect(page.byId("run").hidden).toBe(false);
    expect(text(page.byId("run-title"))).toContain(ids.nightly[1]);
    const runBody = page.byId("run-body");
    expect(runBody.findAll((e) => e.tag === "rect")).toHaveLength(2); // hello and home; the others were skipped
    expect(text(runBody)).toContain("network: cannot reach rest:http://backup:***@127.0.0.1:1/cloud");
    for (const secret of fx.secrets) expect(text(runBody)).not.toContain(secret);

    // Run now: a POST with the custom header and the token.
    const button = cards[1]?.findAll((e) => e.tag === "button")[0] as FakeElement;
    expect(text(button)).toBe("Run now");
    await Promise.all(button.dispatch("click"));
    expect(started).toEqual(["quick"]);
    const post = page.requests.find((r) => r.method === "POST");
    expect(post?.headers).toMatchObject({ "X-Holdfast-Request": "1", Authorization: `Bearer ${fx.token}` });
    expect(text(page.byId("message"))).toContain("Started quick (pid 4242");

    for (const id of ["jobs", "redundancy", "trends", "history", "run-body"]) {
      const bad = textNodes(page.byId(id)).filter((t) => t === "null" || /undefined|NaN|\[object /.test(t));
      expect(bad, id).toEqual([]);
    }
    expect(page.errors).toEqual([]);
  });

  it("shows the restore and snapshots panels only when the server can do them", async () => {
    const bare = loadDashboard(createApp({ config: fx.config, store, token: null }), WEB);
    await settle(bare, () => text(bare.byId("updated")).startsWith("updated"), "a refresh");
    expect(bare.byId("restore").hidden).toBe(true);
    expect(bare.byId("snapshots").hidden).toBe(true);

    const restores: unknown[] = [];
    const full = loadDashboard(
      createApp({
        config: fx.config,
        store,
        token: null,
        restore: (r) => (
          restores.push(r),
          Promise.resolve({
            pid: 7,
            run_id: null,
            exit_code: null,
            output_tail: "",
            finished: Promise.resolve(),
          })
        ),
        snapshots: () =>
          Promise.resolve({
            snapshots: [
              {
                id: "f".repeat(64),
                short_id: "ffffffff",
                time: NOW.toISOString(),
                hostname: "testhost",
                paths: ["/data"],
                source: "home",
                job: "nightly",
              },
            ],
            error: null,
          }),
      }),
      WEB,
    );
    await settle(full, () => text(full.byId("updated")).startsWith("updated"), "a refresh");
    expect(full.byId("restore").hidden).toBe(false);
    expect(full.byId("snapshots").hidden).toBe(false);
    expect(full.byId("restore-repo").options.map(text)).toEqual(["local", "cloud", "nas"]);

    full.byId("snapshots-repo").value = "cloud";
    full.byId("snapshots-form").dispatch("submit");
    const list = full.byId("snapshots-list");
    await settle(full, () => text(list).includes("ffffffff"), "the snapshot list");
    expect(text(list)).toContain("ffffffff");
    // "restore…" fills the form from the snapshot.
    await Promise.all(list.findAll((e) => e.tag === "button")[0]?.dispatch("click") ?? []);
    expect(full.byId("restore-snapshot").value).toBe("f".repeat(64));
    full.byId("restore-target").value = "from-dashboard";
    full.byId("restore-form").dispatch("submit");
    await settle(
      full,
      () => restores.length > 0 && text(full.byId("restore-result")).includes("pid"),
      "the restore answer",
    );
    expect(restores).toMatchObject([
      { repo: "cloud", snapshot: "f".repeat(64), source: "home", include: [] },
    ]);
    expect(text(full.byId("restore-result"))).toContain("restore started (pid 7)");
    expect(full.errors).toEqual([]);
  });
});
