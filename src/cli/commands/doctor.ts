// holdfast doctor: checks what a backup needs and says what to fix — the tools (restic, rsync, git)
// and their versions, the config, the modes of secret files, each repository (reachable, how many
// snapshots, any stale lock) and the state dir. Exit 1 when anything is wrong (warnings included),
// 0 when everything is fine.
import fs from "node:fs";
import path from "node:path";
import { ConfigError, formatConfigIssue, type StepError } from "../../errors.js";
import type { Config } from "../../config/types.js";
import { findConfigFile, loadConfigFile } from "../../config/load.js";
import { embeddedDefaultConfig, quickstartPaths } from "../../config/defaults.js";
import { runProcess } from "../../util/process.js";
import { detectRestic } from "../../restic/detect.js";
import { findOnPath } from "../../util/find-on-path.js";
import { catConfig, locks, snapshots } from "../../restic/commands.js";
import { isMetaSnapshot } from "../../sources/adopt.js";
import { parseRepoConfig } from "../../restic/outputs.js";
import { resticFeatures, versionAtLeast, type ResticVersion } from "../../restic/version.js";
import { DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS } from "../../restic/repository.js";
import type { GlobalOptions } from "../context.js";
import type { StepKind, ToolNeed } from "../../engine/step-kind.js";
import { allStepKinds } from "../../registry.js";
import { inspectHistory } from "../../store/sqlite/health.js";
import { listPendingRecords } from "../../store/resilient-store.js";
import { color, printJson } from "../output.js";
import { cliResticEnv, createCliRestic, jsonError } from "./restic-shared.js";

type CheckStatus = "ok" | "info" | "warning" | "error";

interface Check {
  check: string;
  status: CheckStatus;
  message: string;
  hint: string | null;
  /** Repository checks: the format (restic `cat config` → version) and who made the latest snapshot. */
  format?: number | null;
  latest_snapshot_program_version?: string | null;
}

const MARK: Record<CheckStatus, string> = {
  ok: color.green("✓"),
  info: color.dim("·"),
  warning: color.yellow("!"),
  error: color.red("✗"),
};

