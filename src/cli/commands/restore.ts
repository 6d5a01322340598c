// holdfast restore REPO [SNAPSHOT] --target DIR [--include PATH]…: restores a snapshot (default: the
// latest of the source) into a directory.
import fs from "node:fs";
import path from "node:path";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { color, printJson } from "../output.js";
import { HOLDFAST_TAG, restore, sourceTag } from "../../restic/commands.js";
import { parseRestoreLine } from "../../restic/outputs.js";
import { UsageError } from "../../errors.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";

interface RestoreFlags {
  target?: string;
  include?: string[];
  source?: string;
  host?: string;
  verify?: boolean;
  force?: boolean;
  json?: boolean;
}

export default async function restoreCommand(
  global: GlobalOptions,
  repoName: string,
  snapshot: string | undefined,
  flags: RestoreFlags,
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const [repo] = pickRepositories(config, repoName);
  if (!repo) throw new UsageError(`no repository named "${repoName}"`);
  if (!flags.target)
    throw new UsageError(
      "--target DIR is required",
      "restore into an empty directory: holdfast restore REPO --target /tmp/restore",
    );
  const target = path.resolve(flags.target);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new UsageError(`--target ${target} is not a directory`);
    if (fs.readdirSync(target).length > 0 && !flags.force) {
      throw new UsageError(
        `--target ${target} is not empty`,
        "restore into an empty directory (restic overwrites files of the same name), or pass --force",
      );
    }
  }

  let source = flags.source;
  if (snapshot === undefined || snapshot === "latest") {
    const names = Object.keys(config.sources);
    if (source === undefined) {
      if (names.length !== 1) {
        throw new UsageError(
          "which source's latest snapshot? the config has " +
            (names.length === 0 ? "no sources" : `${names.length} sources`),
          names.length > 0
            ? `name one with --source (${names.join(", ")}), or give a SNAPSHOT id from \`holdfast snapshots ${repo.name}\``
            : "give a SNAPSHOT id from `holdfast snapshots`",
        );
      }
      source = names[0];
    } else if (!config.sources[source]) {
      throw new UsageError(
        `no source named "${source}"`,
        `sources in the config: ${names.join(", ") || "(none)"}`,
      );
    }
  }
  const id = snapshot ?? "latest";
  const cli = createCliRestic(config);
  // Filled in by restic's text output (0.14 restore prints no JSON).
  const seen: { restored: string | null; verified: number | null } = { restored: null, verified: null };
  const wrapped = {
    ...cli.host,
    log: {
      ...cli.host.log,
      output: (line: string, stream: "stdout" | "stderr") => {
        const parsed = parseRestoreLine(line);
        if (parsed.type === "restoring") seen.restored = parsed.shortId;
        else if (parsed.type === "verified") seen.verified = parsed.files;
        else if (stream === "stderr" && !flags.json) process.stderr.write(`${cli.redactor.redact(line)}\n`);
      },
    },
  };
  try {
    if (!flags.json) {
      process.stderr.write(
        `restoring ${id === "latest" ? `the latest snapshot of ${source ?? "?"}` : `snapshot ${id}`} from ${repo.name} into ${target} …\n`,
      );
    }
    const outcome = await restore(wrapped, repo, id, {
      target,
      ...(flags.include?.length ? { include: flags.include } : {}),
      filter: {
        ...(id === "latest" && source !== undefined ? { tags: [[HOLDFAST_TAG, sourceTag(source)]] } : {}),
        ...(flags.host !== undefined ? { hosts: [flags.host] } : {}),
      },
      ...(flags.verify ? { verify: true } : {}),
    });
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    const result = {
      repo: repo.name,
      snapshot_id: seen.restored,
      source: source ?? null,
      target,
      include: flags.include ?? [],
      verified_files: seen.verified,
      ok: outcome.ok,
      error: outcome.ok ? null : jsonError(outcome.error, cli.redactor),
    };
    if (flags.json) printJson(result);
    else if (outcome.ok) {
      process.stdout.write(
        `${color.green("restored")} snapshot ${seen.restored ?? id} from ${repo.name} into ${target}${seen.verified !== null ? ` (verified ${seen.verified} files)` : ""}\n`,
      );
    } else {
      process.stderr.write(
        `${color.red("error")}: ${outcome.error ? describeError(outcome.error, cli.redactor) : "restic restore failed"}\n`,
      );
    }
    return outcome.ok ? 0 : 1;
  } finally {
    cli.dispose();
  }
}
