// holdfast restore REPO [SNAPSHOT] --target DIR [--include PATH]…: restores a snapshot (default: the
// latest of the source) into a directory.
import { unknownNameError } from "../unknown-name.js";
import fs from "node:fs";
import path from "node:path";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { color, printJson } from "../output.js";
import { resolveSnapshotId, restore } from "../../restic/commands.js";
import type { SourceConfig } from "../../config/types.js";
import { sourceFilter } from "../../sources/adopt.js";
import { parseRestoreLine } from "../../restic/outputs.js";
import { UsageError } from "../../errors.js";
import {
  checkDirIdentity,
  identityOf,
  UnsafeDirError,
  untrustedBecause,
  type DirIdentity,
} from "../../util/safe-dir.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";
import { own } from "../../util/own.js";

interface RestoreFlags {
  database?: string;
  toDatabase?: string;
  snapshot?: string;
  dryRun?: boolean;
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
  repoName: string | undefined,
  snapshotArg: string | undefined,
  flags: RestoreFlags,
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  if (snapshotArg !== undefined && flags.snapshot !== undefined && snapshotArg !== flags.snapshot)
    throw new UsageError(`two snapshots named: ${snapshotArg} and --snapshot ${flags.snapshot}`, "give one");
  const snapshot = snapshotArg ?? flags.snapshot;
  if (flags.database !== undefined) {
    for (const [flag, set] of [
      ["--target", flags.target !== undefined],
      ["--include", (flags.include?.length ?? 0) > 0],
      ["--verify", flags.verify === true],
    ] as const)
      if (set)
        throw new UsageError(
          `${flag} is for restoring files; --database restores into the database server (or SQLite file)`,
          "drop it, or restore the dump as a file: holdfast restore REPO SNAPSHOT --target DIR",
        );
    const { default: restoreDatabase } = await import("./restore-database.js");
    return restoreDatabase(config, repoName, {
      database: flags.database,
      ...(flags.toDatabase !== undefined ? { toDatabase: flags.toDatabase } : {}),
      ...(snapshot !== undefined ? { snapshot } : {}),
      ...(flags.source !== undefined ? { source: flags.source } : {}),
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      force: flags.force === true,
      dryRun: flags.dryRun === true,
      json: flags.json === true,
    });
  }
  for (const [flag, set] of [
    ["--to-database", flags.toDatabase !== undefined],
    ["--dry-run", flags.dryRun === true],
  ] as const)
    if (set)
      throw new UsageError(`${flag} goes with --database NAME`, "holdfast restore --database NAME --dry-run");
  if (repoName === undefined)
    throw new UsageError(
      "which repository? holdfast restore REPO [SNAPSHOT] --target DIR",
      "or restore a database: holdfast restore --database NAME",
    );
  const [repo] = pickRepositories(config, repoName);
  if (!repo) throw new UsageError(`no repository named "${repoName}"`);
  if (!flags.target)
    throw new UsageError(
      "--target DIR is required",
      "restore into an empty directory: holdfast restore REPO --target /tmp/restore",
    );
  const target = path.resolve(flags.target);
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
    } else if (!own(config.sources, source)) {
      throw unknownNameError("source", source, names, {
        listed: "sources in the config",
        none: "the config has no sources",
      });
    }
  }
  const id = snapshot ?? "latest";
  // The directory restic is given (a real path) and its identity, checked again just before restic
  // starts: whatever is swapped in between (a symlink where the directory was) is refused.
  const prepared = prepareTarget(target, flags);
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
    recheckTarget(prepared, flags);
    const outcome = await restore(wrapped, repo, id, {
      target: prepared.dir,
      ...(flags.include?.length ? { include: flags.include } : {}),
      filter: {
        // The latest of the source: holdfast's, or one the source adopts (issue 17).
        ...(id === "latest" && source !== undefined ? latestOfSource(config.sources[source], source) : {}),
        ...(flags.host !== undefined ? { hosts: [flags.host] } : {}),
      },
      ...(flags.verify ? { verify: true } : {}),
    });
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    // restic says which snapshot it restored by 8 characters: name it by its full id, like the
    // backup that made it.
    const restoredId =
      seen.restored === null
        ? null
        : ((await resolveSnapshotId(cli.host, repo, seen.restored)) ?? seen.restored);
    const result = {
      repo: repo.name,
      snapshot_id: restoredId,
      short_id: restoredId === null ? null : restoredId.slice(0, 8),
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

interface PreparedTarget {
  dir: string;
  identity: DirIdentity;
}

/**
 * The restore target, made or checked. A missing target is made here (0700, the
 * last component exclusively, so nothing planted at that name is followed); an existing one must be
 * a directory that no other user may write in — as root, restic would otherwise write wherever a
 * symlink that user puts into it during the restore points — and empty unless --force.
 */
function prepareTarget(target: string, flags: RestoreFlags): PreparedTarget {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new UsageError(`--target ${target} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  if (stat === null) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    try {
      fs.mkdirSync(target, { mode: 0o700 });
    } catch (err) {
      throw new UsageError(
        `--target ${target} cannot be made (${(err as NodeJS.ErrnoException).code})`,
        "restore into a new directory",
      );
    }
    fs.chmodSync(target, 0o700);
  } else {
    if (!stat.isDirectory()) throw new UsageError(`--target ${target} is not a directory`);
    const untrusted = untrustedBecause(stat);
    if (untrusted) {
      throw new UsageError(
        `--target ${target}: ${untrusted}`,
        "another user could put a symlink into it while restic writes; restore into a new directory (holdfast makes it 0700)",
      );
    }
    if (fs.readdirSync(target).length > 0 && !flags.force) {
      throw new UsageError(
        `--target ${target} is not empty`,
        "restore into an empty directory (restic overwrites files of the same name), or pass --force",
      );
    }
  }
  const dir = fs.realpathSync(target);
  return { dir, identity: identityOf(fs.lstatSync(dir)) };
}

function recheckTarget(prepared: PreparedTarget, flags: RestoreFlags): void {
  try {
    checkDirIdentity(prepared.dir, prepared.identity, { empty: !flags.force });
  } catch (err) {
    if (err instanceof UnsafeDirError) throw new UsageError(`--target ${err.message}`, err.hint);
    throw err;
  }
}

function latestOfSource(source: SourceConfig | undefined, name: string) {
  const filter = sourceFilter(source ?? { name }, []);
  return { tags: filter.tags, ...(filter.paths.length > 0 ? { paths: filter.paths } : {}) };
}
