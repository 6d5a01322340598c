// `holdfast completion bash|zsh|fish`: the scripts complete the commands and flags the CLI has.
// bash is run for real (the script sourced, `complete -p holdfast`, the completion function called
// as bash would call it on <Tab>); zsh and fish are not installed here, so their scripts are checked
// for the same command lists. What the CLI has is read from its own `--help` output.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";

async function helpCommands(names: string[]): Promise<string[]> {
  const result = await runCli([...names, "--help"]);
  expect(result.code).toBe(0);
  const commands: string[] = [];
  let section = "";
  for (const line of result.stdout.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line;
    const item = /^ {2}(\w[\w-]*)/.exec(line)?.[1];
    if (section === "Commands:" && item && item !== "help") commands.push(item);
  }
  return commands;
}

let scripts: Record<"bash" | "zsh" | "fish", string>;
let top: string[];

beforeAll(async () => {
  scripts = { bash: "", zsh: "", fish: "" };
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const result = await runCli(["completion", shell]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    scripts[shell] = result.stdout;
  }
  top = await helpCommands([]);
  expect(top).toEqual(expect.arrayContaining(["run", "config", "schedule", "completion"]));
});

/** COMPREPLY after <Tab> on the words typed (the last one is being completed). */
function bashComplete(words: string[]): string[] {
  const dir = makeTempDir();
  const file = path.join(dir, "holdfast.bash");
  fs.writeFileSync(file, scripts.bash);
  const quoted = words.map((w) => `'${w}'`).join(" ");
  const script = `source ${file}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _holdfast; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  return result.stdout.split("\n").filter(Boolean);
}

describe("holdfast completion", () => {
  test("bash: sourcing the script registers the completion", () => {
    const dir = makeTempDir();
    const file = path.join(dir, "holdfast.bash");
    fs.writeFileSync(file, scripts.bash);
    const result = spawnSync(
      "bash",
      ["--norc", "--noprofile", "-c", `source ${file} && complete -p holdfast`],
      {
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe("complete -o default -F _holdfast holdfast");
  });

  test("bash: <Tab> offers the program's commands, sub-commands and flags", async () => {
    expect(bashComplete(["holdfast", ""])).toEqual(top);
    expect(bashComplete(["holdfast", "sch"])).toEqual(["schedule"]);
    expect(bashComplete(["holdfast", "schedule", ""])).toEqual(await helpCommands(["schedule"]));
    expect(bashComplete(["holdfast", "--config", "x.yaml", "config", ""])).toEqual(
      await helpCommands(["config"]),
    );
    expect(bashComplete(["holdfast", "run", "--d"])).toEqual(["--dry-run"]);
    expect(bashComplete(["holdfast", "schedule", "install", "--r"])).toEqual(["--root"]);
  });

  test("zsh and fish: the scripts list the same commands", () => {
    const zshTop = /^ {4}''\)\n {6}cmds=\((.*)\)$/m.exec(scripts.zsh)?.[1];
    expect(zshTop).toBeDefined();
    expect([...zshTop!.matchAll(/'([\w-]+):/g)].map((m) => m[1])).toEqual(top);
    expect(scripts.zsh.startsWith("#compdef holdfast\n")).toBe(true);
    const fishTop = [
      ...scripts.fish.matchAll(/^complete -c holdfast -n "__holdfast_at ''" -a ([\w-]+) /gm),
    ].map((m) => m[1]);
    expect(fishTop).toEqual(top);
    expect(scripts.fish).toMatch(/-n "__holdfast_at 'schedule'" -a install /);
    expect(scripts.fish).toMatch(/-n "__holdfast_at 'run'" -l dry-run$/m);
  });

  test("an unknown shell is a usage error with the shells to choose from", async () => {
    const result = await runCli(["completion", "tcsh"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no completion for "tcsh"');
    expect(result.stderr).toContain("hint: use one of bash, zsh, fish");
  });
});
