// R5: every malformed config in the corpus exits 2, with every error as FILE:LINE:COL, a hint,
// and never a stack trace — through the real CLI, for both `config validate` and `run`.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT, runCli } from "../helpers/cli.js";

const CORPUS = path.join(REPO_ROOT, "test/fixtures/configs/bad");
const files = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function expectations(file: string) {
  const text = fs.readFileSync(path.join(CORPUS, file), "utf8");
  const expect_ = /^# expect: (.*)$/m.exec(text)?.[1] ?? "";
  const line = /^# line: (\d+)$/m.exec(text)?.[1];
  return { fragment: expect_, line: line ? Number(line) : null };
}

const ISSUE_LINE = /^(.+):(\d+):(\d+) {2}(\S+) {2}(.+) \((.+)\)$/;

describe("malformed config corpus", () => {
  test("has at least 50 cases", () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  test.concurrent.each(files)("%s", async (file) => {
    const configPath = path.join(CORPUS, file);
    const { fragment, line } = expectations(file);
    for (const args of [["config", "validate"], ["run"]]) {
      const result = await runCli(["--config", configPath, ...args], { env: { HOME: "/nonexistent-home" } });
      expect(result.code, `${args.join(" ")} exit code; stderr:\n${result.stderr}`).toBe(2);
      expect(result.stderr).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m);
      expect(result.stderr).not.toMatch(/internal error/);
      const issueLines = result.stderr.split("\n").filter((l) => l.startsWith(configPath));
      expect(issueLines.length, result.stderr).toBeGreaterThan(0);
      for (const l of issueLines) expect(l, "FILE:LINE:COL  path  message (hint)").toMatch(ISSUE_LINE);
      if (fragment) expect(result.stderr).toContain(fragment);
      if (line !== null) {
        const lines = issueLines.map((l) => Number(ISSUE_LINE.exec(l)?.[2]));
        expect(lines, result.stderr).toContain(line);
      }
      // Nothing ran: no state dir was created next to the config, no history.
      expect(result.stdout).not.toMatch(/run .* started/);
    }
  });
});
