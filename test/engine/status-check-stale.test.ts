// `status --check` is CRITICAL when no backup succeeded within max_age, whatever the job's state —
// also while a run hangs past it (issue 12 item 10; `watch` already said stale).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import { CLI, runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";
import { sleep, waitFor } from "../helpers/reliability.js";

test("status --check: a run hanging past max_age is CRITICAL (stale), not OK", async () => {
  const dir = makeTempDir("holdfast-check-");
  const config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
jobs:
  j:
    max_age: 2s
    steps:
      - { name: s, type: exec, command: [sh, -c, "test -f ${dir}/hang && sleep 60; exit 0"] }
`,
  );
  expect((await runCli(["--config", config, "run", "--quiet"])).code).toBe(0);
  fs.writeFileSync(path.join(dir, "hang"), "");
  const hanging = spawn(process.execPath, [CLI, "--config", config, "run", "--quiet"], { stdio: "ignore" });
  try {
    await waitFor(
      () =>
        fs.existsSync(path.join(dir, "state", "logs")) &&
        fs.readdirSync(path.join(dir, "state", "logs")).length === 2,
      20_000,
      "the hanging run to start",
    );
    await sleep(2_500);
    const check = await runCli(["--config", config, "status", "--check"]);
    expect(check.stdout).toMatch(/^HOLDFAST CRITICAL - j running and stale/);
    expect(check.code).toBe(2);
  } finally {
    hanging.kill("SIGTERM");
    await new Promise((r) => hanging.on("close", r));
  }
});
