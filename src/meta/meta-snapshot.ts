// The holdfast-meta snapshot (issue 17 item 7): what a new machine needs to start over, kept in the
// repositories themselves — the config file as written (not masked: what load refuses as a secret is
// not in it, but a notifier's inline url: token, webhook headers: and inline env: values may be;
// docs/recovery.md says how to keep them in files), the list of secret files and commands it names
// (paths only), and a compact export of the run history, as one JSON document. After a run that
// backed up into a repository (on by default; recovery.meta: false turns it off), that document goes
// there with one `restic backup --stdin` (tag holdfast-meta, the config's host), then one forget
// keeps the last recovery.keep of them per host. Nothing is written to disk. A failure here is a
// warning line: it never changes the run's result.
import fs from "node:fs";
import type { Config } from "../config/types.js";
import type { RunRecord, RunStore } from "../store/types.js";
import { runRestic } from "../restic/exec.js";
import type { ResticHost } from "../restic/host.js";
import { dataFlowHow } from "../registry.js";
import { META_TAG } from "../sources/adopt.js";

export { META_TAG };
/** 2: one JSON document read from stdin (1, a directory of four files, was never on by default). */
export const META_FORMAT = 2;
/** The file name of the document inside the snapshot (restic --stdin-filename). */
export const META_FILENAME = "holdfast-meta.json";
const HISTORY_RUNS = 200;
/** A cap for each of the two restic commands (a dead backend must not hold the run's exit forever). */
const META_TIMEOUT_MS = 5 * 60_000;

/** holdfast's version, from the package.json two levels up (src/meta/, dist/meta/, dist/cli/ for the bundle). */
function holdfastVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface SecretReference {
  /** Where the config names it: "repositories.local.password_file". */
  where: string;
  /** The file (or, for a command, the program) to put back. */
  path: string;
  kind: "file" | "command";
}

/** Keys whose value is a file of secrets (or a file the restore needs: cacert). */
const SECRET_FILE_KEYS = new Set([
  "password_file",
  "url_file",
  "env_file",
  "token_file",
  "secret_file",
  "cacert",
]);

/** Every secret file and password command the config names, with where. */
export function secretReferences(config: Config): SecretReference[] {
  const found: SecretReference[] = [];
  const visit = (value: unknown, at: string[]) => {
    if (Array.isArray(value)) return;
    if (!value || typeof value !== "object") return;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const here = [...at, key];
      if (
        typeof v === "string" &&
        (SECRET_FILE_KEYS.has(key) || (key.endsWith("_file") && key !== "exclude_file"))
      )
        found.push({ where: here.join("."), path: v, kind: "file" });
      else if (key === "password_command" && Array.isArray(v) && typeof v[0] === "string")
        found.push({ where: here.join("."), path: v[0], kind: "command" });
      else visit(v, here);
    }
  };
  visit(
    {
      env_file: config.env_file,
      repositories: config.repositories,
      jobs: config.jobs,
      notifications: config.notifications,
      server: config.server,
      fleet: config.fleet,
    },
    [],
  );
  return found;
}

/** The document a holdfast-meta snapshot holds (`holdfast bootstrap` reads it). */
export interface MetaDocument {
  format: number;
  holdfast_version: string;
  host: string;
  created_at: string;
  config_path: string | null;
  state_dir: string;
  /** The config file's text as written. */
  config: string;
  secrets: SecretReference[];
  /** The newest runs first, as `holdfast history --json` prints them, without the old machine's log paths. */
  runs: RunRecord[];
}

/** The history, compact: the log files stay on the old machine, so their paths are left out. */
function compactRuns(runs: readonly RunRecord[]): RunRecord[] {
  return runs.map((run) => ({ ...run, steps: run.steps.map((s) => ({ ...s, log_path: null })) }));
}

export function buildMetaDocument(
  config: Config,
  configText: string,
  runs: readonly RunRecord[],
  version: string,
  now: Date,
): MetaDocument {
  return {
    format: META_FORMAT,
    holdfast_version: version,
    host: config.host,
    created_at: now.toISOString(),
    config_path: config.file,
    state_dir: config.state_dir,
    config: configText,
    secrets: secretReferences(config),
    runs: compactRuns(runs),
  };
}

