// autorestic (version 2 config, .autorestic.yml) → holdfast. Each location becomes a source and a
// job (its hooks as exec steps and command notifiers, its cron as the schedule, its copy: as copy
// steps, forget: yes|prune as a forget step), each backend a repository. autorestic tags every
// snapshot `ar:location:NAME` (and `ar:cron` on cron runs: internal/location.go), so the source
// adopts them by that tag. Flags are merged as autorestic does (global, then backend, then location:
// internal/config.go combineAllOptions).
import path from "node:path";
import { parseDocument } from "yaml";
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
import { ImportError } from "./errors.js";

type Options = Record<string, Record<string, unknown>>;

const LOCATION_KEYS = new Set(["from", "to", "type", "hooks", "cron", "options", "forget", "copy"]);
const BACKEND_KEYS = new Set(["type", "path", "key", "requireKey", "env", "rest", "options"]);
const HOOK_KEYS = ["prevalidate", "before", "after", "success", "failure"] as const;
/** Backup flags that are parts of a holdfast source rather than extra arguments. */
const SOURCE_FLAGS = new Set(["exclude", "exclude-file", "exclude-if-present", "one-file-system"]);
/** Metadata autorestic hands to after/success hooks (internal/metadata); holdfast has its own. */
const METADATA_VAR = /AUTORESTIC_(SNAPSHOT_ID|PARENT_SNAPSHOT_ID|FILES_|DIRS_|ADDED_SIZE|PROCESSED_)/;

