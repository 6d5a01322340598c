// The command tree. Each command lives in commands/ (parsing and printing only) and is imported
// when it runs, so `holdfast status` does not pay for the dashboard's dependencies.
import fs from "node:fs";
import { openFlags } from "../util/trusted-dir.js";
import os from "node:os";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { ConfigError, EXIT, HoldfastError, formatConfigIssue } from "../errors.js";
import { errColor, journalPrefix } from "./output.js";
import type { GlobalOptions } from "./context.js";

export { EXIT };

type Action = (global: GlobalOptions) => Promise<number>;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

const examples = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

export function buildProgram(setAction: (action: Action) => void): Command {
  const program = new Command("holdfast")
    .description("Backups that tell the truth: restic, rsync and git steps as one declarative job.")
    .version(version(), "-V, --version")
    .option(
      "-c, --config <path>",
      "config file (default: $HOLDFAST_CONFIG, ./holdfast.yaml, ~/.config/holdfast/holdfast.yaml, /etc/holdfast/holdfast.yaml)",
    )
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      "after",
      examples([
        "holdfast run",
        "holdfast status",
        "holdfast history backup-job --limit 5",
        "holdfast config validate",
      ]),
    );

  // Commander hands each action its positional args then its flags; each command file types its own.
  const on =
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (load: () => Promise<{ default: (...args: any[]) => Promise<number> }>) =>
      (...args: unknown[]) => {
        setAction(async (global) => (await load()).default(global, ...args));
      };

  program
    .command("run")
    .description(
      "run a job (JOB may be left out when there is one job), several in order, or all of them (--all)",
    )
    .argument("[jobs...]", "the jobs to run, in this order (each under its own lock)")
    .option("-a, --all", "run every job of the config, in the config's order")
    .option("-s, --step <name...>", "run only these steps (repeatable)")
    .option(
      "--dry-run",
      "print the plan — each step and the exact commands, secrets masked — and run nothing",
    )
    .option("--json", "print the run as JSON when it ends")
    .option("--wait [duration]", "wait for a running instance of the job to finish (default 6h)")
    .option("-q, --quiet", "do not print the steps' own output")
    .option("--trigger <trigger>", "how this run was started (schedule, daemon, manual)", "manual")
    .addHelpText(
      "after",
      examples([
        "holdfast run",
        "holdfast run backup-job --step local",
        "holdfast run backup-job --dry-run",
        "holdfast run backup-job --json > run.json",
        "holdfast run backup-job --wait 30m",
        "holdfast run databases offsite   # in order; exit code: the worst",
        "holdfast run --all --json",
      ]),
    )
    .action(on(() => import("./commands/run.js")));

  program
    .command("status")
    .description("one line per job: state, last run, age, next run, last duration")
    .option("--json", "print JSON")
    .option(
      "--check",
      "for monitors: Nagios exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and a one-line summary",
    )
    .option("--fleet", "every host of the fleet database (host × job, worst first), on the hub's clock")
    .addHelpText(
      "after",
      examples([
        "holdfast status",
        "holdfast status --json",
        "holdfast status --check || echo backups need attention",
        "holdfast status --fleet",
      ]),
    )
    .action(on(() => import("./commands/status.js")));

  program
    .command("history")
    .description("runs, newest first, with per-step status and duration")
    .argument("[job]", "only this job")
    .option("-n, --limit <n>", "how many runs", "20")
    .option("--json", 'print JSON: {"runs": [...]}')
    .addHelpText("after", examples(["holdfast history", "holdfast history backup-job --limit 5 --json"]))
    .action(on(() => import("./commands/history.js")));

  program
    .command("show")
    .description("one run: steps, durations, summaries, errors")
    .argument("<run>", "run id, a unique prefix of it, or `latest`")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["holdfast show latest", "holdfast show 01JD3 --json"]))
    .action(on(() => import("./commands/show.js")));

  program
    .command("logs")
    .description("a run's captured output")
    .argument("<run>", "run id, a unique prefix of it, or `latest`")
    .option("-s, --step <name>", "only this step")
    .option("-f, --follow", "keep printing while the run goes on")
    .addHelpText(
      "after",
      examples(["holdfast logs latest", "holdfast logs latest --step local", "holdfast logs 01JD3 --follow"]),
    )
    .action(on(() => import("./commands/logs.js")));

  const config = program.command("config").description("check, print and describe the config file");
  config
    .command("validate")
    .description("check the config; prints every error at once (FILE:LINE:COL  path  message (hint))")
    .option("--json", "print the problems as JSON")
    .addHelpText(
      "after",
      examples(["holdfast config validate", "holdfast --config /etc/holdfast/holdfast.yaml config validate"]),
    )
    .action(on(() => import("./commands/config-validate.js")));
  config
    .command("schema")
    .description("print the JSON Schema of the config file (for editors)")
    .addHelpText("after", examples(["holdfast config schema > holdfast.schema.json"]))
    .action(on(() => import("./commands/config-schema.js")));
  config
    .command("show")
    .description("print the effective config (defaults filled in, paths resolved), secrets masked")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["holdfast config show", "holdfast config show --json | jq .jobs"]))
    .action(on(() => import("./commands/config-show.js")));

  // Each group below is registered by its own file's owner; insert new commands above its marker.
  program
    .command("init")
    .description(
      "write a starter config (asks for paths on a TTY), generate repository passwords (0600) and `restic init` the repositories that do not exist yet; with an existing config, create only what is missing",
    )
    .option(
      "--dir <dir>",
      "where to write holdfast.yaml (default: ~/.config/holdfast, or /etc/holdfast as root)",
    )
    .option("-y, --yes", "take the defaults instead of asking")
    .option("--json", "print what was created as JSON")
    .addHelpText(
      "after",
      examples([
        "holdfast init",
        "holdfast init --yes --dir ~/backup-config",
        "holdfast --config /etc/holdfast/holdfast.yaml init   # create the repositories a config names",
      ]),
    )
    .action(on(() => import("./commands/init.js")));

  program
    .command("snapshots")
    .description("the snapshots of each repository (or of one), newest last")
    .argument("[repo]", "only this repository")
    .option("--source <name>", "only snapshots holdfast made of this source")
    .option("--host <host>", "only snapshots made under this host name")
    .option("--meta", "also the holdfast-meta snapshots (the config and history for `holdfast bootstrap`)")
    .option("--json", 'print JSON: {"repositories": [{"name", "snapshots": [...], "error"}]}')
    .addHelpText(
      "after",
      examples([
        "holdfast snapshots",
        "holdfast snapshots local --source home",
        "holdfast snapshots --json | jq '.repositories[].snapshots | length'",
      ]),
    )
    .action(on(() => import("./commands/snapshots.js")));

  program
    .command("restore")
    .description(
      "restore a snapshot into a directory (default snapshot: the latest of the source), or a dumped database into its server (--database)",
    )
    .argument("[repo]", "the repository to restore from (with --database: default the dump step's first)")
    .argument("[snapshot]", "snapshot id (default: latest of --source, or of the only source)")
    .option("-d, --database <name>", "restore this database from its latest dump (a dump step's database)")
    .option("--to-database <name>", "with --database: into this database (created; SQLite: a file path)")
    .option("--snapshot <id>", "the snapshot to restore (same as the SNAPSHOT argument)")
    .option("--dry-run", "with --database: print what would run and the target's state; change nothing")
    .option("-t, --target <dir>", "the directory to restore into (empty, or --force)")
    .option("-i, --include <path...>", "restore only these paths (repeatable)")
    .option("--source <name>", "with the latest snapshot: of this source")
    .option("--host <host>", "with the latest snapshot: made under this host name")
    .option("--verify", "read the restored files back and compare (restic --verify)")
    .option("--force", "restore into a directory that is not empty, or over a database that is not empty")
    .option("--json", "print the result as JSON")
    // `serve` passes the identity of the directory it made for the restore (S7); not for people.
    .addHelpText(
      "after",
      examples([
        "holdfast restore local --target /tmp/restore",
        "holdfast restore local 4bba301e --target /tmp/restore --include /home/sig/Documents",
        "holdfast restore backblaze --source home --target /mnt/new-disk/home --verify",
        "holdfast restore --database shop --to-database shop_restored",
        "holdfast restore --database shop offsite --snapshot 4bba301e --dry-run",
      ]),
    )
    .action(on(() => import("./commands/restore.js")));

  program
    .command("unlock")
    .description(
      "remove stale restic locks (left by a killed restic) of a repository, or of all; never a live one",
    )
    .argument("[repo]", "the repository (default: all of them)")
    .option("--json", "print removed and remaining locks as JSON")
    .addHelpText("after", examples(["holdfast unlock local", "holdfast unlock"]))
    .action(on(() => import("./commands/unlock.js")));

  program
    .command("doctor")
    .description(
      "check restic/rsync/git, the config, secret file modes, each repository (reachable, snapshots, stale locks) and the state dir; say what to fix",
    )
    .option("--json", 'print JSON: {"ok": bool, "checks": [{"check", "status", "message", "hint"}]}')
    .addHelpText(
      "after",
      examples(["holdfast doctor", "holdfast doctor --json | jq '.checks[] | select(.status != \"ok\")'"]),
    )
    .action(on(() => import("./commands/doctor.js")));

  program
    .command("restic")
    .description(
      "run restic itself against a configured repository (mount, find, diff, stats, key, ls…), its password and environment set up, never printed",
    )
    .argument("<repo>", "the repository, by its name in the config")
    .argument("[args...]", "restic's command and arguments, after --")
    .allowUnknownOption()
    .addHelpText(
      "after",
      examples([
        "holdfast restic local -- snapshots --compact",
        "holdfast restic offsite -- mount /mnt/restic",
        "holdfast restic local -- diff 1a2b3c4d 5e6f7a8b",
        "holdfast restic local -- find '*.pdf'",
        "holdfast restic local -- key list",
      ]),
    )
    .action(on(() => import("./commands/restic.js")));

  // Issue 17: moving in from another tool.
  program
    .command("import")
    .description(
      "write a holdfast config from an autorestic or resticprofile config (each part commented with its origin) and report what did not map",
    )
    .argument("<tool>", "autorestic or resticprofile")
    .argument("<file>", "its config file (.autorestic.yml; profiles.yaml|.toml|.conf|.json)")
    .option(
      "-o, --output <file>",
      "where to write the holdfast config (default ./holdfast.yaml; - for stdout)",
    )
    .option(
      "--secrets-dir <dir>",
      "where the config expects the secret files (default: secrets/ beside the output)",
    )
    .option("--force", "replace the output file if it exists")
    .option("--check", "then run `config validate` and `run --all --dry-run` on the new config")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      examples([
        "holdfast import autorestic ~/.autorestic.yml --output ~/.config/holdfast/holdfast.yaml --check",
        "holdfast import resticprofile profiles.toml -o holdfast.yaml",
        "holdfast import resticprofile profiles.yaml -o - | less",
      ]),
    )
    .action(on(() => import("./commands/import.js")));
  program
    .command("adopt")
    .description(
      "list the snapshots other tools made that each source adopts (sources.NAME.adopt), and those no source adopts; changes nothing",
    )
    .argument("[source]", "only this source")
    .option("--repo <name>", "only this repository")
    .option(
      "--json",
      'print JSON: {"repositories": [{"name", "holdfast", "sources": [...], "not_adopted": [...]}]}',
    )
    .addHelpText("after", examples(["holdfast adopt", "holdfast adopt home --repo local --json"]))
    .action(on(() => import("./commands/adopt.js")));
  program
    .command("bootstrap")
    .description(
      "start over on a new machine: restore the config and run history from a repository's latest holdfast-meta snapshot, then say which secret files to put back",
    )
    .option("--repo <url>", "the repository (a path or a URL without credentials)")
    .option("--repo-file <file>", "a file holding the repository URL (for a URL with credentials)")
    .option("--password-file <file>", "the repository password, in a file")
    .option("--dir <dir>", "write holdfast.yaml here (default: where it was on the old machine)")
    .option("--host <name>", "the machine to bring back, when several store theirs in the repository")
    .option("--force", "replace an existing holdfast.yaml")
    .option("--json", "print what was restored as JSON")
    .addHelpText(
      "after",
      examples([
        "holdfast bootstrap --repo /mnt/usb/restic --password-file ~/usb.pass",
        "holdfast bootstrap --repo-file ~/offsite.url --password-file ~/offsite.pass --dir ~/.config/holdfast",
      ]),
    )
    .action(on(() => import("./commands/bootstrap.js")));
  program
    .command("recovery-sheet")
    .description(
      "print a one-page HTML sheet to keep away from the machine: repositories, where each password lives, the restore commands (no secrets)",
    )
    .addHelpText("after", examples(["holdfast recovery-sheet > recovery.html   # then print it to PDF"]))
    .action(on(() => import("./commands/recovery-sheet.js")));

  // Commands: init, snapshots, restore, unlock, doctor
  const schedule = program
    .command("schedule")
    .description("systemd timers for the jobs' schedules, and the calendar")
    .addHelpText(
      "after",
      examples([
        "holdfast schedule install",
        "holdfast schedule list",
        "holdfast schedule next 'Mon..Fri 03:00'",
      ]),
    );
  schedule
    .command("install")
    .description(
      "write the systemd units (holdfast@.service, a timer per job, the freshness check) and enable the timers",
    )
    .addOption(
      new Option("--user", "user units ($XDG_CONFIG_HOME/systemd/user; the default when not root)").conflicts(
        "system",
      ),
    )
    .addOption(
      new Option("--system", "system units (/etc/systemd/system; the default as root)").conflicts("user"),
    )
    .option("--root <dir>", "write under DIR instead of / (packaging, tests); enables nothing")
    .option("--dry-run", "print the units and write nothing")
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      examples([
        "sudo holdfast schedule install",
        "holdfast schedule install --user",
        "holdfast schedule install --dry-run",
        "holdfast schedule install --root ./pkgroot",
      ]),
    )
    .action(on(() => import("./commands/schedule-install.js")));
  schedule
    .command("remove")
    .description("disable the timers and delete exactly the files `schedule install` wrote")
    .addOption(new Option("--user", "the user install").conflicts("system"))
    .addOption(new Option("--system", "the system install").conflicts("user"))
    .option("--root <dir>", "the install under DIR")
    .option("--json", "print what was removed as JSON")
    .addHelpText(
      "after",
      examples(["sudo holdfast schedule remove", "holdfast schedule remove --root ./pkgroot"]),
    )
    .action(on(() => import("./commands/schedule-remove.js")));
  schedule
    .command("list")
    .description(
      "each job: its schedule, the normalized form, the next run, and whether its timer is installed",
    )
    .option("--root <dir>", "look for installed timers under DIR")
    .option("--json", 'print JSON: {"jobs": [...]}')
    .addHelpText("after", examples(["holdfast schedule list", "holdfast schedule list --json"]))
    .action(on(() => import("./commands/schedule-list.js")));
  schedule
    .command("next")
    .description(
      "the normalized form and next elapse times of a calendar expression (like systemd-analyze calendar); needs no config",
    )
    .argument(
      "<expression>",
      'systemd OnCalendar ("Mon..Fri 03:00", "*:0/15", "daily") or 5-field cron ("0 3 * * *")',
    )
    .option("-n, --count <n>", "how many elapse times", "5")
    .option("--from <time>", "start from this ISO-8601 time instead of now")
    .option("--json", 'print JSON: {"expression", "normalized", "next": [ISO-8601 UTC, ...]}')
    .addHelpText(
      "after",
      examples([
        "holdfast schedule next 'Mon..Fri 03:00'",
        "holdfast schedule next '0 3 * * *' --count 3 --json",
        "holdfast schedule next daily --from 2026-11-26T00:00:00Z",
      ]),
    )
    .action(on(() => import("./commands/schedule-next.js")));

  program
    .command("daemon")
    .description(
      "the built-in scheduler for hosts without systemd: runs each job's schedule as child `holdfast run`s",
    )
    .option(
      "--on-stop <mode>",
      "on SIGTERM/SIGINT: wait for running jobs, or cancel them (a second signal cancels)",
      "wait",
    )
    .option(
      "--stop-timeout <duration>",
      "with --on-stop wait: cancel the jobs still running after this",
      "10m",
    )
    .addHelpText(
      "after",
      examples([
        "holdfast daemon",
        "holdfast daemon --on-stop cancel",
        "kill -HUP <daemon pid>   # reload the config; a bad config keeps the old one",
      ]),
    )
    .action(on(() => import("./commands/daemon.js")));

  // Commands: schedule install|remove|list|next, daemon
  program
    .command("watch")
    .description(
      "the freshness check: sends `stale` once per episode for jobs with no success within max_age; exit 0 all fresh, 2 any stale",
    )
    .option("--json", 'print JSON: {"jobs": [...], "stale": bool}')
    .option(
      "--fleet",
      "the whole fleet from its database: stale and missing once per episode, then recovered",
    )
    .addHelpText(
      "after",
      examples([
        "holdfast watch",
        "holdfast watch --json",
        "holdfast watch || echo a backup is overdue",
        "holdfast watch --fleet",
      ]),
    )
    .action(on(() => import("./commands/watch.js")));

  program
    .command("metrics")
    .description("print the Prometheus exposition (families in docs/metrics.md)")
    .option("--write", "write it to the config's metrics.textfile (atomically) instead of printing it")
    .addHelpText(
      "after",
      examples(["holdfast metrics", "holdfast metrics | promtool check metrics", "holdfast metrics --write"]),
    )
    .action(on(() => import("./commands/metrics.js")));

  // Commands: watch, metrics
  const serveCommand = program
    .command("serve")
    .description("the dashboard and HTTP API, /metrics and /healthz (127.0.0.1 unless a token is configured)")
    .option(
      "--listen <host:port>",
      "address to listen on (default: server.listen of the config, 127.0.0.1:8760)",
    )
    .option(
      "--store <kind>",
      "postgres: serve as the fleet hub from the fleet database (fleet.view_url_file): /api/fleet, /metrics per host",
    )
    .addHelpText(
      "after",
      examples([
        "holdfast serve",
        "holdfast serve --listen 127.0.0.1:9000",
        "holdfast serve --listen 0.0.0.0:8760   # needs server.token_file",
        "holdfast serve --store postgres   # the fleet hub: /api/fleet and /metrics per host",
      ]),
    )
    .action(on(() => import("./commands/serve.js")));
  const token = serveCommand
    .command("token")
    .description("the dashboard's named tokens: viewer (looks) or operator (also runs, cancels, restores)");
  token
    .command("add")
    .description("make a token and print it once (only its hash is kept, in the state dir)")
    .argument("<name>", "what the token is for: laptop, grafana, …")
    .option("--role <role>", "viewer or operator", "viewer")
    .addHelpText(
      "after",
      examples([
        "holdfast serve token add phone --role viewer",
        "holdfast serve token add laptop --role operator > ~/.holdfast-token",
      ]),
    )
    .action(on(() => import("./commands/serve-token.js").then((m) => ({ default: m.tokenAdd }))));
  token
    .command("list")
    .description("the named tokens: name, role, when made (never their values)")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["holdfast serve token list", "holdfast serve token list --json"]))
    .action(on(() => import("./commands/serve-token.js").then((m) => ({ default: m.tokenList }))));
  token
    .command("remove")
    .description("remove a token: it is refused from then on (a running server notices)")
    .argument("<name>", "the token's name")
    .addHelpText("after", examples(["holdfast serve token remove phone"]))
    .action(on(() => import("./commands/serve-token.js").then((m) => ({ default: m.tokenRemove }))));

  // Commands: serve
  const fleet = program
    .command("fleet")
    .description("this host's side of the fleet database (PostgreSQL): sync, identity, setup script");
  fleet
    .command("sync")
    .description("replay the queued history changes to the fleet database, in order (idempotent)")
    .option("--json", "print the outcome as JSON")
    .option("--timeout <duration>", "give up after this long; what is left stays queued (default 10m)")
    .option("--batch-size <n>", "runs per transaction at the hub (default 500)")
    .addHelpText("after", examples(["holdfast fleet sync", "holdfast fleet sync --timeout 30s --json"]))
    .action(on(() => import("./commands/fleet.js").then((m) => ({ default: m.fleetSync }))));
  fleet
    .command("id")
    .description("print this host's fleet id (created once in the state dir) and display name")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["holdfast fleet id", "holdfast fleet id --json"]))
    .action(on(() => import("./commands/fleet.js").then((m) => ({ default: m.fleetId }))));
  fleet
    .command("reset-id")
    .description(
      "give this host a new fleet id (after cloning a machine or its state dir); resends its history",
    )
    .addHelpText("after", examples(["holdfast fleet reset-id && holdfast fleet sync"]))
    .action(on(() => import("./commands/fleet.js").then((m) => ({ default: m.fleetResetId }))));
  fleet
    .command("init-db")
    .description(
      "print the SQL that sets the fleet database up: schema, a writer role per host (row-level security), a read-only viewer",
    )
    .option("--print", "print the script (pipe it to psql as a superuser or the database owner)")
    .option("--host <name=id...>", "a host's display name and its `holdfast fleet id` (repeatable)")
    .option("--viewer <role>", "the hub's read-only login role (default holdfast_viewer)")
    .addHelpText(
      "after",
      examples([
        "holdfast fleet init-db --print --host web-01=h-0123456789abcdef01234567 | psql -v ON_ERROR_STOP=1 -d fleet",
      ]),
    )
    .action(on(() => import("./commands/fleet.js").then((m) => ({ default: m.fleetInitDb }))));
  fleet
    .command("prune")
    .description(
      "the hub's retention: delete raw runs older than fleet.keep_runs_months (daily rollups are kept)",
    )
    .option(
      "--url-file <file>",
      "the URL of a role that may delete runs, e.g. holdfast_pruner (default fleet.url_file)",
    )
    .option("--dry-run", "count what would go, delete nothing")
    .option("--json", "print the outcome as JSON")
    .addHelpText(
      "after",
      examples([
        "holdfast fleet prune --url-file /etc/holdfast/fleet-pruner.url",
        "holdfast fleet prune --dry-run",
      ]),
    )
    .action(on(() => import("./commands/fleet.js").then((m) => ({ default: m.fleetPrune }))));
  // Commands: fleet
  program
    .command("completion")
    .description("print a shell completion script (commands and flags) for bash, zsh or fish")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "after",
      examples([
        "source <(holdfast completion bash)   # this shell only",
        "holdfast completion bash > ~/.local/share/bash-completion/completions/holdfast",
        'holdfast completion zsh > "${fpath[1]}/_holdfast"',
        "holdfast completion fish > ~/.config/fish/completions/holdfast.fish",
      ]),
    )
    .action(on(() => import("./commands/completion.js")));

  return program;
}

