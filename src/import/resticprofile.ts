// resticprofile (YAML, TOML or JSON; format version 1 or 2) → holdfast. Templates are resolved on the
// text where they are static (go-template.ts), then mixins and `inherit` (resticprofile-merge.ts).
// Each profile with a backup source becomes a source and a job: run-before/run-after as exec steps,
// run-finally as an `always` step, run-after-fail as a command notifier, check-before/-after as
// check steps, retention before-/after-backup as forget steps; its schedule becomes the job's. Its
// check, forget and copy sections become jobs of their own (resticprofile schedules them apart).
// Groups become jobs running their profiles' steps in order. Snapshots are adopted by the backup's
// tags (resticprofile adds none of its own), or by host and paths when it set no tags.
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { parseDocument } from "yaml";
import { urlHasCredentials } from "../config/values.js";
import { ImportError } from "./errors.js";
import { renderStaticTemplate, unresolvedIn, withProfileName, type RenderedTemplate } from "./go-template.js";
import {
  asList,
  flagArgs,
  holdfastName,
  ImportBuilder,
  isRecord,
  KEEP_FLAGS,
  relativeTo,
  scalarText,
  uniqueName,
  type ImportContext,
  type ImportResult,
} from "./model.js";
import { applyMixins, resolveInheritance, type Section } from "./resticprofile-merge.js";

const TOP_LEVEL_V1 = new Set(["version", "global", "groups", "includes"]);
/** Profile keys with a meaning of their own (the rest are restic flags for every command). */
const PROFILE_KEYS = new Set([
  "description",
  "repository",
  "repository-file",
  "password-file",
  "password-command",
  "env",
  "cacert",
  "limit-upload",
  "limit-download",
  "option",
  "backup",
  "retention",
  "forget",
  "check",
  "copy",
  "prune",
  "run-before",
  "run-after",
  "run-after-fail",
  "run-finally",
]);
/** Profile keys that holdfast has no use for, and why. */
const PROFILE_SKIPS: Record<string, string> = {
  initialize: "holdfast creates missing repositories with `holdfast init`",
  lock: "holdfast locks each job itself (state_dir/locks)",
  "force-inactive-lock": "holdfast removes stale locks itself (its own and restic's)",
  priority: "holdfast runs restic at nice 10 and ionice idle (restic.nice, restic.ionice)",
  nice: "set restic.nice once for the config",
  ionice: "set restic.ionice once for the config",
  "ionice-class": "set restic.ionice once for the config",
  "ionice-level": "set restic.ionice once for the config",
  verbose: "holdfast records each step's output in its run log (`holdfast logs`)",
  quiet: "holdfast records each step's output in its run log (`holdfast logs`)",
  "status-file": "holdfast keeps every run in its history (`holdfast status --json`, the API)",
  "prometheus-save-to-file": "use metrics.textfile (docs/metrics.md)",
  "prometheus-push": "holdfast writes a textfile or serves /metrics (docs/metrics.md)",
  "prometheus-labels": "holdfast labels its metrics by job, step and repository",
  "systemd-drop-in-files": "`holdfast schedule install` writes its own units",
  "cleanup-cache": "holdfast keeps restic's cache in state_dir/restic-cache",
  "no-cache": "holdfast always gives restic a cache (restic.cache_dir)",
  "cache-dir": "set restic.cache_dir once for the config",
  "send-before": "HTTP hooks: use a webhook or healthchecks notifier",
  "send-after": "HTTP hooks: use a webhook or healthchecks notifier",
  "send-after-fail": "HTTP hooks: use a webhook or healthchecks notifier",
  "send-finally": "HTTP hooks: use a webhook or healthchecks notifier",
  "stream-error": "holdfast classifies restic's errors itself",
  "prevent-sleep": "not a holdfast feature",
  "base-dir": "paths are resolved against the config file's directory",
  snapshots: "a display command: `holdfast snapshots`",
  mount: "`holdfast restic REPO -- mount DIR`",
  ls: "`holdfast restic REPO -- ls`",
  find: "`holdfast restic REPO -- find`",
  stats: "`holdfast restic REPO -- stats`",
  tag: "`holdfast restic REPO -- tag`",
  dump: "`holdfast restic REPO -- dump`",
  cat: "`holdfast restic REPO -- cat`",
  unlock: "`holdfast unlock`",
  init: "`holdfast init`",
  restore: "`holdfast restore`",
};
const BACKUP_SOURCE_KEYS = new Set([
  "source",
  "exclude",
  "exclude-file",
  "exclude-if-present",
  "one-file-system",
]);
const SCHEDULE_KEYS = /^schedule(-.+)?$/;

