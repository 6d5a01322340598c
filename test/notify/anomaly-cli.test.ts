// Anomaly warnings end to end: a real `mirror` step (rsync) whose transferred bytes jump far above its
// history raises a `warning` with the figures; the run still succeeds with exit 0.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";
import { startReceiver, type Receiver } from "./receiver.js";

const hasRsync = (() => {
  try {
    execFileSync("rsync", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let receiver: Receiver | null = null;
afterEach(async () => {
  await receiver?.close();
  receiver = null;
});

describe.skipIf(!hasRsync)("anomaly warnings from real runs", () => {
  it("warn with the figures when a mirror transfers far more than usual; the run's result is unchanged", async () => {
    const dir = makeTempDir("holdfast-anomaly-");
    const hook = (receiver = await startReceiver());
    fs.mkdirSync(path.join(dir, "src"));
    const config = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
jobs:
  j:
    notify: [hook]
    steps:
      - { name: logseq, type: mirror, from: ${dir}/src/, to: ${dir}/dst/ }
notifications:
  hook: { type: webhook, url: "${hook.url}/hook", events: [success, warning] }
`,
    );
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(dir, "src", `note-${i}.md`), `note ${i}\n`.repeat(100));
      expect((await runCli(["--config", config, "run", "-q"])).code).toBe(0);
    }
    expect(hook.requests.map((r) => JSON.parse(r.text).event)).toEqual(Array(5).fill("success"));

    // A runaway file: 80 MiB, where every earlier run moved about a kilobyte.
    const big = Buffer.alloc(80 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(path.join(dir, "src", "runaway.log"), big);
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(0);
    const run = parseJson(result);
    expect(run.status).toBe("succeeded");

    const events = hook.requests.map((r) => JSON.parse(r.text));
    expect(events.slice(5).map((e) => e.event)).toEqual(["success", "warning"]);
    const warning = events[6];
    expect(warning.run.id).toBe(run.id);
    expect(warning.run.status).toBe("succeeded");
    expect(warning.title).toMatch(/j on .*: 1 unusual figure/);
    expect(warning.details.anomalies).toHaveLength(1);
    const anomaly = warning.details.anomalies[0];
    expect(anomaly).toMatchObject({
      step: "logseq",
      type: "mirror",
      figure: "bytes_transferred",
      direction: "high",
      history: 5,
    });
    expect(anomaly.value).toBeGreaterThanOrEqual(80 * 1024 * 1024);
    expect(anomaly.median).toBeLessThan(10_000);

    // The next ordinary run: its baseline now includes the outlier, and the median shrugs it off.
    fs.writeFileSync(path.join(dir, "src", "note-9.md"), "small\n");
    expect((await runCli(["--config", config, "run", "-q"])).code).toBe(0);
    expect(hook.requests.map((r) => JSON.parse(r.text).event).slice(7)).toEqual(["success"]);
  });
});
