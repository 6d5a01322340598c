// holdfast bootstrap --repo URL|--repo-file F --password-file F: starting over after a disaster
// (issue 17 item 7). Reads the latest holdfast-meta snapshot of the repository (src/meta/), writes
// the config where it was (or into --dir), imports the run history into the config's state dir, and
// prints which secret files to put back where — it never had them: the snapshot holds paths only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, UsageError, formatConfigIssue } from "../../errors.js";
import { loadConfigFile } from "../../config/load.js";
import { META_FILENAME, META_FORMAT, META_TAG, type MetaDocument } from "../../meta/meta-snapshot.js";
import { runProcess } from "../../util/process.js";
import { makePrivateTempDir } from "../../util/private-temp.js";
import type { GlobalOptions } from "../context.js";
import { openStore } from "../open-store.js";
import { color, printJson } from "../output.js";

interface BootstrapFlags {
  repo?: string;
  repoFile?: string;
  passwordFile?: string;
  dir?: string;
  host?: string;
  force?: boolean;
  json?: boolean;
}

export default async function bootstrapCommand(
  _global: GlobalOptions,
  flags: BootstrapFlags,
): Promise<number> {
  if ((flags.repo === undefined) === (flags.repoFile === undefined))
    throw new UsageError(
      "name the repository with --repo URL or --repo-file FILE (one of them)",
      "a URL with credentials belongs in a file: --repo-file FILE (mode 0600)",
    );
  if (flags.passwordFile === undefined)
    throw new UsageError(
      "--password-file FILE is needed",
      "the repository's password, in a file (mode 0600)",
    );
  const work = makePrivateTempDir("holdfast-bootstrap-");
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? os.homedir(),
      RESTIC_PASSWORD_FILE: path.resolve(flags.passwordFile),
      RESTIC_CACHE_DIR: path.join(work, "cache"),
      ...(flags.repo !== undefined
        ? { RESTIC_REPOSITORY: flags.repo }
        : { RESTIC_REPOSITORY_FILE: path.resolve(flags.repoFile!) }),
    };
    const restic = (args: string[], collectStdout = false) =>
      runProcess("restic", args, { env, collectStdout, timeoutMs: 30 * 60_000, stderrTailLines: 5 });
    const listed = await restic(["snapshots", "--json", "--tag", META_TAG], true);
    if (listed.spawnError)
      throw new UsageError(`cannot run restic: ${listed.spawnError.message}`, "install restic first");
    if (listed.exitCode !== 0)
      throw new UsageError(
        `restic cannot list the repository's snapshots (exit ${listed.exitCode ?? "?"}): ${listed.stderrTail.join(" ")}`,
        "check the URL (or its file) and the password file",
      );
    const all = (JSON.parse(listed.stdout ?? "[]") ?? []) as Array<{
      id: string;
      time: string;
      hostname: string;
      paths: string[];
    }>;
    const hosts = [...new Set(all.map((s) => s.hostname))].sort();
    if (flags.host !== undefined && !hosts.includes(flags.host))
      throw new UsageError(
        `the repository holds no ${META_TAG} snapshot of host ${flags.host}`,
        hosts.length > 0
          ? `it holds those of: ${hosts.join(", ")} (--host NAME)`
          : "holdfast stores one after each run that backs up into it (unless the config sets recovery: { meta: false })",
      );
    if (flags.host === undefined && hosts.length > 1)
      throw new UsageError(
        `the repository holds ${META_TAG} snapshots of ${hosts.length} hosts: ${hosts.join(", ")}`,
        "name the machine to bring back: --host NAME",
      );
    const snaps = all.filter((s) => flags.host === undefined || s.hostname === flags.host);
    const latest = [...snaps].sort((a, b) => a.time.localeCompare(b.time)).at(-1);
    if (!latest)
      throw new UsageError(
        `the repository holds no ${META_TAG} snapshot`,
        "holdfast stores one after each run that backs up into it (unless the config sets recovery: { meta: false }: docs/recovery.md); without one, restore your config from a snapshot of its directory",
      );
    const dumped = await restic(["dump", latest.id, `/${META_FILENAME}`], true);
    if (dumped.exitCode !== 0)
      throw new UsageError(
        `restic could not read ${META_FILENAME} from snapshot ${latest.id.slice(0, 8)}: ${dumped.stderrTail.join(" ")}`,
        `a ${META_TAG} snapshot made by another holdfast version? Install the one that made it`,
      );
    let meta: MetaDocument;
    try {
      meta = JSON.parse(dumped.stdout ?? "") as MetaDocument;
    } catch {
      throw new UsageError(`snapshot ${latest.id.slice(0, 8)} does not hold a holdfast-meta document`);
    }
    if (meta.format !== META_FORMAT)
      throw new UsageError(
        `the ${META_TAG} snapshot has format ${meta.format}; this holdfast reads ${META_FORMAT}`,
        "install the holdfast version that made it",
      );
    const secrets = meta.secrets;
    const history = meta.runs;

    const dest =
      flags.dir !== undefined
        ? path.join(path.resolve(flags.dir), "holdfast.yaml")
        : (meta.config_path ?? path.join(os.homedir(), ".config/holdfast/holdfast.yaml"));
    if (fs.existsSync(dest) && !flags.force)
      throw new UsageError(`${dest} exists`, "pass --dir ANOTHER-DIR, or --force to replace it");
    try {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, meta.config, { mode: 0o600 });
    } catch (err) {
      throw new UsageError(
        `cannot write ${dest} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        "pass --dir DIR, a directory you can write (the config was there on the old machine)",
      );
    }

    let imported = 0;
    let configProblem: string | null = null;
    try {
      const config = loadConfigFile(dest);
      const store = openStore(config);
      try {
        for (const run of [...history].reverse()) {
          if (await store.getRun(run.id)) continue;
          await store.createRun({
            id: run.id,
            job: run.job,
            host: run.host,
            trigger: run.trigger,
            pid: run.pid,
            started_at: run.started_at,
            steps: run.steps.map((s) => ({ name: s.name, type: s.type })),
          });
          for (const s of run.steps) {
            const { index: _i, name: _n, type: _t, ...patch } = s;
            await store.updateStep(run.id, s.index, patch);
          }
          if (run.finished_at !== null)
            await store.finishRun(run.id, {
              status: run.status,
              exit_code: run.exit_code,
              finished_at: run.finished_at,
              duration_ms: run.duration_ms ?? 0,
              error: run.error,
            });
          imported++;
        }
      } finally {
        await store.close();
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      configProblem = err.issues.map((i) => formatConfigIssue(i)).join("\n");
    }
    const status = secrets.map((s) => ({ ...s, present: fs.existsSync(s.path) }));
    if (flags.json) {
      printJson({
        snapshot: latest.id,
        made_at: meta.created_at,
        host: meta.host,
        config: dest,
        config_loads: configProblem === null,
        runs_imported: imported,
        secrets: status,
      });
    } else {
      const out = process.stdout;
      out.write(
        `${color.green("restored")} the config of ${meta.host} (${META_TAG} snapshot ${latest.id.slice(0, 8)}, ${meta.created_at}, holdfast ${meta.holdfast_version}) to ${dest}\n`,
      );
      out.write(
        configProblem === null
          ? `${imported} runs of history imported into ${meta.state_dir === "" ? "the state dir" : "the config's state dir"}\n`
          : `${color.yellow("warning")}: the config does not load here yet, so no history was imported:\n${configProblem}\n`,
      );
      const missing = status.filter((s) => !s.present);
      out.write(
        missing.length === 0
          ? "every secret file the config names is in place\n"
          : `put these back (holdfast never stored them; mode 0600), then \`holdfast --config ${dest} config validate\`:\n`,
      );
      for (const s of missing)
        out.write(`  ${s.where}: ${s.kind === "command" ? "the program " : ""}${s.path}\n`);
    }
    return configProblem === null ? 0 : 2;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
