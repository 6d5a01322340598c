// R5: every malformed config in the corpus exits 2, with every error as FILE:LINE:COL, a hint,
// and never a stack trace — through the real CLI, for both `config validate` and `run`.
import path from "node:path";
import { describe, expect, test } from "vitest";
import { CORPUS, corpusExpectations, corpusFiles, ISSUE_LINE } from "../helpers/config-corpus.js";
import { runCli } from "../helpers/cli.js";

describe("malformed config corpus", () => {
  test("has at least 50 cases", () => {
    expect(corpusFiles.length).toBeGreaterThanOrEqual(50);
  });

  test.concurrent.each(corpusFiles)("%s", async (file) => {
    const configPath = path.join(CORPUS, file);
    const { fragment, line } = corpusExpectations(file);
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