export function translateResticprofile(text: string, ctx: ImportContext): ImportResult {
  const configDir = path.dirname(ctx.file);
  const rendered = renderStaticTemplate(text, {
    configDir,
    currentDir: ctx.cwd,
    hostname: ctx.hostname,
  });
  const data = parseByFormat(rendered, ctx.file);
  const b = new ImportBuilder("resticprofile", ctx.file);
  for (const note of rendered.resolved) b.note(`line ${note.line}: ${note.expression} ${note.note}`);
  const version = scalarText(data.version).startsWith("2") ? 2 : 1;
  const relative = relativeTo(configDir);

  // Profiles, as written.
  const rawProfiles: Record<string, Section> = {};
  if (version === 2) {
    const profiles = isRecord(data.profiles) ? data.profiles : {};
    for (const [name, p] of Object.entries(profiles)) if (isRecord(p)) rawProfiles[name] = p;
    for (const key of Object.keys(data))
      if (!["version", "global", "groups", "profiles", "mixins", "includes"].includes(key))
        b.skip(key, "not a section of a version 2 config");
  } else {
    for (const [name, p] of Object.entries(data)) {
      if (TOP_LEVEL_V1.has(name)) continue;
      if (isRecord(p)) rawProfiles[name] = p;
      else b.skip(name, "not a profile (not a section)");
    }
  }
  if (data.includes !== undefined)
    b.skip("includes", "included files are not read: import each one, or merge them into this file first");

  const problems: Array<{ where: string; why: string }> = [];
  const mixins = isRecord(data.mixins) ? data.mixins : {};
  const withMixins: Record<string, Section> = {};
  for (const [name, p] of Object.entries(rawProfiles))
    withMixins[name] = version === 2 ? applyMixins(p, mixins, `profiles.${name}`, problems) : p;
  const profiles = resolveInheritance(withMixins, version, problems);
  for (const p of problems) b.skip(p.where, p.why);
  const prefix = version === 2 ? "profiles." : "";

  const global = isRecord(data.global) ? data.global : {};
  for (const [key, value] of Object.entries(global)) {
    if (key === "restic-binary" && typeof value === "string") {
      b.section("restic").binary = value;
      b.comment(["restic", "binary"], "from global.restic-binary");
    } else b.skip(`global.${key}`, "a resticprofile setting with no holdfast equivalent");
  }

  const t = new Translation(b, ctx, rendered, relative, version);
  const jobsOfProfile = new Map<string, string>();
  for (const [name, profile] of Object.entries(profiles)) {
    const job = t.profile(name, withProfileName(profile, name), `${prefix}${name}`);
    if (job) jobsOfProfile.set(name, job);
  }

  // Groups → jobs that run their profiles' steps, in order.
  const groups = isRecord(data.groups) ? data.groups : {};
  for (const [name, raw] of Object.entries(groups)) {
    const where = `groups.${name}`;
    const members = asList(isRecord(raw) ? raw.profiles : raw).map(String);
    const steps: Array<Record<string, unknown>> = [];
    for (const member of members) {
      const jobName = jobsOfProfile.get(member);
      const job = jobName ? (b.section("jobs")[jobName] as { steps: Array<Record<string, unknown>> }) : null;
      if (!job) {
        b.skip(where, `profile "${member}" has no backup job to run`);
        continue;
      }
      for (const s of job.steps) steps.push({ ...s, name: `${jobName}-${String(s.name)}`.slice(0, 64) });
    }
    if (steps.length === 0) continue;
    const jobName = t.uniqueJob(holdfastName(name));
    const job: Record<string, unknown> = {};
    if (isRecord(raw) && typeof raw.description === "string") job.description = raw.description;
    if (isRecord(raw) && raw["continue-on-error"] === true) for (const s of steps) s.on_failure = "continue";
    const schedules = isRecord(raw) && isRecord(raw.schedules) ? raw.schedules : {};
    for (const [command, sched] of Object.entries(schedules)) {
      if (command !== "backup") {
        b.skip(
          `${where}.schedules.${command}`,
          "only the group's backup schedule maps (one schedule per job)",
        );
        continue;
      }
      const at = t.schedule(sched, `${where}.schedules.backup`);
      if (at) job.schedule = at;
    }
    job.steps = steps;
    b.section("jobs")[jobName] = job;
    b.comment(["jobs", jobName], `resticprofile group "${name}": ${members.join(", ")}, in order`);
  }
  return b.result();
}

