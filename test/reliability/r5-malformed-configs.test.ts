// R5: the corpus of malformed configs (test/fixtures/configs/bad, ≥ 50 cases: syntax, types, unknown
// keys, bad references, inline secrets) through the built CLI's `config validate` and `run`: exit 2,
// every error as FILE:LINE:COL  path  message (hint), never a stack trace — in a normal environment
// and in a hostile one (HOME unset, LANG=C, a read-only cwd). The read-only cwd is a read-only tmpfs
// (a chmod would not stop root); where mounting is not allowed it falls back to chmod 0555.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CORPUS, corpusExpectations, corpusFiles, ISSUE_LINE } from "../helpers/config-corpus.js";
import { runCli, type CliOptions } from "../helpers/cli.js";
import { STACK_TRACE } from "../helpers/reliability.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

let root: string;
let roCwd: string;
let roMounted = false;

beforeAll(() => {
  root = makeSharedDir("holdfast-r5-");
  roCwd = path.join(root, "ro");
  fs.mkdirSync(roCwd);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", roCwd], { stdio: "pipe" });
    roMounted = true;
  } catch {
    console.log("R5: mount not permitted: the read-only cwd is a chmod 0555 dir (does not bind root)");
    fs.chmodSync(roCwd, 0o555);
  }
});

afterAll(() => {
  if (roMounted) execFileSync("umount", ["-l", roCwd], { stdio: "pipe" });
  removeDir(root);
});

// Each CLI start costs ~0.4 CPU-seconds; the hostile pass runs `run` only (the command that reads
// HOME, the cwd and the state dir), which keeps R5 near a minute on 2 cores.
const environments: Array<{ name: string; commands: string[][]; options: () => CliOptions }> = [
  {
    name: "normal",
    commands: [["config", "validate"], ["run"]],
    options: () => ({ env: { HOME: "/nonexistent-home" } }),
  },
  {
    name: "hostile (HOME unset, LANG=C, read-only cwd)",
    commands: [["run"]],
    options: () => ({
      cwd: roCwd,
      env: { HOME: undefined, LANG: "C", LC_ALL: undefined, LANGUAGE: undefined, XDG_STATE_HOME: undefined },
    }),
  },
];

describe("R5: malformed configs", () => {
  test("the corpus has at least 50 cases", () => {
    expect(corpusFiles.length).toBeGreaterThanOrEqual(50);
  });

  describe.each(environments)("$name", ({ commands, options }) => {
    test.concurrent.each(corpusFiles)("%s", async (file) => {
      const configPath = path.join(CORPUS, file);
      const { fragment, line } = corpusExpectations(file);
      for (const args of commands) {
        const result = await runCli(["--config", configPath, ...args], options());
        const what = `${args.join(" ")} ${file}; stderr:\n${result.stderr}`;
        expect(result.code, what).toBe(2);
        expect(result.stderr, what).not.toMatch(STACK_TRACE);
        expect(result.stderr, what).not.toMatch(/internal error|crash file/i);
        const issueLines = result.stderr.split("\n").filter((l) => l.startsWith(configPath));
        expect(issueLines.length, what).toBeGreaterThan(0);
        for (const l of issueLines) expect(l, "FILE:LINE:COL  path  message (hint)").toMatch(ISSUE_LINE);
        if (fragment) expect(result.stderr, what).toContain(fragment);
        if (line !== null) {
          const lines = issueLines.map((l) => Number(ISSUE_LINE.exec(l)?.[2]));
          expect(lines, what).toContain(line);
        }
        // Nothing ran.
        expect(result.stdout).not.toMatch(/run .* started/);
      }
    });
  });
});
