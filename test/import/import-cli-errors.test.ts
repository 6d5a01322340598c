// `holdfast import` with bad input and closed pipes (docs/cli.md): an output in a directory that does
// not exist, a directory as the output, an existing output without --force, a missing input file, an
// unknown tool or flag — each a clear error with exit 2 and never an internal error or a trace; and
// `import … -o - | head -1` ends quietly with exit 0.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, REPO_ROOT, runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/import/autorestic/quick.yml");
let dir: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-import-errors-");
});
afterAll(() => removeDir(dir));

const noTrace = (text: string) => {
  expect(text).not.toMatch(/internal error|\n\s+at |crash/);
};

describe("holdfast import: bad input", () => {
  it("names what is wrong, exits 2, writes nothing", async () => {
    const missingDir = await runCli([
      "import",
      "autorestic",
      FIXTURE,
      "-o",
      path.join(dir, "nope/holdfast.yaml"),
    ]);
    expect(missingDir.code, missingDir.stderr).toBe(2);
    expect(missingDir.stderr).toContain(
      `cannot write ${path.join(dir, "nope/holdfast.yaml")} (no directory ${path.join(dir, "nope")})`,
    );
    noTrace(missingDir.stderr);

    const existing = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(existing, "# mine\n");
    const kept = await runCli(["import", "autorestic", FIXTURE, "-o", existing]);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toContain("--force");
    expect(fs.readFileSync(existing, "utf8")).toBe("# mine\n");

    const sub = path.join(dir, "a-directory");
    fs.mkdirSync(sub);
    const intoDir = await runCli(["import", "autorestic", FIXTURE, "-o", sub, "--force"]);
    expect(intoDir.code, intoDir.stderr).toBe(2);
    expect(intoDir.stderr).toContain("names a directory");
    noTrace(intoDir.stderr);
    expect(fs.statSync(sub).isDirectory()).toBe(true);

    for (const args of [
      ["import", "autorestic", path.join(dir, "missing.yml"), "-o", "-"],
      ["import", "borgmatic", FIXTURE, "-o", "-"],
      ["import", "autorestic", FIXTURE, "--no-such-flag"],
      ["import", "autorestic"],
    ]) {
      const r = await runCli(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/error/);
      noTrace(r.stderr);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(["a-directory", "holdfast.yaml"]);
  });

  it("-o - into a pipe closed at once (| true) or after a line (| head -1): exit 0, no trace", async () => {
    for (const reader of ["true", "head -1"]) {
      await closedPipe(reader);
    }
  });
});

async function closedPipe(reader: string): Promise<void> {
  {
    // pipefail: the pipeline's code is holdfast's when holdfast fails.
    const child = spawn(
      "bash",
      [
        "-c",
        `set -o pipefail; '${process.execPath}' '${CLI}' import autorestic '${FIXTURE}' -o - | ${reader}`,
      ],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code, `| ${reader}: ${stderr}`).toBe(0);
    expect(stdout.split("\n").filter(Boolean).length).toBeLessThanOrEqual(1);
    noTrace(stderr);
  }
}
