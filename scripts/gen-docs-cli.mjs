// The command reference of docs/cli.md and the man page holdfast.1, generated from the commander tree
// the CLI parses with (dist/cli/program.js buildProgram), so every command, argument, flag, default
// and example is the one `holdfast --help` shows. Used by scripts/gen-docs.mjs and test/docs/.
import path from "node:path";

/** The examples a command's --help prints after its options (`$ holdfast …` lines). */
function examplesOf(command) {
  let text = "";
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  const at = text.indexOf("\nExamples:\n");
  if (at < 0) return [];
  return text
    .slice(at)
    .split("\n")
    .filter((line) => line.startsWith("  $ "))
    .map((line) => line.slice(4));
}

function optionsOf(command) {
  return command.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      flags: o.flags,
      long: o.long,
      short: o.short,
      description: o.description,
      defaultValue: o.defaultValue,
      takesValue: o.required || o.optional,
    }));
}

/** Every command (groups and leaves), depth first, in the order of `holdfast --help`. */
export function commandTree(program) {
  const out = [];
  const visit = (command, parents) => {
    for (const sub of command.commands) {
      if (sub._hidden) continue;
      const names = [...parents, sub.name()];
      out.push({
        names,
        name: names.join(" "),
        anchor: names.join("-"),
        description: sub.description(),
        arguments: sub.registeredArguments.map((a) => ({
          name: a.name(),
          required: a.required,
          variadic: a.variadic,
          description: a.description,
          usage: `${a.required ? "<" : "["}${a.name()}${a.variadic ? "..." : ""}${a.required ? ">" : "]"}`,
        })),
        options: optionsOf(sub),
        examples: examplesOf(sub),
        subcommands: sub.commands.filter((c) => !c._hidden).map((c) => c.name()),
        passesThrough: sub._allowUnknownOption === true,
      });
      visit(sub, names);
    }
  };
  visit(program, []);
  return { globals: optionsOf(program), examples: examplesOf(program), commands: out, program };
}

export async function loadProgram(root) {
  const { buildProgram } = await import(path.join(root, "dist/cli/program.js"));
  return buildProgram(() => {});
}

const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\n/g, " ");

function synopsis(command) {
  const args = command.arguments.map((a) => a.usage).join(" ");
  if (command.subcommands.length > 0) return `holdfast ${command.name} <command>`;
  return `holdfast ${command.name}${command.options.length > 0 ? " [options]" : ""}${args ? ` ${args}` : ""}`;
}

function defaultText(option) {
  if (option.defaultValue === undefined || option.defaultValue === false) return "";
  return `\`${String(option.defaultValue)}\``;
}

/** The generated markdown of cli.md: global options, then a section per command. */
export function renderCliReference(tree) {
  const out = [];
  out.push('<a id="global-options"></a>', "", "### Global options", "");
  out.push("| option | description |", "|---|---|");
  for (const o of tree.globals) out.push(`| \`${o.flags}\` | ${cell(o.description)} |`);
  out.push("| `-h, --help` | help for holdfast or for any command (`holdfast run --help`) |", "");
  out.push("| command | what it does |", "|---|---|");
  for (const c of tree.commands) out.push(`| [\`${c.name}\`](#${c.anchor}) | ${cell(c.description)} |`);
  out.push("");
  for (const c of tree.commands) {
    out.push(`<a id="${c.anchor}"></a>`, "", `### \`holdfast ${c.name}\``, "");
    out.push(`${c.description[0].toUpperCase()}${c.description.slice(1)}.`, "");
    out.push("```", synopsis(c), "```", "");
    if (c.subcommands.length > 0) {
      out.push(`Commands: ${c.subcommands.map((s) => `[\`${s}\`](#${c.anchor}-${s})`).join(", ")}.`, "");
    }
    if (c.arguments.length > 0) {
      out.push("| argument | description |", "|---|---|");
      for (const a of c.arguments) out.push(`| \`${a.usage}\` | ${cell(a.description)} |`);
      out.push("");
    }
    if (c.passesThrough) out.push("Options after `--` are passed on as they are.", "");
    if (c.options.length > 0) {
      out.push("| option | description | default |", "|---|---|---|");
      for (const o of c.options) out.push(`| \`${o.flags}\` | ${cell(o.description)} | ${defaultText(o)} |`);
      out.push("");
    }
    if (c.examples.length > 0) out.push("```sh", ...c.examples.map((e) => `$ ${e}`), "```", "");
  }
  return out.join("\n");
}

