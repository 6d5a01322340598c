// A holdfast config for integration tests, written as JSON (YAML is a superset of JSON), with the
// state dir in the test's directory and helpers to run the built CLI against it.
import fs from "node:fs";
import path from "node:path";
import { runCli, type CliOptions, type CliResult } from "./cli.js";

export interface TestConfig {
  dir: string;
  file: string;
  stateDir: string;
  run(args: string[], options?: CliOptions): Promise<CliResult>;
}

/** Writes `config` (state_dir and host filled in) to DIR/holdfast.yaml. */
export function writeTestConfig(
  dir: string,
  config: Record<string, unknown>,
  name = "holdfast.yaml",
): TestConfig {
  const stateDir = path.join(dir, "state");
  const full = { version: 1, state_dir: stateDir, host: "testhost", kill_grace: "3s", ...config };
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  return {
    dir,
    file,
    stateDir,
    run: (args, options = {}) =>
      runCli(["--config", file, ...args], {
        cwd: dir,
        timeoutMs: 300_000,
        ...options,
        env: { XDG_STATE_HOME: path.join(dir, "xdg-state"), ...(options.env ?? {}) },
      }),
  };
}

/** Asserts a CLI exit code with the output in the failure message. */
export function expectExit(result: CliResult, code: number): void {
  if (result.code !== code) {
    throw new Error(
      `expected exit ${code}, got ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}