function parseByFormat(rendered: RenderedTemplate, file: string): Record<string, unknown> {
  const ext = path.extname(file).toLowerCase();
  let data: unknown;
  try {
    if (ext === ".toml" || ext === ".conf") data = parseToml(rendered.text);
    else if (ext === ".json") data = JSON.parse(rendered.text);
    else if (ext === ".yaml" || ext === ".yml") {
      const doc = parseDocument(rendered.text, { merge: true, prettyErrors: false });
      if (doc.errors.length > 0) throw new Error(doc.errors[0]?.message.split("\n")[0] ?? "syntax error");
      data = doc.toJS({ maxAliasCount: 1000 });
    } else if (ext === ".hcl")
      throw new ImportError(
        `${file}: HCL configs are not read by the import`,
        "resticprofile can print the profile it loads: `resticprofile show` — or convert the file to TOML or YAML",
      );
    else
      throw new ImportError(
        `${file}: cannot tell the format from the extension "${ext}"`,
        "name it .yaml, .toml, .conf or .json, as resticprofile does",
      );
  } catch (err) {
    if (err instanceof ImportError) throw err;
    const unresolved = rendered.unresolved.length > 0 ? " (after resolving its templates)" : "";
    throw new ImportError(
      `${file}: cannot be parsed${unresolved}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`,
      "check that resticprofile itself loads it (`resticprofile show`)",
    );
  }
  if (!isRecord(data)) throw new ImportError(`${file} is not a resticprofile config (not a mapping)`);
  return data;
}

class Translation {
  private readonly repoByUrl = new Map<string, string>();
  private readonly repoNames = new Set<string>();
  private readonly sourceNames = new Set<string>();
  private readonly jobNames = new Set<string>();
  private readonly notifierNames = new Set<string>();

  constructor(
    private readonly b: ImportBuilder,
    private readonly ctx: ImportContext,
    private readonly rendered: RenderedTemplate,
    private readonly relative: (p: string) => string,
    private readonly version: 1 | 2,
  ) {}

  uniqueJob(name: string): string {
    return uniqueName(name, this.jobNames);
  }

  /** The value, or undefined (reported) when it holds a template that could not be resolved. */
  private value<T>(value: T, where: string): T | undefined {
    const notes = unresolvedIn(value, this.rendered.unresolved);
    if (notes.length === 0) return value;
    for (const n of notes)
      this.b.unresolved.push({ where, why: `${n.expression} (line ${n.line}): ${n.note}; left out` });
    return undefined;
  }

