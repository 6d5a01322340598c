// The freshness check through the built CLI: a job past max_age gets exactly one `stale` over repeated
// `watch` runs, and exactly one `recovered` after its next success.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { createNotifyWorld, readCommandCalls, type NotifyWorld } from "./cli-setup.js";

let world: NotifyWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("holdfast watch", () => {
  it("sends stale once per episode and recovered once after the next success", async () => {
    const w = (world = await createNotifyWorld({ maxAge: "1s" }));
    const hookEvents = () =>
      w.hook.requests.map((r) => JSON.parse(r.text) as { event: string; job: string; details: any });
    const count = (event: string) => hookEvents().filter((e) => e.event === event).length;

    expect((await w.cli(["run", "ok-job", "--quiet"])).code).toBe(0);
    await sleep(1_200);

    const notices: string[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await w.cli(["watch", "--json"]);
      expect(result.code).toBe(2);
      const out = parseJson(result);
      expect(out.stale).toBe(true);
      const job = out.jobs.find((j: any) => j.job === "ok-job");
      notices.push(job.notice);
      expect(out.jobs.find((j: any) => j.job === "fail-job")).toMatchObject({
        stale: false,
        max_age_ms: null,
      });
    }
    expect(notices.filter((n) => n === "sent")).toHaveLength(1);
    expect(notices.slice(notices.indexOf("sent") + 1).every((n) => n === "already_sent")).toBe(true);
    expect(count("stale")).toBe(1);
    const stale = hookEvents().find((e) => e.event === "stale")!;
    expect(stale).toMatchObject({ job: "ok-job", details: { max_age_ms: 1000 } });
    expect(stale.details.stale_for_ms).toBeGreaterThan(1000);
    expect(w.ntfy.requests.filter((r) => r.headers.tags === "hourglass,holdfast,stale")).toHaveLength(1);
    expect(readCommandCalls(w.cmdOut).filter((c) => c.event === "stale")).toHaveLength(1);

    // The human form and `status --check` say the same; the textfile was rewritten by watch.
    const human = await w.cli(["watch"]);
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/ok-job\s+stale\s+stale\s+.*sent .* ago/);
    expect((await w.cli(["status", "--check"])).code).toBe(2);
    expect(fs.readFileSync(`${w.dir}/textfile/holdfast.prom`, "utf8")).toMatch(
      /^holdfast_job_stale\{job="ok-job"\} 1$/m,
    );
    expect(count("stale")).toBe(1);

    // The next success ends the episode: one recovered, and only one.
    expect((await w.cli(["run", "ok-job", "--quiet"])).code).toBe(0);
    expect((await w.cli(["run", "ok-job", "--quiet"])).code).toBe(0);
    expect(count("recovered")).toBe(1);
    expect(hookEvents().find((e) => e.event === "recovered")).toMatchObject({
      job: "ok-job",
      details: { previous: "stale" },
    });
    expect(count("stale")).toBe(1);

    // A new episode is a new stale.
    await sleep(1_200);
    expect((await w.cli(["watch"])).code).toBe(2);
    expect((await w.cli(["watch"])).code).toBe(2);
    expect(count("stale")).toBe(2);
    expect(count("recovered")).toBe(1);
  });

  it("exits 0 when every job is fresh", async () => {
    const w = (world = await createNotifyWorld({ maxAge: "1h" }));
    expect((await w.cli(["run", "ok-job", "--quiet"])).code).toBe(0);
    const result = await w.cli(["watch", "--json"]);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toMatchObject({ stale: false });
    expect(w.hook.requests.filter((r) => JSON.parse(r.text).event === "stale")).toHaveLength(0);
  });
});