export default async function doctor(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const checks: Check[] = [];
  const add: Add = (check, status, message, hint = null, extra = {}) => {
    const c: Check = { check, status, message, hint, ...extra };
    checks.push(c);
    if (!flags.json) {
      process.stdout.write(`${MARK[status]} ${color.bold(check)}: ${message}\n`);
      if (hint && status !== "ok") process.stdout.write(`    ${color.dim(`→ ${hint}`)}\n`);
    }
  };

  // The config first: the tools' checks depend on what it uses.
  let config: Config | null = null;
  const file = findConfigFile({ configPath: global.config });
  if (file) {
    try {
      config = loadConfigFile(file);
      add(
        "config",
        "ok",
        `${file} is valid (${Object.keys(config.jobs).length} jobs, ${Object.keys(config.repositories).length} repositories)`,
      );
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      add(
        "config",
        "error",
        `${file} has ${err.issues.length} problem${err.issues.length === 1 ? "" : "s"}:\n${err.issues.map((i) => `    ${formatConfigIssue(i)}`).join("\n")}`,
        "fix them (holdfast config validate prints the same list)",
      );
    }
  } else {
    config = embeddedDefaultConfig();
    add(
      "config",
      "info",
      "no config file found; `holdfast run` uses the embedded quickstart job",
      "write your own with `holdfast init`",
    );
  }

  const env = config ? safeEnv(config) : { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  const tools = toolsToCheck(
    config ? Object.values(config.jobs).flatMap((j) => j.steps.map((s) => s.type)) : [],
    allStepKinds(),
  );

  // Tools
  if (config) {
    const restic = await detectRestic(config, env);
    if (restic.error) add("restic", "error", restic.error.message, restic.error.hint);
    else if (restic.version && !versionAtLeast(restic.version, "0.14.0")) {
      add(
        "restic",
        "warning",
        `${restic.text}: older than 0.14, the oldest version holdfast supports`,
        "upgrade restic",
      );
    } else add("restic", "ok", `${restic.text} (${findOnPath(restic.binary, env.PATH) ?? restic.binary})`);
  }
  for (const { need, needed } of tools)
    await toolCheck(add, need.tool, [...need.versionArgs], env, needed, need.hint);

  if (config && config.file === null && !fs.existsSync(quickstartPaths(config.state_dir).passwordFile)) {
    // The embedded quickstart has not run yet: its repository and password do not exist, and that is fine.
    stateDir(config, add);
    add(
      "quickstart",
      "info",
      "the embedded quickstart repository does not exist yet",
      "`holdfast run` creates it (or write a config with `holdfast init`)",
    );
  } else if (config) {
    secretModes(config, add);
    stateDir(config, add);
    historyDatabase(config, add);
    await repositories(config, add);
  }

  const bad = checks.filter((c) => c.status === "error" || c.status === "warning");
  if (flags.json) printJson({ ok: bad.length === 0, checks });
  else {
    process.stdout.write(
      bad.length === 0
        ? `\n${color.green("all good")}\n`
        : `\n${bad.length} problem${bad.length === 1 ? "" : "s"} to fix (${checks.filter((c) => c.status === "error").length} errors)\n`,
    );
  }
  return bad.length === 0 ? 0 : 1;
}

type Add = (
  check: string,
  status: CheckStatus,
  message: string,
  hint?: string | null,
  extra?: Pick<Check, "format" | "latest_snapshot_program_version">,
) => void;

function safeEnv(config: Config): Record<string, string> {
  try {
    return cliResticEnv(config);
  } catch {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/" };
  }
}

/**
 * The tools the registered step kinds declare (in registry order, each once), with whether a step of
 * the config needs it: doctor checks them all and calls a missing one an error only when needed.
 */
export function toolsToCheck(
  configuredTypes: readonly string[],
  kinds: readonly Pick<StepKind, "type" | "tools">[],
): Array<{ need: ToolNeed; needed: boolean }> {
  const configured = new Set(configuredTypes);
  const tools = new Map<string, { need: ToolNeed; needed: boolean }>();
  for (const kind of kinds)
    for (const need of kind.tools ?? []) {
      const entry = tools.get(need.tool) ?? { need, needed: false };
      if (configured.has(kind.type)) entry.needed = true;
      tools.set(need.tool, entry);
    }
  return [...tools.values()];
}

async function toolCheck(
  add: Add,
  tool: string,
  args: string[],
  env: Record<string, string>,
  needed: boolean,
  hint: string,
) {
  const bin = findOnPath(tool, env.PATH);
  if (!bin) {
    add(
      tool,
      needed ? "error" : "info",
      `not found on PATH${needed ? "" : " (no step of the config needs it)"}`,
      hint,
    );
    return;
  }
  const result = await runProcess(bin, args, { env, timeoutMs: 10_000, collectStdout: true });
  const first = (result.stdout ?? "").split("\n")[0]?.trim() ?? "";
  if (result.exitCode !== 0)
    add(
      tool,
      needed ? "error" : "warning",
      `${bin} does not run (${result.stderrTail.at(-1) ?? `exit ${result.exitCode}`})`,
      hint,
    );
  else add(tool, "ok", `${first} (${bin})`);
}

/** Secret files: they must exist and be readable by the owner only (S2). */
function secretModes(config: Config, add: Add) {
  const files: Array<{ file: string; what: string }> = [];
  for (const repo of Object.values(config.repositories)) {
    if (repo.password_file)
      files.push({ file: repo.password_file, what: `repository ${repo.name} password_file` });
    if (repo.url_file) files.push({ file: repo.url_file, what: `repository ${repo.name} url_file` });
    if (repo.env_file) files.push({ file: repo.env_file, what: `repository ${repo.name} env_file` });
  }
  if (config.env_file) files.push({ file: config.env_file, what: "env_file" });
  for (const job of Object.values(config.jobs)) {
    if (job.env_file) files.push({ file: job.env_file, what: `job ${job.name} env_file` });
    for (const step of job.steps) {
      if (step.env_file) files.push({ file: step.env_file, what: `step ${job.name}.${step.name} env_file` });
      // A step's own secret (a dump step's database password), as engine/secrets.ts masks it.
      if (typeof step.password_file === "string")
        files.push({ file: step.password_file, what: `step ${job.name}.${step.name} password_file` });
    }
  }
  for (const n of Object.values(config.notifications)) {
    for (const key of ["url_file", "secret_file", "token_file"]) {
      const value = n[key];
      if (typeof value === "string") files.push({ file: value, what: `notification ${n.name} ${key}` });
    }
  }
  if (config.server.token_file) files.push({ file: config.server.token_file, what: "server token_file" });
  if (files.length === 0) return;
  let problems = 0;
  for (const { file, what } of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (err) {
      problems++;
      const code = (err as NodeJS.ErrnoException).code;
      add(
        "secrets",
        "error",
        `${what} ${file}: ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`}`,
        code === "ENOENT"
          ? "create it (mode 0600), e.g. with `holdfast init`"
          : "check its ownership and mode",
      );
      continue;
    }
    if ((st.mode & 0o077) !== 0) {
      problems++;
      add(
        "secrets",
        "warning",
        `${what} ${file} is readable by ${st.mode & 0o007 ? "others" : "its group"} (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")})`,
        `chmod 600 ${file}`,
      );
    }
  }
  if (problems === 0)
    add(
      "secrets",
      "ok",
      `${files.length} secret file${files.length === 1 ? "" : "s"}, all mode 0600 or stricter`,
    );
}

function stateDir(config: Config, add: Add) {
  const dir = config.state_dir;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = path.join(dir, `.doctor-${process.pid}`);
    fs.writeFileSync(probe, "ok", { mode: 0o600 });
    fs.rmSync(probe);
    const mode = fs.statSync(dir).mode & 0o777;
    if (mode & 0o077)
      add(
        "state dir",
        "warning",
        `${dir} is writable but open to others (mode ${mode.toString(8)})`,
        `chmod 700 ${dir}`,
      );
    else add("state dir", "ok", `${dir} is writable`);
  } catch (err) {
    add(
      "state dir",
      "error",
      `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      "create it for the user holdfast runs as, or set state_dir in the config",
    );
  }
}

function historyDatabase(config: Config, add: Add) {
  const file = path.join(config.state_dir, "history.db");
  const pending = listPendingRecords(config.state_dir).length;
  for (const finding of inspectHistory(file, pending, new Date()))
    add("history", finding.status, finding.message, finding.hint);
}

/** The repository's format (`restic cat config` → `version`: 1, or 2 with compression); null when unknown. */
async function repositoryFormat(
  host: ReturnType<typeof createCliRestic>["host"],
  repo: Config["repositories"][string],
  timeoutMs: number,
): Promise<number | null> {
  const outcome = await catConfig(host, repo, { timeoutMs });
  if (!outcome.ok) return null;
  try {
    const version = parseRepoConfig(outcome.stdout ?? "").version;
    return Number.isInteger(version) && version > 0 ? version : null;
  } catch {
    return null;
  }
}

function formatText(format: number | null): string {
  if (format === null) return "repository format unknown (restic cat config failed)";
  return format >= 2
    ? `repository format ${format} (compressed)`
    : `repository format ${format} (uncompressed)`;
}

/**
 * Who made the latest snapshot: restic 0.16+ writes its version into each snapshot (program_version).
 * restic older than 0.16 neither writes it nor shows it for snapshots a newer restic made.
 */
function madeByText(programVersion: string | null, resticVersion: ResticVersion | null): string {
  // restic writes "restic 0.18.0".
  if (programVersion) return /^restic\b/.test(programVersion) ? programVersion : `restic ${programVersion}`;
  if (!resticFeatures(resticVersion).snapshotProgramVersion)
    return `an unknown restic (restic ${resticVersion?.text ?? "of this config"} does not show program_version; 0.16+ does)`;
  return "an unknown restic (the snapshot records no program_version: made by restic older than 0.16)";
}

async function repositories(config: Config, add: Add) {
  const repos = Object.values(config.repositories);
  if (repos.length === 0) return;
  const cli = createCliRestic(config);
  try {
    const results = await Promise.all(
      repos.map(async (repo) => {
        // A cap per repository: a dead backend makes restic 0.14 retry for minutes.
        // Longer than the password_command's own limit, so a hanging command is named as such.
        const cap = Math.max(
          60_000,
          (repo.password_command_timeout ?? DEFAULT_PASSWORD_COMMAND_TIMEOUT_MS) + 15_000,
        );
        const listed = await snapshots(cli.host, repo, {}, { timeoutMs: cap });
        const lockInfo = listed.outcome.ok ? await locks(cli.host, repo) : null;
        const format = listed.outcome.ok ? await repositoryFormat(cli.host, repo, cap) : null;
        return { repo, listed, lockInfo, format };
      }),
    );
    const { version } = await detectRestic(config, cli.host.env);
    for (const { repo, listed, lockInfo, format } of results) {
      const label = `repository ${repo.name}`;
      if (!listed.outcome.ok) {
        const error: StepError | null = jsonError(listed.outcome.error, cli.redactor);
        add(label, "error", `not usable: ${error?.message ?? "restic failed"}`, error?.hint ?? null);
        continue;
      }
      // holdfast's recovery snapshots (holdfast-meta) are counted apart from the user's.
      const metaCount = listed.snapshots.filter((s) => isMetaSnapshot(s)).length;
      const user = listed.snapshots.filter((s) => !isMetaSnapshot(s));
      const holdfastCount = user.filter((s) => s.tags.includes("holdfast")).length;
      const latest = user.at(-1);
      const madeBy = latest ? (latest.programVersion ?? null) : null;
      add(
        label,
        "ok",
        `reachable, ${user.length} snapshot${user.length === 1 ? "" : "s"} (${holdfastCount} by holdfast)${metaCount > 0 ? ` and ${metaCount} holdfast-meta` : ""}${latest ? `, latest ${latest.time.slice(0, 19).replace("T", " ")} made by ${madeByText(madeBy, version)}` : ""}; ${formatText(format)}`,
        null,
        { format, latest_snapshot_program_version: madeBy },
      );
      if (format === 1) {
        add(
          label,
          "warning",
          "repository format 1: restic stores its data uncompressed (format 2, restic 0.14+, compresses)",
          `upgrade it with \`restic migrate upgrade_repo_v2\` (restic 0.14+; every restic that uses the repository must then be 0.14 or newer; run \`restic check\` first), then \`restic prune --repack-uncompressed\` compresses the data already stored`,
          { format },
        );
      }
      for (const l of lockInfo?.locks ?? []) {
        if (l.stale) {
          add(
            label,
            "warning",
            `stale ${l.exclusive ? "exclusive " : ""}lock left by PID ${l.pid} on ${l.hostname} at ${l.time}`,
            `holdfast unlock ${repo.name}`,
          );
        } else {
          add(
            label,
            "info",
            `locked by a running restic (PID ${l.pid} on ${l.hostname}${l.exclusive ? ", exclusive" : ""}) since ${l.time}`,
            null,
          );
        }
      }
    }
  } finally {
    cli.dispose();
  }
}