export function translateAutorestic(text: string, ctx: ImportContext): ImportResult {
  const doc = parseDocument(text, { merge: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ImportError(`${ctx.file}: not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`);
  }
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (!isRecord(data) || (!("locations" in data) && !("backends" in data))) {
    throw new ImportError(
      `${ctx.file} is not an autorestic config (no locations: or backends:)`,
      "pass the .autorestic.yml file",
    );
  }
  const b = new ImportBuilder("autorestic", ctx.file);
  const configDir = path.dirname(ctx.file);
  const relative = relativeTo(configDir);

  if (scalarText(data.version) !== "2") {
    b.skip(
      "version",
      data.version === undefined
        ? "no version: read as autorestic's version 2 format (autorestic 1.x configs without it are the 0.x format; `autorestic` migrates them)"
        : `version ${scalarText(data.version)}: read as version 2`,
    );
  }
  for (const key of Object.keys(data)) {
    if (!["version", "extras", "locations", "backends", "global"].includes(key))
      b.skip(key, "not an autorestic config key");
  }
  const global = isRecord(data.global) ? (data.global as Options) : {};
  for (const key of Object.keys(global))
    if (!["all", "backup", "forget"].includes(key))
      b.skip(`global.${key}`, `restic flags for \`${key}\`: holdfast runs no such command on its own`);
  // global.all: flags autorestic puts before every restic command (internal/utils.go ExecuteResticCommand).
  const globalAll = mergeFlags([global.all]);
  for (const [flag, value] of Object.entries(globalAll)) {
    if (flag === "cache-dir" && typeof value === "string") {
      b.section("restic").cache_dir = value;
      b.comment(["restic", "cache_dir"], "from global.all.cache-dir");
    } else
      b.skip(
        `global.all.${flag}`,
        ["limit-upload", "limit-download", "option", "o"].includes(flag)
          ? "set it on each repository (limit_upload, limit_download, options)"
          : "a flag for every restic command: add it to the backup steps' extra_args if it applies there",
      );
  }

  // Backends → repositories.
  const backends = isRecord(data.backends) ? data.backends : {};
  const repoNames = new Map<string, string>();
  const taken = new Set<string>();
  for (const [name, raw] of Object.entries(backends)) {
    if (!isRecord(raw)) {
      b.skip(`backends.${name}`, "not a mapping");
      continue;
    }
    const repoName = uniqueName(holdfastName(name), taken);
    repoNames.set(name, repoName);
    translateBackend(b, ctx, name, repoName, raw, relative);
  }

  // A backend a location names but the file does not define (a snippet, or a file split by hand): a
  // repository whose URL and password the user puts in files, reported.
  const undefinedBackend = (backend: string, referencedAt: string): string => {
    const known = repoNames.get(backend);
    if (known) return known;
    const repoName = uniqueName(holdfastName(backend), taken);
    repoNames.set(backend, repoName);
    const from = "(backend not in the file)";
    const urlFile = b.secretFile(ctx, repoName, "url", `the URL of repository ${repoName}`, from);
    const passFile = b.secretFile(ctx, repoName, "pass", `the password of repository ${repoName}`, from);
    b.section("repositories")[repoName] = { url_file: urlFile, password_file: passFile };
    b.comment(
      ["repositories", repoName],
      `autorestic backend "${backend}": named by ${referencedAt} but not defined in the file`,
    );
    b.skip(
      `backends.${backend}`,
      `not defined in the file (named by ${referencedAt}): its URL goes in ${urlFile}`,
    );
    return repoName;
  };

  // Locations → sources and jobs.
  const locations = isRecord(data.locations) ? data.locations : {};
  const sourceNames = new Set<string>();
  const jobNames = new Set<string>();
  const notifierNames = new Set<string>();
  for (const [name, raw] of Object.entries(locations)) {
    const where = `locations.${name}`;
    if (!isRecord(raw)) {
      b.skip(where, "not a mapping");
      continue;
    }
    for (const key of Object.keys(raw))
      if (!LOCATION_KEYS.has(key)) b.skip(`${where}.${key}`, "not an autorestic location key");
    if (raw.type === "volume") {
      b.skip(
        where,
        "a docker volume location: holdfast backs up paths — name the volume's mount point (docker volume inspect) as a source, or dump it with an exec step",
      );
      continue;
    }
    const from = asList(raw.from).map(String);
    if (from.length === 0) {
      b.skip(where, 'no "from": nothing to back up');
      continue;
    }
    const to = asList(raw.to).map(String);
    for (const t of to) if (!repoNames.has(t)) undefinedBackend(t, `${where}.to`);
    const repos = to;
    if (repos.length === 0) {
      b.skip(where, "no backend to back up into (to:)");
      continue;
    }
    const sourceName = uniqueName(holdfastName(name), sourceNames);
    const jobName = uniqueName(holdfastName(name), jobNames);
    const locOptions = isRecord(raw.options) ? (raw.options as Options) : {};
    const paths = from.map(relative);

    // Per backend, the backup flags autorestic would pass (global < backend < location).
    const flagsFor = (backend: string, command: "backup" | "forget") => {
      const bo = isRecord(backends[backend])
        ? (backends[backend] as { options?: Options }).options
        : undefined;
      return mergeFlags([global[command], bo?.all, bo?.[command], locOptions.all, locOptions[command]]);
    };
    const source: Record<string, unknown> = { paths };
    const backupFlags = flagsFor(repos[0]!, "backup");
    const exclude = asList(backupFlags.exclude).map(String);
    const excludeFile = asList(backupFlags["exclude-file"]).map((f) => relative(String(f)));
    const excludeIfPresent = asList(backupFlags["exclude-if-present"]).map(String);
    if (exclude.length > 0) source.exclude = exclude;
    if (excludeFile.length > 0) source.exclude_file = excludeFile;
    if (excludeIfPresent.length > 0) source.exclude_if_present = excludeIfPresent;
    if (backupFlags["one-file-system"] === true) source.one_file_system = true;
    // ar:location:NAME is on every snapshot autorestic made of this location.
    source.adopt = { tags: [`ar:location:${name}`] };
    b.section("sources")[sourceName] = source;
    b.comment(
      ["sources", sourceName],
      `from autorestic location "${name}" (from: ${from.join(", ")})${sourceName !== name ? `; renamed: holdfast names are lower case` : ""}`,
    );
    b.comment(
      ["sources", sourceName, "adopt"],
      "the snapshots autorestic made of this location (tagged ar:location:NAME) stay part of it:\nretention thins them, the guard compares with them, restore finds them",
    );

    const hooks = isRecord(raw.hooks) ? raw.hooks : {};
    const hookCwd = typeof hooks.dir === "string" ? relative(hooks.dir) : configDir;
    for (const key of Object.keys(hooks))
      if (!["dir", ...HOOK_KEYS].includes(key)) b.skip(`${where}.hooks.${key}`, "not an autorestic hook");
    const steps: Array<Record<string, unknown>> = [];
    const hookStep = (kind: "prevalidate" | "before" | "after") => {
      const commands = asList(hooks[kind]).map(String);
      if (commands.length === 0) return;
      for (const [i, c] of commands.entries())
        if (METADATA_VAR.test(c))
          b.skip(
            `${where}.hooks.${kind}[${i}]`,
            "uses autorestic's backup metadata variables, which holdfast does not set (its run record has them: `holdfast show latest --json`)",
          );
      steps.push({
        name: kind,
        type: "exec",
        // autorestic runs each hook with bash in the config's directory and stops at the first failure.
        command: ["bash", "-e", "-c", commands.join("\n")],
        cwd: hookCwd,
        env: { AUTORESTIC_LOCATION: name },
      });
    };
    hookStep("prevalidate");
    hookStep("before");

    // One backup step per distinct set of flags (backend options can differ per backend).
    const groups = new Map<string, { repos: string[]; flags: Record<string, unknown> }>();
    for (const backend of repos) {
      const flags = flagsFor(backend, "backup");
      const key = JSON.stringify(flags);
      const g = groups.get(key) ?? { repos: [], flags };
      g.repos.push(repoNames.get(backend)!);
      groups.set(key, g);
    }
    if (groups.size > 1)
      b.skip(
        `${where}.options.backup`,
        "the backends' backup flags differ: one backup step per set of flags, but the source's excludes are those of the first backend",
      );
    const hasAfter = asList(hooks.after).length > 0;
    for (const [i, g] of [...groups.values()].entries()) {
      const step: Record<string, unknown> = {
        name: groups.size > 1 ? `backup-${i + 1}` : "backup",
        type: "backup",
        source: sourceName,
        repos: g.repos,
      };
      const tags = asList(g.flags.tag).map(String);
      if (tags.length > 0) step.tags = tags;
      if (typeof g.flags.host === "string") step.host = g.flags.host;
      const extra = Object.entries(g.flags)
        .filter(([k]) => !SOURCE_FLAGS.has(k) && k !== "tag" && k !== "host")
        .flatMap(([k, v]) => flagArgs(k, v));
      if (extra.length > 0) step.extra_args = extra;
      // autorestic runs the after hooks even when a backend failed (it goes on to the next one).
      if (hasAfter) step.on_failure = "continue";
      steps.push(step);
    }
    hookStep("after");

    const copy = isRecord(raw.copy) ? raw.copy : {};
    const copyTargets: string[] = [];
    for (const [fromBackend, targets] of Object.entries(copy)) {
      const fromRepo = repoNames.get(fromBackend);
      const toRepos = asList(targets)
        .map(String)
        .map((t) => repoNames.get(t) ?? undefinedBackend(t, `${where}.copy.${fromBackend}`));
      if (!fromRepo) {
        b.skip(
          `${where}.copy.${fromBackend}`,
          `copies from "${fromBackend}", which is not one of the location's backends`,
        );
        continue;
      }
      if (toRepos.length === 0) continue;
      copyTargets.push(...toRepos);
      steps.push({ name: `copy-${fromRepo}`, type: "copy", from: fromRepo, to: toRepos });
    }

    // Retention: autorestic's forget runs with the location's tag in its backends and copy targets.
    const forgetFlags = flagsFor(repos[0]!, "forget");
    const keep: Record<string, unknown> = {};
    for (const [flag, value] of Object.entries(forgetFlags)) {
      const k = KEEP_FLAGS[flag];
      if (k !== undefined) keep[k] = Array.isArray(value) ? value.at(-1) : value;
      else if (flag === "prune") continue;
      else
        b.skip(
          `${where}.options.forget.${flag}`,
          flag === "keep-tag"
            ? "holdfast's keep has no keep-tag"
            : ["group-by", "tag", "host", "path"].includes(flag)
              ? "holdfast groups retention by host and source itself"
              : "not a keep rule: holdfast's forget takes only keep rules and prune",
        );
    }
    const forgetOption = typeof raw.forget === "string" ? raw.forget : raw.forget === true ? "yes" : "";
    const forgetRepos = [...new Set([...repos.map((r) => repoNames.get(r)!), ...copyTargets])];
    const hasKeep = Object.keys(keep).length > 0;
    const forgetStep = {
      name: "forget",
      type: "forget",
      repos: forgetRepos,
      keep,
      sources: [sourceName],
      ...(forgetOption === "prune" || forgetFlags.prune === true ? { prune: true } : {}),
    };
    if ((forgetOption === "yes" || forgetOption === "prune") && hasKeep) steps.push(forgetStep);
    else if ((forgetOption === "yes" || forgetOption === "prune") && !hasKeep)
      b.skip(`${where}.forget`, "forget is on but no keep-* policy applies: no forget step");

    const job: Record<string, unknown> = {};
    if (typeof raw.cron === "string") job.schedule = raw.cron;
    job.steps = steps;
    b.section("jobs")[jobName] = job;
    b.comment(
      ["jobs", jobName],
      `autorestic location "${name}": \`autorestic backup -l ${name}\`${typeof raw.cron === "string" ? ` on its cron (${raw.cron})` : ""}`,
    );
    if (hasAfter)
      b.comment(
        ["jobs", jobName, "steps"],
        "the backup step goes on to the after hooks when it fails, as autorestic does (the run still fails)",
      );
    if (hasKeep && forgetOption !== "yes" && forgetOption !== "prune") {
      // The policy applies only when `autorestic forget` is run by hand: a job without a schedule.
      const forgetJob = uniqueName(`${jobName}-forget`, jobNames);
      b.section("jobs")[forgetJob] = { steps: [forgetStep] };
      b.comment(
        ["jobs", forgetJob],
        `\`autorestic forget -l ${name}\`: the location's policy, run by hand (holdfast run ${forgetJob})`,
      );
    }

    // success/failure hooks → command notifiers for this job.
    const notify: string[] = [];
    for (const event of ["success", "failure"] as const) {
      const commands = asList(hooks[event]).map(String);
      if (commands.length === 0) continue;
      const notifier = uniqueName(`${jobName}-${event}`, notifierNames);
      b.section("notifications")[notifier] = {
        type: "command",
        events: [event],
        command: ["env", `AUTORESTIC_LOCATION=${name}`, "bash", "-e", "-c", commands.join("\n")],
        cwd: hookCwd,
      };
      b.comment(["notifications", notifier], `autorestic location "${name}": its ${event} hooks`);
      notify.push(notifier);
      for (const [i, c] of commands.entries())
        if (METADATA_VAR.test(c))
          b.skip(
            `${where}.hooks.${event}[${i}]`,
            "uses autorestic's backup metadata variables; the notifier gets HOLDFAST_* variables and the run's JSON on stdin instead",
          );
    }
    if (notify.length > 0) job.notify = notify;
  }
  if (Object.keys(locations).length === 0) b.skip("locations", "no locations: no sources or jobs");
  return b.result();
}

function translateBackend(
  b: ImportBuilder,
  ctx: ImportContext,
  name: string,
  repoName: string,
  raw: Record<string, unknown>,
  relative: (p: string) => string,
): void {
  const where = `backends.${name}`;
  for (const key of Object.keys(raw))
    if (!BACKEND_KEYS.has(key)) b.skip(`${where}.${key}`, "not an autorestic backend key");
  const type = scalarText(raw.type);
  const p = scalarText(raw.path);
  const repo: Record<string, unknown> = {};
  const rest = isRecord(raw.rest) ? raw.rest : {};
  if (type === "local") repo.url = relative(p);
  else if (
    type === "rest" &&
    (rest.user !== undefined || rest.password !== undefined || /\/\/[^/]*@/.test(p))
  ) {
    repo.url_file = b.secretFile(
      ctx,
      repoName,
      "url",
      `the URL of repository ${repoName} (it carries credentials)`,
      `${where}.path with ${where}.rest.user/password: rest:${p.replace(/\/\/[^/]*@/, "//…@")}`,
    );
  } else if (["rest", "b2", "azure", "gs", "s3", "sftp", "rclone", "swift"].includes(type))
    repo.url = `${type}:${p}`;
  else {
    b.skip(where, `backend type "${type}" is not one autorestic knows`);
    return;
  }
  const envPrefix = `AUTORESTIC_${name.toUpperCase().replace(/[^A-Za-z0-9]/g, "_")}_`;
  repo.password_file = b.secretFile(
    ctx,
    repoName,
    "pass",
    `the password of repository ${repoName}`,
    typeof raw.key === "string"
      ? `${where}.key (inline in ${ctx.file})`
      : `$${envPrefix}RESTIC_PASSWORD or .autorestic.env (no key in the file)`,
  );
  b.repositoryEnv(
    ctx,
    repo,
    repoName,
    isRecord(raw.env) ? raw.env : {},
    `backend credentials of repository ${repoName}`,
    `${where}.env`,
  );
  const opts = isRecord(raw.options) ? raw.options : {};
  for (const key of Object.keys(opts))
    if (!["all", "backup", "forget"].includes(key))
      b.skip(
        `${where}.options.${key}`,
        `restic flags for \`${key}\`: holdfast runs no such command on its own`,
      );
  b.section("repositories")[repoName] = repo;
  b.comment(
    ["repositories", repoName],
    `from autorestic backend "${name}" (${type}); autorestic also read ${envPrefix}* from the environment and .autorestic.env`,
  );
}

/** Flags of several option maps, later ones replacing earlier ones (autorestic's priority order). */
function mergeFlags(maps: unknown[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const m of maps) {
    if (!isRecord(m)) continue;
    for (const [k, v] of Object.entries(m)) merged[k.replace(/^--?/, "")] = v;
  }
  return merged;
}