  /** Translates one profile; returns the name of its job, if it has one. */
  profile(name: string, p: Section, where: string): string | null {
    const backup = isRecord(p.backup) ? p.backup : null;
    const sources = backup
      ? this.value(asList(backup.source).map(String), `${where}.backup.source`)
      : undefined;
    if (!backup || !sources || sources.length === 0 || backup.stdin === true) {
      this.b.skip(
        where,
        backup?.stdin === true
          ? "a backup of stdin: use a dump step (databases) or an exec step piping into `holdfast restic REPO -- backup --stdin`"
          : "no backup source: not a job of its own (a base profile for inherit, or one for commands run by hand)",
      );
      return null;
    }
    for (const [key, value] of Object.entries(p)) {
      if (PROFILE_KEYS.has(key)) continue;
      const why = PROFILE_SKIPS[key];
      if (why) this.b.skip(`${where}.${key}`, why);
      else if (value !== undefined)
        this.b.skip(
          `${where}.${key}`,
          "a restic flag for every command: add it to the steps' extra_args where it applies",
        );
    }
    const repo = this.repository(name, p, where, "");
    if (!repo) return null;

    const sourceName = uniqueName(holdfastName(name), this.sourceNames);
    const source: Record<string, unknown> = { paths: sources.map((s) => this.relative(s)) };
    const list = (key: string) => this.value(asList(backup[key]).map(String), `${where}.backup.${key}`) ?? [];
    const exclude = list("exclude");
    if (exclude.length > 0) source.exclude = exclude;
    const excludeFile = list("exclude-file").map((f) => this.relative(f));
    if (excludeFile.length > 0) source.exclude_file = excludeFile;
    const excludeIfPresent = list("exclude-if-present");
    if (excludeIfPresent.length > 0) source.exclude_if_present = excludeIfPresent;
    if (backup["one-file-system"] === true) source.one_file_system = true;
    const tags = list("tag");
    const host = typeof backup.host === "string" ? backup.host : undefined;
    // resticprofile adds no tag of its own: its snapshots are the backup's tags, or (no tags) its
    // host and paths.
    source.adopt = {
      tags,
      ...(host !== undefined ? { host } : {}),
      ...(tags.length === 0 ? { paths: source.paths } : {}),
    };
    this.b.section("sources")[sourceName] = source;
    this.b.comment(["sources", sourceName], `from resticprofile profile "${name}" (backup.source)`);
    this.b.comment(
      ["sources", sourceName, "adopt"],
      tags.length > 0
        ? `the snapshots resticprofile made of this profile (tags ${tags.join(", ")}) stay part of it`
        : "the snapshots resticprofile made of this profile (no tags: by host and paths) stay part of it",
    );
    if (sources.some((s) => !path.isAbsolute(s) && !s.startsWith("~") && !s.startsWith("$")))
      this.b.comment(
        ["sources", sourceName, "paths"],
        "relative paths resolved against the resticprofile file's directory",
      );

    const steps: Array<Record<string, unknown>> = [];
    const hooks = (key: string, section: Section, sectionWhere: string): string[] =>
      this.value(asList(section[key]).map(String), `${sectionWhere}.${key}`) ?? [];
    const execStep = (stepName: string, commands: string[], extra: Record<string, unknown> = {}) => {
      if (commands.length === 0) return;
      steps.push({
        name: stepName,
        type: "exec",
        // resticprofile runs each hook with sh and stops at the first that fails; PROFILE_NAME and
        // PROFILE_COMMAND are set as it sets them.
        command: ["sh", "-e", "-c", commands.join("\n")],
        env: { PROFILE_NAME: name, PROFILE_COMMAND: "backup" },
        ...extra,
      });
    };
    execStep("run-before", hooks("run-before", p, where));
    execStep("backup-run-before", hooks("run-before", backup, `${where}.backup`));
    const retention = isRecord(p.retention) ? p.retention : {};
    const keep = this.keep(retention, `${where}.retention`);
    const forgetStep = (stepName: string) => ({
      name: stepName,
      type: "forget",
      repos: [repo],
      keep,
      sources: [sourceName],
      ...(retention.prune === true ? { prune: true } : {}),
    });
    if (retention["before-backup"] === true && keep) steps.push(forgetStep("retention-before"));
    if (!keep && (retention["before-backup"] === true || retention["after-backup"] === true))
      this.b.skip(
        `${where}.retention`,
        "no keep-* rule: resticprofile's forget would keep everything; no forget step",
      );
    if (backup["check-before"] === true) steps.push({ name: "check-before", type: "check", repos: [repo] });

    const step: Record<string, unknown> = {
      name: "backup",
      type: "backup",
      source: sourceName,
      repos: [repo],
    };
    if (tags.length > 0) step.tags = tags;
    if (host !== undefined) step.host = host;
    const extra: string[] = [];
    for (const [key, value] of Object.entries(backup)) {
      if (BACKUP_SOURCE_KEYS.has(key) || key === "tag" || key === "host" || key === "stdin") continue;
      if (SCHEDULE_KEYS.test(key) || key.startsWith("run-") || key.startsWith("send-")) continue;
      if (["check-before", "check-after", "extended-status", "no-error-on-warning"].includes(key)) continue;
      const v = this.value(value, `${where}.backup.${key}`);
      if (v !== undefined) extra.push(...flagArgs(key, v));
    }
    if (extra.length > 0) step.extra_args = extra;
    if (backup["extended-status"] !== undefined)
      this.b.skip(`${where}.backup.extended-status`, "holdfast always reads restic's JSON summary");
    if (backup["no-error-on-warning"] === true)
      this.b.note(
        `${where}.backup.no-error-on-warning: holdfast records restic's exit 3 as a warning, not a failure (jobs.*.warnings)`,
      );
    for (const key of Object.keys(backup))
      if (key.startsWith("send-"))
        this.b.skip(`${where}.backup.${key}`, "HTTP hooks: use a webhook or healthchecks notifier");
    steps.push(step);
    if (backup["check-after"] === true) steps.push({ name: "check-after", type: "check", repos: [repo] });
    execStep("backup-run-after", hooks("run-after", backup, `${where}.backup`));
    if (retention["after-backup"] === true && keep) steps.push(forgetStep("retention"));
    if (keep && retention["after-backup"] !== true && retention["before-backup"] !== true)
      this.b.skip(
        `${where}.retention`,
        "neither before-backup nor after-backup: resticprofile never applies it",
      );
    execStep("run-after", hooks("run-after", p, where));
    const finallyCommands = [
      ...hooks("run-finally", backup, `${where}.backup`),
      ...hooks("run-finally", p, where),
    ];
    execStep("run-finally", finallyCommands, { always: true });

    const jobName = this.uniqueJob(holdfastName(name));
    const job: Record<string, unknown> = {};
    if (typeof p.description === "string") job.description = p.description;
    const schedule = this.schedule(backup.schedule, `${where}.backup.schedule`, backup);
    if (schedule) job.schedule = schedule;
    job.steps = steps;
    const failCommands = [
      ...hooks("run-after-fail", backup, `${where}.backup`),
      ...hooks("run-after-fail", p, where),
    ];
    if (failCommands.length > 0) {
      const notifier = uniqueName(`${jobName}-failure`, this.notifierNames);
      this.b.section("notifications")[notifier] = {
        type: "command",
        events: ["failure"],
        command: [
          "env",
          `PROFILE_NAME=${name}`,
          "PROFILE_COMMAND=backup",
          "sh",
          "-e",
          "-c",
          failCommands.join("\n"),
        ],
      };
      this.b.comment(
        ["notifications", notifier],
        `resticprofile profile "${name}": run-after-fail (ERROR, ERROR_COMMANDLINE, RESTIC_STDERR are not set; HOLDFAST_* are, and the run's JSON is on stdin)`,
      );
      job.notify = [notifier];
    }
    this.b.section("jobs")[jobName] = job;
    this.b.comment(
      ["jobs", jobName],
      `resticprofile profile "${name}": \`resticprofile ${name}.backup\`${schedule ? ` on its schedule` : ""}`,
    );

    this.sideJob(name, p, where, "check", repo, (section) => {
      for (const key of Object.keys(section))
        if (key !== "read-data-subset" && !SCHEDULE_KEYS.test(key))
          this.b.skip(`${where}.check.${key}`, "holdfast's check step takes read_data_subset only");
      const subset =
        typeof section["read-data-subset"] === "string"
          ? this.value(section["read-data-subset"], `${where}.check.read-data-subset`)
          : undefined;
      return [
        {
          name: "check",
          type: "check",
          repos: [repo],
          ...(subset !== undefined ? { read_data_subset: subset } : {}),
        },
      ];
    });
    this.sideJob(name, p, where, "forget", repo, (section) => {
      const k = this.keep(section, `${where}.forget`);
      if (!k) return [];
      return [
        {
          name: "forget",
          type: "forget",
          repos: [repo],
          keep: k,
          sources: [sourceName],
          ...(section.prune === true ? { prune: true } : {}),
        },
      ];
    });
    if (isRecord(p.copy)) {
      const target = this.repository(`${name}-copy`, p.copy, `${where}.copy`, "copy");
      if (target)
        this.sideJob(name, p, where, "copy", repo, () => [
          { name: "copy", type: "copy", from: repo, to: [target], sources: [sourceName] },
        ]);
    }
    if (isRecord(p.prune))
      this.b.skip(
        `${where}.prune`,
        "holdfast prunes after forget (forget's prune: true), not as a command of its own",
      );
    return jobName;
  }

