#!/usr/bin/env node
// `npm run docs`: writes the generated parts of the manual from the code that they describe, so the
// reference cannot drift from what holdfast accepts. Reads the built dist/ (`npm run build` first).
//
//   docs/config.md   the reference tables between the `generated:config-reference` markers, from the
//                    zod schema (scripts/gen-docs-config.mjs); the prose around them is hand-written
//   docs/cli.md      the commands, arguments, flags and examples (`generated:cli-commands`), from the
//                    commander tree (scripts/gen-docs-cli.mjs); the exit codes, error kinds and
//                    statuses (`generated:cli-codes`) from errors.ts and store/types.ts, with the
//                    meanings below — a code or kind without one stops the generator
//   man/holdfast.1   the man page, from the same commander tree and tables
//
//   node scripts/gen-docs.mjs           write them
//   node scripts/gen-docs.mjs --check   write nothing; exit 1 naming each part that is out of date
//                                       (test/docs/config-doc.test.ts runs this)
//   --root DIR                          the package root whose docs are written or checked
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { exampleFinder, loadConfigReference, renderConfigReference } from "./gen-docs-config.mjs";
import { commandTree, loadProgram, renderCliReference, renderManPage } from "./gen-docs-cli.mjs";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const rootAt = args.indexOf("--root");
const docsRoot = rootAt >= 0 ? path.resolve(args[rootAt + 1]) : here;

if (!fs.existsSync(path.join(here, "dist/config/schema.js"))) {
  console.error("gen-docs: dist/ is missing; run `npm run build` first");
  process.exit(2);
}

/** Replaces the text between `<!-- generated:NAME ... -->` and `<!-- /generated:NAME -->`. */
function replaceBlock(text, name, body, file) {
  const begin = new RegExp(`<!-- generated:${name}\\b[^>]*-->\\n`);
  const end = `<!-- /generated:${name} -->`;
  const start = begin.exec(text);
  const stop = text.indexOf(end);
  if (!start || stop < start.index) {
    throw new Error(`${file}: the markers <!-- generated:${name} … --> and ${end} are missing`);
  }
  const from = start.index + start[0].length;
  return `${text.slice(0, from)}\n${body.trim()}\n\n${text.slice(stop)}`;
}

const outputs = [];

// docs/config.md
{
  const file = path.join(docsRoot, "docs/config.md");
  const reference = await loadConfigReference(here);
  const examples = fs
    .readdirSync(path.join(docsRoot, "docs/examples"))
    .filter((f) => f.endsWith(".yaml"))
    .sort((a, b) => (a === "reference.yaml" ? -1 : b === "reference.yaml" ? 1 : a.localeCompare(b)))
    .map((f) => path.join(docsRoot, "docs/examples", f));
  const current = fs.readFileSync(file, "utf8");
  const body = renderConfigReference(reference, exampleFinder(examples));
  outputs.push({
    file,
    name: "config-reference",
    current,
    next: replaceBlock(current, "config-reference", body, file),
  });
}

// What each exit code, error kind and status means. The codes and names come from the code; a new one
// without a meaning here stops the generator (and so the docs test) until it is explained.
const EXIT_MEANINGS = {
  ok: "success: the job (every job, with several) succeeded; a read command found what it was asked",
  failed: "failure: a step failed, a repository could not be reached, a restore did not complete",
  usage:
    "usage or config error: a bad flag, an unknown job, a config that does not validate — nothing was run",
  warning: "the job completed with warnings (restic could not read some files, an anomaly, `warning_codes`)",
  busy: "the job is already running: another holdfast holds its lock (`run --wait` waits instead)",
};
const SIGNAL_EXITS = [
  [130, "interrupted by SIGINT (Ctrl-C); the run is recorded as `cancelled`"],
  [143, "stopped by SIGTERM (systemd stopping the unit); the run is recorded as `cancelled`"],
];
const ERROR_KIND_MEANINGS = {
  config: "the config cannot work as written (nothing of the step ran)",
  guard:
    "a guard stopped the step (docs/guards.md): a source guard refused the backup (no snapshot was made), the mirror guard refused to mirror, or rsync stopped deleting at `max_delete`",
  repo_not_found: "no repository at the location (`holdfast init` creates it)",
  wrong_password: "the password opens no key of the repository",
  repo_locked:
    "another restic holds the repository's lock (`holdfast unlock` removes stale ones, never a live one)",
  network: "the backend did not answer (within `open_timeout`)",
  timeout: "the step's `timeout` passed; it was stopped",
  cancelled: "SIGINT/SIGTERM to holdfast",
  exit_code: "a program failed with an exit code holdfast has no better word for",
  partial: "restic exit 3: some files could not be read; the snapshot exists (a warning)",
  anomaly:
    "what the step found is far from what it should be: the manifest changed more than `max_removed` / `max_changed` allow, a drill compared none of its sample",
  internal: "a bug in holdfast or a crash of restic",
  not_found: "a program or path does not exist",
  permission: "permission denied (also an append-only server refusing a delete)",
  disk_full: "no space left (or no inodes, quota exceeded, a read-only file system)",
  repository_damaged: "the repository is damaged: run a check and repair before pruning",
  leftover_process: "a program exited but left a process holding its output; holdfast ended it (a warning)",
  password_command: "a repository's `password_command` failed, or hung past `password_command_timeout`",
  history: "the run's record could not be written to the history database (the steps ran as recorded)",
};
const RUN_STATUS_MEANINGS = {
  running: "the run is going on",
  succeeded: "every step succeeded",
  warning: "it completed; a step ended with a warning",
  failed: "a step failed",
  cancelled: "stopped by SIGINT or SIGTERM",
  interrupted:
    "its process died without finishing it (SIGKILL, power loss); recorded so at the next holdfast start",
};
const STEP_STATUS_MEANINGS = {
  pending: "not started yet",
  running: "going on",
  succeeded: "done",
  warning: "done, with a warning (its `error` says what)",
  failed: "failed (its `error` says why)",
  skipped: "not run: an earlier step failed and stopped the job, or the run was cancelled",
  cancelled: "stopped with the run",
  timed_out: "stopped by its `timeout`",
};

