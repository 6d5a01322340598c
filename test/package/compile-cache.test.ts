// The built CLI loads its bundle through V8's code cache (src/cli/load-program.ts): the first run of a
// command writes the bytecode, later runs read it, and a cache that is damaged, foreign or stale is
// replaced or left alone — never a failed command.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

function setup() {
  const dir = makeTempDir();
  const config = writeConfig(
    dir,
    [
      "version: 1",
      `state_dir: ${path.join(dir, "state")}`,
      "jobs:",
      "  j:",
      "    steps:",
      '      - { name: t, type: exec, command: ["true"] }',
      "",
    ].join("\n"),
  );
  const cacheHome = path.join(dir, "cache");
  const v8 = path.join(cacheHome, "holdfast", "v8");
  const run = (args = ["--config", config, "run", "-q"], env: Record<string, string> = {}) =>
    runCli(args, { env: { XDG_CACHE_HOME: cacheHome, ...env } });
  const files = () => (fs.existsSync(v8) ? fs.readdirSync(v8).filter((n) => !n.startsWith(".")) : []);
  return { run, v8, files, config };
}

describe("the CLI's code cache", () => {
  it("is written by a command's first run (0600 in 0700) and read, not rewritten, by the next", async () => {
    const { run, v8, files, config } = setup();
    expect((await run()).code).toBe(0);
    expect(files()).toEqual([expect.stringMatching(/^[0-9a-f]{16}-run\.bin$/)]);
    const file = path.join(v8, files()[0]!);
    expect(fs.statSync(v8).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const first = fs.statSync(file);
    expect(first.size).toBeGreaterThan(100_000);
    const again = await run();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("succeeded");
    expect(fs.statSync(file).ino).toBe(first.ino);
    // Another command gets its own file: V8 keeps only what the command compiled.
    expect((await run(["--config", config, "status"])).code).toBe(0);
    expect(files().sort()).toEqual(
      [expect.stringMatching(/-run\.bin$/), expect.stringMatching(/-status\.bin$/)].sort(),
    );
  });

  it("replaces damaged bytecode (V8 rejects it) and the command still runs", async () => {
    const { run, v8, files } = setup();
    expect((await run()).code).toBe(0);
    const file = path.join(v8, files()[0]!);
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const result = await run();
    expect(result.code).toBe(0);
    expect(fs.readFileSync(file).equals(Buffer.alloc(4096, 7))).toBe(false);
    expect(fs.statSync(file).size).toBeGreaterThan(100_000);
  });

  it("is neither read nor written in a directory others may write", async () => {
    const { run, v8, files } = setup();
    expect((await run()).code).toBe(0);
    const file = path.join(v8, files()[0]!);
    fs.writeFileSync(file, "planted");
    fs.chmodSync(v8, 0o777);
    expect((await run()).code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toBe("planted");
  });

  it("makes nothing, not even v8/, in a holdfast cache directory others may write", async () => {
    const { run, v8 } = setup();
    fs.mkdirSync(path.dirname(v8), { recursive: true });
    fs.chmodSync(path.dirname(v8), 0o777);
    expect((await run()).code).toBe(0);
    expect(fs.existsSync(v8)).toBe(false);
  });

  it("is not used for a mistyped command, nor with HOLDFAST_NO_COMPILE_CACHE", async () => {
    const { run, files } = setup();
    expect((await run(["statsu"])).code).toBe(2);
    expect((await run(undefined, { HOLDFAST_NO_COMPILE_CACHE: "1" })).code).toBe(0);
    expect(files()).toEqual([]);
  });
});