  /** A job for a command resticprofile runs on its own (check, forget, copy), scheduled if it was. */
  private sideJob(
    profile: string,
    p: Section,
    where: string,
    command: "check" | "forget" | "copy",
    repo: string,
    steps: (section: Section) => Array<Record<string, unknown>>,
  ): void {
    const section = isRecord(p[command]) ? p[command] : null;
    if (!section) return;
    const made = steps(section);
    if (made.length === 0) return;
    const job: Record<string, unknown> = {};
    const schedule = this.schedule(section.schedule, `${where}.${command}.schedule`, section);
    if (schedule) job.schedule = schedule;
    job.steps = made;
    const jobName = this.uniqueJob(`${holdfastName(profile)}-${command}`);
    this.b.section("jobs")[jobName] = job;
    this.b.comment(
      ["jobs", jobName],
      `\`resticprofile ${profile}.${command}\`${schedule ? " on its schedule" : ", run by hand: holdfast run " + jobName} (repository ${repo})`,
    );
  }

  private keep(section: Section, where: string): Record<string, unknown> | undefined {
    const keep: Record<string, unknown> = {};
    for (const [flag, value] of Object.entries(section)) {
      const k = KEEP_FLAGS[flag];
      if (k !== undefined) {
        const v = this.value(value, `${where}.${flag}`);
        // keep-hourly: false switches a rule off (an inherited one).
        if (v !== undefined && v !== false) keep[k] = v;
      } else if (flag === "keep-tag") this.b.skip(`${where}.${flag}`, "holdfast's keep has no keep-tag");
      else if (["host", "tag", "path", "group-by"].includes(flag))
        this.b.skip(
          `${where}.${flag}`,
          "holdfast groups retention by host and source itself (the source's adopt names the old snapshots)",
        );
      else if (["prune", "before-backup", "after-backup"].includes(flag) || SCHEDULE_KEYS.test(flag))
        continue;
      else this.b.skip(`${where}.${flag}`, "not a keep rule: holdfast's forget takes keep rules and prune");
    }
    return Object.keys(keep).length > 0 ? keep : undefined;
  }