/**
 * The repositories a run put new data into: its backup and dump steps' targets that made a snapshot
 * (not one skipped as unchanged) and its copy steps' targets that copied at least one.
 */
export function repositoriesWritten(record: RunRecord): string[] {
  const repos = new Set<string>();
  for (const step of record.steps) {
    const how = dataFlowHow(step.type);
    for (const t of step.targets) {
      if (t.status !== "succeeded" && t.status !== "warning") continue;
      const wrote =
        how === "backup" || how === "dump"
          ? typeof t.snapshot_id === "string" && t.skipped_unchanged !== true
          : how === "copy"
            ? Array.isArray(t.snapshot_ids) && t.snapshot_ids.length > 0
            : false;
      if (wrote) repos.add(t.repo);
    }
  }
  return [...repos];
}

/** The restic arguments of the two commands, for the docs and the tests. */
export function metaBackupArgs(host: string): string[] {
  return ["backup", "--stdin", "--stdin-filename", META_FILENAME, "--tag", META_TAG, "--host", host];
}
export function metaForgetArgs(host: string, keep: number): string[] {
  return [
    "forget",
    "--tag",
    META_TAG,
    "--host",
    host,
    "--group-by",
    "host",
    "--keep-last",
    String(Math.max(1, keep)),
  ];
}

const why = (outcome: { error: { message: string } | null; exitCode: number | null }) =>
  outcome.error?.message ?? `restic exit ${outcome.exitCode ?? "?"}`;

/**
 * After a run: the document into each repository the run wrote, then that repository's older ones
 * forgotten. Returns one warning line per thing not done (none: all stored). Never throws.
 */
export async function storeMetaSnapshots(
  config: Config,
  store: Pick<RunStore, "listRuns">,
  record: RunRecord,
  host: ResticHost,
): Promise<string[]> {
  if (!config.recovery.meta || config.file === null) return [];
  const repos = repositoriesWritten(record).filter((name) => config.repositories[name] !== undefined);
  if (repos.length === 0) return [];
  let document: string;
  try {
    const runs = await store.listRuns({ limit: HISTORY_RUNS });
    const doc = buildMetaDocument(
      config,
      fs.readFileSync(config.file, "utf8"),
      runs,
      holdfastVersion(),
      new Date(),
    );
    document = `${JSON.stringify(doc)}\n`;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return [`the holdfast-meta snapshot was not stored in ${repos.join(", ")} (${message})`];
  }
  const warnings: string[] = [];
  for (const name of repos) {
    const repo = config.repositories[name]!;
    const backup = await runRestic(host, {
      repo,
      args: [...metaBackupArgs(config.host), "--quiet"],
      command: "backup",
      echo: false,
      timeoutMs: META_TIMEOUT_MS,
      stdinStream: (stdin) => {
        stdin.on("error", () => undefined);
        stdin.end(document);
      },
    });
    if (!backup.ok) {
      if (backup.cancelled) break;
      warnings.push(
        `${name}: the holdfast-meta snapshot (this config and history, for \`holdfast bootstrap\`) was not stored: ${why(backup)}`,
      );
      continue;
    }
    const forget = await runRestic(host, {
      repo,
      args: [...metaForgetArgs(config.host, config.recovery.keep), "--quiet"],
      command: "forget",
      echo: false,
      exclusive: true,
      timeoutMs: META_TIMEOUT_MS,
    });
    if (!forget.ok) {
      if (forget.cancelled) break;
      // Another restic (another job's backup) holds a lock: nothing is wrong, the snapshot is stored,
      // and the next run's forget thins the extra one — not worth a warning every time jobs overlap.
      if (forget.error?.kind === "repo_locked") continue;
      warnings.push(
        `${name}: older holdfast-meta snapshots were not forgotten (the next run tries again): ${why(forget)}`,
      );
    }
  }
  return warnings;
}
