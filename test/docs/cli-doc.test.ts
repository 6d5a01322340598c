// docs/cli.md and man/holdfast.1 list every command and flag the CLI has. Checked against what the
// built CLI itself prints for `--help` (parsed here, not taken from the generator), so a command or a
// flag added to src/cli/program.ts without `npm run docs` fails this test; and every exit code of
// errors.ts EXIT and every error kind is in cli.md's tables.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT, runCli } from "../helpers/cli.js";
import { EXIT, ERROR_KINDS } from "../../src/errors.js";
import { RUN_STATUSES, STEP_STATUSES } from "../../src/store/types.js";

const CLI_MD = fs.readFileSync(path.join(REPO_ROOT, "docs/cli.md"), "utf8");
const MAN = fs.readFileSync(path.join(REPO_ROOT, "man/holdfast.1"), "utf8");

/** The sub-commands and the flags of `holdfast [names…] --help`, read from its text. */
async function help(names: string[]): Promise<{ commands: string[]; flags: string[] }> {
  const result = await runCli([...names, "--help"]);
  expect(result.code).toBe(0);
  const commands: string[] = [];
  const flags: string[] = [];
  let section = "";
  for (const line of result.stdout.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line;
    const item = /^ {2}(\S+)/.exec(line)?.[1];
    if (!item) continue;
    if (section === "Commands:" && item !== "help") commands.push(item);
    if (section === "Options:") {
      const long = /^ {2}(?:-\w, )?(--[\w-]+)/.exec(line)?.[1];
      if (long && long !== "--help") flags.push(long);
    }
  }
  return { commands, flags };
}

async function everyCommand(): Promise<Array<{ names: string[]; flags: string[] }>> {
  const out: Array<{ names: string[]; flags: string[] }> = [];
  const visit = async (names: string[]) => {
    const { commands, flags } = await help(names);
    if (names.length > 0) out.push({ names, flags });
    for (const c of commands) await visit([...names, c]);
  };
  await visit([]);
  return out;
}

/** The part of cli.md about one command: from its heading to the next command's. */
function section(names: string[]): string | null {
  const heading = `### \`holdfast ${names.join(" ")}\``;
  const at = CLI_MD.indexOf(`${heading}\n`);
  if (at < 0) return null;
  const next = CLI_MD.indexOf("\n### ", at + heading.length);
  return CLI_MD.slice(at, next < 0 ? undefined : next);
}

describe("docs/cli.md and the man page", () => {
  test("every command and every flag of --help is documented", async () => {
    const commands = await everyCommand();
    expect(commands.map((c) => c.names.join(" "))).toEqual(
      expect.arrayContaining(["run", "config validate", "schedule install", "restic"]),
    );
    // The --help parsing itself sees the flags (a parser that found none would pass vacuously).
    expect(commands.find((c) => c.names.join(" ") === "run")?.flags).toEqual(
      expect.arrayContaining(["--all", "--step", "--dry-run", "--json", "--wait"]),
    );
    expect(commands.find((c) => c.names.join(" ") === "schedule install")?.flags).toContain("--root");
    const missing: string[] = [];
    for (const { names, flags } of commands) {
      const text = section(names);
      if (text === null) {
        missing.push(`holdfast ${names.join(" ")} (no section in cli.md)`);
        continue;
      }
      for (const flag of flags) if (!text.includes(flag)) missing.push(`holdfast ${names.join(" ")} ${flag}`);
      const name = names.join(" ").replace(/-/g, "\\-");
      if (!MAN.includes(`.B holdfast ${name}`))
        missing.push(`holdfast ${names.join(" ")} (not in holdfast.1)`);
      for (const flag of flags)
        if (!MAN.includes(flag.replace(/-/g, "\\-")))
          missing.push(`holdfast ${names.join(" ")} ${flag} (not in holdfast.1)`);
    }
    expect(missing).toEqual([]);
  });

  test("every command's --help has a realistic example (a group's sub-commands carry their own)", async () => {
    const commands = await everyCommand();
    const noExample: string[] = [];
    for (const { names } of commands) {
      const { commands: subs } = await help(names);
      if (subs.length > 0) continue;
      const result = await runCli([...names, "--help"]);
      const example = /\nExamples:\n {2}\$ .*\bholdfast [a-z]/.test(result.stdout);
      if (!example) noExample.push(`holdfast ${names.join(" ")}`);
    }
    expect(commands.length).toBeGreaterThan(30);
    expect(noExample).toEqual([]);
  });

  test("a usage error exits 2 at every depth of the command tree (serve token add is three deep)", async () => {
    for (const args of [
      ["--bogus"],
      ["run", "--bogus"],
      ["fleet", "id", "--bogus"],
      ["serve", "token", "add", "--bogus", "x"],
      ["serve", "token", "add"],
      ["serve", "token", "remove"],
    ]) {
      const result = await runCli(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(/^error: (unknown option|missing required argument)/);
    }
  });

  test("the global options are documented", async () => {
    const { flags } = await help([]);
    expect(flags).toEqual(expect.arrayContaining(["--config", "--version"]));
    const globals = CLI_MD.slice(CLI_MD.indexOf("### Global options"), CLI_MD.indexOf('<a id="run"></a>'));
    for (const flag of flags) expect(globals).toContain(flag);
  });

  test("every exit code, error kind and status has a row", () => {
    const rows = (anchor: string) => {
      const at = CLI_MD.indexOf(`<a id="${anchor}"></a>`);
      expect(at).toBeGreaterThan(0);
      return CLI_MD.slice(at, CLI_MD.indexOf("\n<a id=", at + 1));
    };
    for (const code of [...Object.values(EXIT), 130, 143])
      expect(rows("exit-codes")).toContain(`\n| ${code} |`);
    for (const kind of ERROR_KINDS) expect(rows("error-kinds")).toContain(`| \`${kind}\` |`);
    for (const status of [...RUN_STATUSES, ...STEP_STATUSES])
      expect(rows("statuses")).toContain(`| \`${status}\` |`);
    for (const code of Object.values(EXIT)) expect(MAN).toContain(`.TP\n.B ${code}\n`);
  });

  test("the man page is well-formed roff (groff reports no problem)", () => {
    const result = spawnSync("groff", ["-man", "-t", "-ww", "-z", path.join(REPO_ROOT, "man/holdfast.1")], {
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