let ranCommand: string | null = null;

/** The top-level command the last main() ran (`serve token add` → "serve"), or null if none did. */
export function commandThatRan(): string | null {
  return ranCommand;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  let action: Action | null = null;
  ranCommand = null;
  const program = buildProgram((a) => (action = a));
  program.hook("preAction", (_root, actionCommand) => {
    let top = actionCommand;
    while (top.parent && top.parent !== program) top = top.parent;
    ranCommand = top.name();
  });
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // Every level (serve token add is three deep): a usage error anywhere exits 2, never commander's 1.
  const overrideExit = (command: Command) => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return 0;
      return EXIT.usage;
    }
    return reportError(err, undefined);
  }
  if (!action) {
    program.outputHelp();
    return EXIT.usage;
  }
  const global = program.opts<GlobalOptions>();
  try {
    return await (action as Action)(global);
  } catch (err) {
    return reportError(err, global);
  }
}

export function reportError(err: unknown, _global: GlobalOptions | undefined): number {
  // Under systemd, the error line is stored at priority err (`journalctl -p err` finds it).
  const err3 = journalPrefix("err", process.stderr);
  if (err instanceof ConfigError) {
    for (const issue of err.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
    process.stderr.write(
      `${err3}${errColor.red("error")}: the config has ${err.issues.length} problem${err.issues.length === 1 ? "" : "s"}; nothing was run\n`,
    );
    return EXIT.usage;
  }
  // Every error holdfast throws on purpose says what, how to fix it and its exit code: one rule for all.
  if (err instanceof HoldfastError && err.kind !== "internal") {
    process.stderr.write(
      `${err3}${errColor.red("error")}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ""}`,
    );
    return err.exitCode;
  }
  // A bug: a short message, and the full trace in a file rather than on the user's screen.
  const trace = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const file = path.join(os.tmpdir(), `holdfast-crash-${process.pid}-${Date.now()}.log`);
  try {
    // A fresh file only: /tmp is everyone's, and a link planted under this name must not be followed.
    fs.writeFileSync(file, `${new Date().toISOString()}\n${trace}\n`, {
      mode: 0o600,
      flag: openFlags(
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      ),
    });
    process.stderr.write(
      `${err3}${errColor.red("internal error")}: ${(err as Error).message ?? String(err)}\nthe full trace is in ${file}; please report it\n`,
    );
  } catch {
    process.stderr.write(`${err3}${errColor.red("internal error")}: ${trace}\n`);
  }
  return EXIT.failed;
}