  /** One OnCalendar expression for a job (resticprofile's schedule: a string, a list or {at}). */
  schedule(raw: unknown, where: string, section?: Section): string | undefined {
    if (section)
      for (const key of Object.keys(section))
        if (SCHEDULE_KEYS.test(key) && key !== "schedule")
          this.b.skip(
            `${where.replace(/\.schedule$/, "")}.${key}`,
            "holdfast's units have their own settings (`holdfast schedule install --user|--system`)",
          );
    const at = isRecord(raw) ? raw.at : raw;
    if (isRecord(raw))
      for (const key of Object.keys(raw))
        if (key !== "at")
          this.b.skip(
            `${where}.${key}`,
            "holdfast's units have their own settings (`holdfast schedule install --user|--system`)",
          );
    const list = asList(at).map(String);
    if (list.length === 0) return undefined;
    if (list.length > 1)
      this.b.skip(
        where,
        `${list.length} schedules: a holdfast job has one; kept the first (${list[0]}), left out ${list.slice(1).join(", ")}`,
      );
    return this.value(list[0], where);
  }

  /** The repository of a profile (or of its copy section), shared between profiles with one URL. */
  private repository(name: string, p: Section, where: string, role: "" | "copy"): string | undefined {
    const env = isRecord(p.env) ? { ...p.env } : {};
    // The repository given as the environment variable restic reads it from.
    const envRepo = typeof env.RESTIC_REPOSITORY === "string" ? env.RESTIC_REPOSITORY : undefined;
    delete env.RESTIC_REPOSITORY;
    const written = typeof p.repository === "string" ? p.repository : envRepo;
    const rawUrl = written !== undefined ? this.value(written, `${where}.repository`) : undefined;
    const urlFile =
      typeof p["repository-file"] === "string" ? this.relative(p["repository-file"]) : undefined;
    if (rawUrl === undefined && urlFile === undefined) {
      this.b.skip(where, `no repository${role ? " to copy into" : ""} (or one that could not be resolved)`);
      return undefined;
    }
    const url = rawUrl?.replace(/^local:/, "");
    const passwordFile =
      typeof p["password-file"] === "string" ? this.relative(p["password-file"]) : undefined;
    const key = `${url ?? urlFile}\n${passwordFile ?? ""}`;
    const existing = this.repoByUrl.get(key);
    if (existing) return existing;
    const repoName = uniqueName(holdfastName(name), this.repoNames);
    this.repoByUrl.set(key, repoName);
    const repo: Record<string, unknown> = {};
    if (url !== undefined && urlHasCredentials(url)) {
      repo.url_file = this.b.secretFile(
        this.ctx,
        repoName,
        "url",
        `the URL of repository ${repoName} (it carries credentials)`,
        `${where}.repository`,
      );
    } else if (url !== undefined)
      repo.url = url.startsWith("/") || /^[a-z0-9]+:/.test(url) ? url : this.relative(url);
    else repo.url_file = urlFile;
    if (passwordFile !== undefined) repo.password_file = passwordFile;
    else if (typeof p["password-command"] === "string")
      repo.password_command = ["sh", "-c", p["password-command"]];
    else
      repo.password_file = this.b.secretFile(
        this.ctx,
        repoName,
        "pass",
        `the password of repository ${repoName}`,
        `$RESTIC_PASSWORD (${where} names no password-file)`,
      );
    if (typeof p.cacert === "string") repo.cacert = this.relative(p.cacert);
    for (const [k, flag] of [
      ["limit-upload", "limit_upload"],
      ["limit-download", "limit_download"],
    ] as const)
      if (typeof p[k] === "number") repo[flag] = p[k];
    if (isRecord(p.option) || Array.isArray(p.option)) {
      const options: Record<string, string> = {};
      for (const o of asList(p.option)) {
        const [k, ...v] = String(o).split("=");
        if (k) options[k] = v.join("=");
      }
      repo.options = options;
    }
    this.b.repositoryEnv(
      this.ctx,
      repo,
      repoName,
      env,
      `environment of repository ${repoName}`,
      `${where}.env`,
    );
    this.b.section("repositories")[repoName] = repo;
    this.b.comment(
      ["repositories", repoName],
      `from resticprofile profile "${name.replace(/-copy$/, "")}"${role ? " (its copy section)" : ""}: repository${passwordFile ? " and password-file (referenced, not copied)" : ""}`,
    );
    return repoName;
  }
}