function meanings(names, table, what) {
  const missing = names.filter((n) => !(n in table));
  if (missing.length > 0) {
    throw new Error(`gen-docs: no meaning for ${what} ${missing.join(", ")}; add it to scripts/gen-docs.mjs`);
  }
  return names.map((n) => [n, table[n]]);
}

const errors = await import(path.join(here, "dist/errors.js"));
const types = await import(path.join(here, "dist/store/types.js"));
const exitCodes = [
  ...meanings(Object.keys(errors.EXIT), EXIT_MEANINGS, "exit code").map(([name, m]) => [
    errors.EXIT[name],
    m,
  ]),
  ...SIGNAL_EXITS,
];
const tree = commandTree(await loadProgram(here));

// docs/cli.md
{
  const file = path.join(docsRoot, "docs/cli.md");
  const current = fs.readFileSync(file, "utf8");
  const table = (head, rows) =>
    [
      `| ${head.join(" | ")} |`,
      `|${head.map(() => "---").join("|")}|`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
  const codes = [
    '<a id="exit-codes"></a>',
    "",
    "### Exit codes",
    "",
    table(
      ["code", "meaning"],
      exitCodes.map(([c, m]) => [String(c), m]),
    ),
    "",
    '<a id="error-kinds"></a>',
    "",
    "### Error kinds",
    "",
    "`error.kind` of a run, a step or a target; [troubleshooting.md](troubleshooting.md) says what to do about the common ones:",
    "",
    table(
      ["kind", "meaning"],
      meanings([...errors.ERROR_KINDS], ERROR_KIND_MEANINGS, "error kind").map(([k, m]) => [`\`${k}\``, m]),
    ),
    "",
    '<a id="statuses"></a>',
    "",
    "### Statuses",
    "",
    table(
      ["run status", "meaning"],
      meanings([...types.RUN_STATUSES], RUN_STATUS_MEANINGS, "run status").map(([k, m]) => [`\`${k}\``, m]),
    ),
    "",
    table(
      ["step status", "meaning"],
      meanings([...types.STEP_STATUSES], STEP_STATUS_MEANINGS, "step status").map(([k, m]) => [
        `\`${k}\``,
        m,
      ]),
    ),
  ].join("\n");
  let next = replaceBlock(current, "cli-commands", renderCliReference(tree), file);
  next = replaceBlock(next, "cli-codes", codes, file);
  outputs.push({ file, name: "cli-commands, cli-codes", current, next });
}

// man/holdfast.1
{
  const file = path.join(docsRoot, "man/holdfast.1");
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const pkg = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"));
  const next = renderManPage(tree, {
    version: pkg.version,
    exitCodes,
    environment: [
      ["HOLDFAST_CONFIG", "the config file, when --config is not given"],
      [
        "XDG_CONFIG_HOME",
        "where the per-user config is looked for ($XDG_CONFIG_HOME/holdfast/holdfast.yaml)",
      ],
      ["XDG_STATE_HOME", "the default state_dir of a user (history, logs, locks)"],
      ["NO_COLOR", "no colour, even on a terminal"],
    ],
    files: [
      ["./holdfast.yaml", "the config, when found in the current directory"],
      ["~/.config/holdfast/holdfast.yaml", "a user's config"],
      ["/etc/holdfast/holdfast.yaml", "the system's config"],
      ["/var/lib/holdfast", "the state directory as root: history.db, run logs, locks"],
    ],
    seeAlso: ["restic (1),", "rsync (1),", "systemd.timer (5),", "journalctl (1)"],
  });
  outputs.push({ file, name: "man page", current, next });
}

let stale = 0;
for (const { file, name, current, next } of outputs) {
  const rel = path.relative(docsRoot, file);
  if (current === next) continue;
  if (check) {
    stale++;
    const a = current.split("\n");
    const b = next.split("\n");
    let line = 0;
    while (line < a.length && a[line] === b[line]) line++;
    console.error(
      `${rel}: the generated part "${name}" is out of date (first difference at line ${line + 1})`,
    );
    console.error(`  in the file: ${JSON.stringify(a[line] ?? "")}`);
    console.error(`  generated:   ${JSON.stringify(b[line] ?? "")}`);
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, next);
    console.log(`wrote ${rel} (${name})`);
  }
}
if (stale > 0) {
  console.error("run `npm run build && npm run docs` and commit the result");
  process.exit(1);
}