// roff: a line starting with . or ' is a request; backslashes and hyphens are escaped.
const roff = (text) =>
  String(text)
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1")
    .replace(/`([^`]+)`/g, "\\fB$1\\fR")
    // Plain ASCII out: groff without preconv reads the input as Latin-1.
    .replace(
      /[\u0080-\u{10FFFF}]/gu,
      (ch) => `\\[u${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`,
    );

/** holdfast.1: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS (every command with its flags), … */
export function renderManPage(tree, { version, exitCodes, files, environment, seeAlso }) {
  const out = [];
  out.push(
    "'\\\" t",
    '.\\" Generated by scripts/gen-docs.mjs from the commander tree (npm run docs); do not edit.',
    `.TH HOLDFAST 1 "" "holdfast ${version}" "User Commands"`,
    ".SH NAME",
    "holdfast \\- backups that tell the truth: restic, rsync and git steps as one declarative job",
    ".SH SYNOPSIS",
    ".B holdfast",
    "[\\fB\\-\\-config\\fR \\fIpath\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]",
    ".SH DESCRIPTION",
    roff(tree.program.description()),
    "One YAML file declares repositories, sources, jobs of steps and notifications;",
    ".B holdfast run",
    "executes a job with real restic, rsync and git, records every step in its history database,",
    "and never stays silent about a failure or a warning.",
    "The config file is described in",
    ".I config.md",
    "and the JSON output in",
    ".I cli.md",
    "(installed with the package under",
    ".IR docs/ ).",
    ".SH OPTIONS",
  );
  for (const o of [
    ...tree.globals,
    { flags: "-h, --help", description: "help for holdfast or for any command" },
  ]) {
    out.push(".TP", `.B ${roff(o.flags)}`, roff(o.description));
  }
  out.push(".SH COMMANDS");
  for (const c of tree.commands) {
    const args = c.arguments.map((a) => roff(a.usage)).join(" ");
    out.push(".TP", `.B holdfast ${roff(c.name)}${args ? ` \\fR${args}` : ""}`, roff(c.description));
    for (const a of c.arguments) out.push(".RS", ".TP", `.I ${roff(a.usage)}`, roff(a.description), ".RE");
    for (const o of c.options) {
      const def =
        o.defaultValue !== undefined && o.defaultValue !== false
          ? ` (default: ${roff(String(o.defaultValue))})`
          : "";
      out.push(".RS", ".TP", `.B ${roff(o.flags)}`, `${roff(o.description)}${def}`, ".RE");
    }
  }
  out.push(".SH EXIT STATUS");
  for (const [code, meaning] of exitCodes) out.push(".TP", `.B ${code}`, roff(meaning));
  out.push(".SH ENVIRONMENT");
  for (const [name, meaning] of environment) out.push(".TP", `.B ${name}`, roff(meaning));
  out.push(".SH FILES");
  for (const [name, meaning] of files) out.push(".TP", `.I ${roff(name)}`, roff(meaning));
  out.push(".SH EXAMPLES", ".nf");
  const seen = new Set();
  for (const e of [...tree.examples, ...tree.commands.flatMap((c) => c.examples.slice(0, 2))]) {
    if (seen.has(e)) continue;
    seen.add(e);
    out.push(`$ ${roff(e)}`);
  }
  out.push(".fi", ".SH SEE ALSO", seeAlso.map((s) => `.BR ${s}`).join("\n"));
  return `${out.join("\n")}\n`;
}
