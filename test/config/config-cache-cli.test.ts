// The config cache of read-only commands (src/config/cache.ts) through the built CLI: an edit to the
// config is seen at once, a broken edit is reported as such, and `run` never depends on the cache.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import { makeTempDir } from "../helpers/tmp.js";

const job = (command: string) => ({ steps: [{ name: "say", type: "exec", command: ["echo", command] }] });

describe("config cache (status, history, show, logs, metrics)", () => {
  it("sees every edit at once, and a broken edit as broken", async () => {
    const dir = makeTempDir();
    const cacheHome = path.join(dir, "cache");
    const env = { XDG_CACHE_HOME: cacheHome };
    const config = writeTestConfig(dir, { jobs: { alpha: job("a") } });
    const jobs = async () => {
      const result = await config.run(["status", "--json"], { env });
      expectExit(result, 0);
      return (JSON.parse(result.stdout) as { jobs: Array<{ name: string }> }).jobs.map((j) => j.name);
    };
    expect(await jobs()).toEqual(["alpha"]);
    // Beside it: v8/, the CLI's code cache (src/cli/load-program.ts).
    const cached = fs.readdirSync(path.join(cacheHome, "holdfast")).filter((name) => name !== "v8");
    expect(cached).toHaveLength(1);
    expect(await jobs()).toEqual(["alpha"]);

    writeTestConfig(dir, { jobs: { alpha: job("a"), beta: job("b") } });
    expect(await jobs()).toEqual(["alpha", "beta"]);
    expectExit(await config.run(["run", "beta"], { env }), 0);
    const history = await config.run(["history", "--json"], { env });
    expectExit(history, 0);
    expect(history.stdout).toContain('"beta"');

    fs.appendFileSync(config.file, "jobs: {\n");
    const broken = await config.run(["status"], { env });
    expectExit(broken, 2);
    expect(broken.stderr).toMatch(/holdfast\.yaml:\d+:\d+/);
  });
});
