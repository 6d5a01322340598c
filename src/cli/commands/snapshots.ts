// holdfast snapshots [REPO] [--source NAME] [--json]: the snapshots of each repository.
import { unknownNameError } from "../unknown-name.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { color, formatTable, printJson } from "../output.js";
import { HOLDFAST_TAG, snapshots } from "../../restic/commands.js";
import type { SourceConfig } from "../../config/types.js";
import { isMetaSnapshot, snapshotSource, sourceFilter } from "../../sources/adopt.js";
import type { Snapshot } from "../../restic/outputs.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";
import { own } from "../../util/own.js";

interface SnapshotsFlags {
  source?: string;
  host?: string;
  meta?: boolean;
  json?: boolean;
}

export function snapshotJson(s: Snapshot, sources: Record<string, Pick<SourceConfig, "adopt">> = {}) {
  // A snapshot another tool made counts as the source that adopts it (issue 17).
  const belongs = snapshotSource(s, sources);
  return {
    id: s.id,
    short_id: s.shortId,
    time: s.time,
    hostname: s.hostname,
    username: s.username,
    paths: s.paths,
    tags: s.tags,
    source: belongs?.source ?? s.tags.find((t) => t.startsWith("source:"))?.slice(7) ?? null,
    job: s.tags.find((t) => t.startsWith("job:"))?.slice(4) ?? null,
    holdfast: s.tags.includes(HOLDFAST_TAG),
    adopted: belongs?.adopted ?? false,
  };
}

export default async function snapshotsCommand(
  global: GlobalOptions,
  repoName: string | undefined,
  flags: SnapshotsFlags,
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const repos = pickRepositories(config, repoName);
  if (flags.source !== undefined && !own(config.sources, flags.source)) {
    throw unknownNameError("source", flags.source, Object.keys(config.sources), {
      listed: "sources in the config",
      none: "the config has no sources",
    });
  }
  const cli = createCliRestic(config);
  try {
    const results = await Promise.all(
      repos.map(async (repo) => {
        const source = flags.source !== undefined ? own(config.sources, flags.source) : undefined;
        const r = await snapshots(cli.host, repo, {
          ...(source !== undefined ? { tags: sourceFilter(source, []).tags } : {}),
          ...(flags.host !== undefined ? { hosts: [flags.host] } : {}),
        });
        // restic's filter is the tags only (its host and paths would apply to holdfast's too): the
        // adopted ones are then told apart by the same rule as retention's.
        if (source !== undefined)
          r.snapshots = r.snapshots.filter((s) => snapshotSource(s, config.sources)?.source === source.name);
        // holdfast's recovery snapshots are not the user's: listed only when asked (--meta).
        else if (!flags.meta) r.snapshots = r.snapshots.filter((s) => !isMetaSnapshot(s));
        return { repo, ...r };
      }),
    );
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    const failedAny = results.some((r) => !r.outcome.ok);
    if (flags.json) {
      printJson({
        repositories: results.map((r) => ({
          name: r.repo.name,
          snapshots: r.snapshots.map((s) => snapshotJson(s, config.sources)),
          error: r.outcome.ok ? null : jsonError(r.outcome.error, cli.redactor),
        })),
      });
      return failedAny ? 1 : 0;
    }
    for (const r of results) {
      process.stdout.write(
        `${color.bold(r.repo.name)}${r.outcome.ok ? ` — ${r.snapshots.length} snapshot${r.snapshots.length === 1 ? "" : "s"}` : ""}\n`,
      );
      if (!r.outcome.ok) {
        process.stdout.write(
          `  ${color.red("error")}: ${r.outcome.error ? describeError(r.outcome.error, cli.redactor) : "restic failed"}\n\n`,
        );
        continue;
      }
      if (r.snapshots.length === 0) {
        process.stdout.write("  (none)\n\n");
        continue;
      }
      const rows = [["ID", "TIME", "HOST", "SOURCE", "JOB", "PATHS"]];
      for (const s of r.snapshots) {
        const j = snapshotJson(s, config.sources);
        rows.push([
          s.shortId,
          s.time.replace("T", " ").slice(0, 19),
          s.hostname,
          j.source === null ? "-" : j.adopted ? `${j.source} (adopted)` : j.source,
          j.job ?? "-",
          s.paths.join(" "),
        ]);
      }
      process.stdout.write(`${formatTable(rows).replace(/^/gm, "  ")}\n\n`);
    }
    return failedAny ? 1 : 0;
  } finally {
    cli.dispose();
  }
}
