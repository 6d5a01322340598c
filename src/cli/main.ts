#!/usr/bin/env node
// Entry point: parse → run → map errors to exit codes (cli.md). `--version` answers before any
// heavy import so the CLI's fixed cost stays small (P2); everything else loads the CLI bundle through
// V8's code cache (load-program.ts).
import fs from "node:fs";
import { loadProgram } from "./load-program.js";
import { makeOutputBestEffort } from "./output.js";

makeOutputBestEffort();

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  process.stdout.write(`holdfast ${pkg.version}\n`);
} else {
  const { program, saveCache } = await loadProgram(argv);
  process.exitCode = await program.main(argv);
  saveCache();
}
