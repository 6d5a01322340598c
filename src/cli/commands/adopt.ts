// holdfast adopt [SOURCE] [--repo NAME] [--json]: what each source's `adopt:` takes in, before the
// next forget thins it — per repository, the snapshots another tool made that a source adopts, and
// the ones that no source adopts (made by another tool, never touched by holdfast). Read-only: it
// lists snapshots and changes nothing (adoption is the config, not a rewrite of the snapshots).
import { unknownNameError } from "../unknown-name.js";
import { UsageError } from "../../errors.js";
import { dataFlowOf } from "../../registry.js";
import { snapshots } from "../../restic/commands.js";
import type { Snapshot } from "../../restic/outputs.js";
import { describeAdopt, isAdoptedBy, isMetaSnapshot } from "../../sources/adopt.js";
import type { Config } from "../../config/types.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { color, formatTable, printJson } from "../output.js";
import {
  createCliRestic,
  describeError,
  jsonError,
  pickRepositories,
  signalExitCode,
} from "./restic-shared.js";

interface AdoptFlags {
  repo?: string;
  json?: boolean;
}

/** The hosts holdfast backs a source up under (its backup and dump steps'), else the config's host. */
export function sourceHosts(config: Config, source: string): string[] {
  const hosts = new Set<string>();
  for (const job of Object.values(config.jobs))
    for (const step of job.steps) {
      const flow = dataFlowOf(step);
      if ((flow?.how === "backup" || flow?.how === "dump") && flow.source === source)
        hosts.add(flow.host ?? config.host);
    }
  return hosts.size > 0 ? [...hosts] : [config.host];
}

const row = (s: Snapshot) => [
  s.shortId,
  s.time.replace("T", " ").slice(0, 19),
  s.hostname,
  s.tags.join(",") || "-",
  s.paths.join(" "),
];
const HEADER = ["ID", "TIME", "HOST", "TAGS", "PATHS"];

export default async function adoptCommand(
  global: GlobalOptions,
  sourceName: string | undefined,
  flags: AdoptFlags,
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: false });
  const adopting = Object.values(config.sources).filter((s) => s.adopt !== undefined);
  if (sourceName !== undefined) {
    const source = config.sources[sourceName];
    if (!source)
      throw unknownNameError("source", sourceName, Object.keys(config.sources), {
        listed: "sources in the config",
        none: "the config has no sources",
      });
    if (!source.adopt)
      throw new UsageError(
        `source "${sourceName}" adopts nothing`,
        `give it adopt: { tags: [...] } naming the old tool's snapshots (docs/config.md#sources-adopt); \`holdfast import\` fills it in`,
      );
  }
  const selected = sourceName !== undefined ? adopting.filter((s) => s.name === sourceName) : adopting;
  const repos = pickRepositories(config, flags.repo);
  const cli = createCliRestic(config);
  try {
    const results = await Promise.all(
      repos.map(async (repo) => {
        const listed = await snapshots(cli.host, repo, {});
        // holdfast's recovery snapshots (holdfast-meta) are neither another tool's nor a source's.
        return { repo, ...listed, snapshots: listed.snapshots.filter((s) => !isMetaSnapshot(s)) };
      }),
    );
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    const report = results.map((r) => {
      const others = r.snapshots.filter((s) => !s.tags.includes("holdfast"));
      const bySource = selected.map((source) => {
        const hosts = sourceHosts(config, source.name);
        return {
          source,
          hosts: source.adopt?.host !== undefined ? [source.adopt.host] : hosts,
          snapshots: others.filter((s) => isAdoptedBy(s, source, hosts)),
        };
      });
      const claimed = new Set(
        adopting.flatMap((source) =>
          others.filter((s) => isAdoptedBy(s, source, sourceHosts(config, source.name))).map((s) => s.id),
        ),
      );
      return { ...r, others, bySource, unclaimed: others.filter((s) => !claimed.has(s.id)) };
    });
    const failedAny = results.some((r) => !r.outcome.ok);
    if (flags.json) {
      printJson({
        repositories: report.map((r) => ({
          name: r.repo.name,
          error: r.outcome.ok ? null : jsonError(r.outcome.error, cli.redactor),
          holdfast: r.snapshots.length - r.others.length,
          sources: r.bySource.map((b) => ({
            source: b.source.name,
            adopt: b.source.adopt,
            hosts: b.hosts,
            snapshots: b.snapshots.map((s) => ({
              id: s.id,
              time: s.time,
              hostname: s.hostname,
              tags: s.tags,
              paths: s.paths,
            })),
          })),
          not_adopted: r.unclaimed.map((s) => ({
            id: s.id,
            time: s.time,
            hostname: s.hostname,
            tags: s.tags,
            paths: s.paths,
          })),
        })),
      });
      return failedAny ? 1 : 0;
    }
    if (selected.length === 0)
      process.stdout.write(
        "no source has adopt: — snapshots made by other tools stay out of holdfast's retention (docs/config.md#sources-adopt)\n\n",
      );
    for (const r of report) {
      if (!r.outcome.ok) {
        process.stdout.write(
          `${color.bold(r.repo.name)}\n  ${color.red("error")}: ${r.outcome.error ? describeError(r.outcome.error, cli.redactor) : "restic failed"}\n\n`,
        );
        continue;
      }
      const adoptedCount = new Set(r.bySource.flatMap((b) => b.snapshots.map((s) => s.id))).size;
      process.stdout.write(
        `${color.bold(r.repo.name)} — ${r.snapshots.length} snapshots: ${r.snapshots.length - r.others.length} made by holdfast, ${adoptedCount} adopted, ${r.unclaimed.length} that no source adopts\n`,
      );
      for (const b of r.bySource) {
        process.stdout.write(
          `  source ${b.source.name} adopts ${b.snapshots.length} (${describeAdopt(b.source)}; host ${b.hosts.join(" or ")}): its next forget thins them with holdfast's, per host\n`,
        );
        if (b.snapshots.length > 0)
          process.stdout.write(`${formatTable([HEADER, ...b.snapshots.map(row)]).replace(/^/gm, "    ")}\n`);
      }
      if (r.unclaimed.length > 0) {
        process.stdout.write(`  not adopted by any source (holdfast never touches these):\n`);
        process.stdout.write(`${formatTable([HEADER, ...r.unclaimed.map(row)]).replace(/^/gm, "    ")}\n`);
      }
      process.stdout.write("\n");
    }
    return failedAny ? 1 : 0;
  } finally {
    cli.dispose();
  }
}
