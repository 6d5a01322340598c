// The holdfast-meta snapshot (issue 17 item 7): what a new machine needs to start over, kept in the
// repositories themselves — the config file as written (it holds no secret: inline secrets are
// refused when it loads), the list of secret files and commands it names (paths only), and a compact
// export of the run history. After a run that backed up into a repository (recovery.meta: true),
// the bundle is written to STATE/meta (0700, files 0600) and backed up there with the tag
// holdfast-meta, then that repository keeps recovery.keep of them per host. A failure here is a
// warning: it never changes the run's result.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/types.js";
import type { RunRecord, RunStore } from "../store/types.js";
import { repositoryAccess } from "../restic/repository.js";
import { runProcess } from "../util/process.js";
import { writeFileAtomic } from "../util/atomic-write.js";

export const META_TAG = "holdfast-meta";

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
export const META_FORMAT = 1;
const HISTORY_RUNS = 200;

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

export interface MetaBundle {
  "meta.json": string;
  "holdfast.yaml": string;
  "secrets.json": string;
  "history.json": string;
}

export function buildMetaBundle(
  config: Config,
  configText: string,
  runs: RunRecord[],
  version: string,
  now: Date,
): MetaBundle {
  return {
    "meta.json": `${JSON.stringify(
      {
        format: META_FORMAT,
        holdfast_version: version,
        host: config.host,
        created_at: now.toISOString(),
        config_path: config.file,
        state_dir: config.state_dir,
      },
      null,
      2,
    )}\n`,
    "holdfast.yaml": configText,
    "secrets.json": `${JSON.stringify(secretReferences(config), null, 2)}\n`,
    "history.json": `${JSON.stringify({ runs })}\n`,
  };
}

/** The repositories a run backed up into successfully (its backup and dump steps' targets). */
export function repositoriesWritten(record: RunRecord): string[] {
  const repos = new Set<string>();
  for (const step of record.steps)
    if (step.type === "backup" || step.type === "dump")
      for (const t of step.targets) if (t.status === "succeeded" || t.status === "warning") repos.add(t.repo);
  return [...repos];
}

/** After a run: the bundle into each repository the run wrote. Returns warning lines (none: all stored). */
export async function storeMetaSnapshots(
  config: Config,
  store: RunStore,
  record: RunRecord,
  baseEnv: Record<string, string>,
): Promise<string[]> {
  if (!config.recovery.meta || config.file === null) return [];
  const repos = repositoriesWritten(record);
  if (repos.length === 0) return [];
  const warnings: string[] = [];
  const dir = path.join(config.state_dir, "meta");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const runs = await store.listRuns({ limit: HISTORY_RUNS });
  const bundle = buildMetaBundle(
    config,
    fs.readFileSync(config.file, "utf8"),
    runs,
    holdfastVersion(),
    new Date(),
  );
  for (const [name, content] of Object.entries(bundle) as Array<[string, string]>)
    await writeFileAtomic(path.join(dir, name), content, { mode: 0o600 });
  for (const name of repos) {
    const repo = config.repositories[name];
    if (!repo) continue;
    try {
      const access = repositoryAccess(config, repo, baseEnv);
      const run = (args: string[]) =>
        runProcess(config.restic.binary, [...access.globalArgs, ...args], {
          env: access.env,
          timeoutMs: 10 * 60_000,
          stderrTailLines: 3,
        });
      const backup = await run(["backup", "--quiet", "--tag", META_TAG, "--host", config.host, dir]);
      if (backup.exitCode !== 0) {
        warnings.push(
          `${name}: the holdfast-meta snapshot was not stored (restic backup exit ${backup.exitCode ?? "?"}: ${backup.stderrTail.join(" ")})`,
        );
        continue;
      }
      const forget = await run([
        "forget",
        "--quiet",
        "--tag",
        META_TAG,
        "--host",
        config.host,
        "--keep-last",
        String(Math.max(1, config.recovery.keep)),
      ]);
      if (forget.exitCode !== 0)
        warnings.push(
          `${name}: older holdfast-meta snapshots were not forgotten (exit ${forget.exitCode ?? "?"})`,
        );
    } catch (err) {
      warnings.push(
        `${name}: the holdfast-meta snapshot was not stored (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }
  return warnings;
}
