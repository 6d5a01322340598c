// The corpus of malformed configs (test/fixtures/configs/bad) and what each file says it must produce;
// read by the config tests and by R5.
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./cli.js";

export const CORPUS = path.join(REPO_ROOT, "test/fixtures/configs/bad");

export const corpusFiles = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

/** The corpus's own expectations: `# expect: FRAGMENT` and `# line: N` comments in each file. */
export function corpusExpectations(file: string): { fragment: string; line: number | null } {
  const text = fs.readFileSync(path.join(CORPUS, file), "utf8");
  const fragment = /^# expect: (.*)$/m.exec(text)?.[1] ?? "";
  const line = /^# line: (\d+)$/m.exec(text)?.[1];
  return { fragment, line: line ? Number(line) : null };
}

/** One error line as the CLI prints it: FILE:LINE:COL  path  message (hint). */
export const ISSUE_LINE = /^(.+):(\d+):(\d+) {2}(\S+) {2}(.+) \((.+)\)$/;
