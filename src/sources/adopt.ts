// Which snapshots belong to a source (issue 17): the ones holdfast made of it (tags `holdfast`,
// `source:NAME`) and the ones another tool made that its `adopt:` names (autorestic's
// `ar:location:NAME`, resticprofile's backup tags, or untagged snapshots of its paths). One rule, as
// a restic filter for the commands that take one (forget, stats for the guard, restore latest) and as
// a predicate for listings (snapshots, adopt) — the two say the same thing: restic's --tag lists are
// OR-ed and AND-ed within ("" matches snapshots without tags), --host is any of, --path all of.
import type { SourceConfig } from "../config/types.js";

const HOLDFAST = "holdfast";
const SOURCE_PREFIX = "source:";

/**
 * The tag of holdfast's own recovery snapshots (the config and history, src/meta/): never a source's,
 * never counted with the user's snapshots (retention, the guard, listings, adopt, doctor).
 */
export const META_TAG = "holdfast-meta";

/** A holdfast-meta snapshot (`holdfast bootstrap` reads it; everything else leaves it out). */
export function isMetaSnapshot(snapshot: { tags: readonly string[] }): boolean {
  return snapshot.tags.includes(META_TAG);
}

export interface SourceFilter {
  tags: string[][];
  hosts: string[];
  paths: string[];
}

/**
 * restic filter args for a source's snapshots on these hosts ([] = any host): holdfast's own plus the
 * adopted ones. The adopted ones' host is adopt.host when set. adopt.paths applies to the whole
 * filter, which is why the schema keeps it among the source's paths.
 */
export function sourceFilter(
  source: Pick<SourceConfig, "name" | "adopt">,
  hosts: readonly string[],
): SourceFilter {
  const tags = [[HOLDFAST, `${SOURCE_PREFIX}${source.name}`]];
  const adopt = source.adopt;
  if (!adopt) return { tags, hosts: [...hosts], paths: [] };
  // [""] is restic's `--tag ''`: snapshots that have no tags.
  tags.push(adopt.tags.length > 0 ? [...adopt.tags] : [""]);
  const withAdopted =
    hosts.length > 0 && adopt.host !== undefined ? [...new Set([...hosts, adopt.host])] : [...hosts];
  return { tags, hosts: withAdopted, paths: adopt.paths ?? [] };
}

interface SnapshotLike {
  tags: string[];
  hostname: string;
  paths: string[];
}

/** True when the snapshot is one the source adopts (another tool's, matching its adopt: block). */
export function isAdoptedBy(
  snapshot: SnapshotLike,
  source: Pick<SourceConfig, "adopt">,
  hosts: readonly string[] = [],
): boolean {
  const adopt = source.adopt;
  if (!adopt || snapshot.tags.includes(HOLDFAST) || isMetaSnapshot(snapshot)) return false;
  const tagsMatch =
    adopt.tags.length === 0 ? snapshot.tags.length === 0 : adopt.tags.every((t) => snapshot.tags.includes(t));
  if (!tagsMatch) return false;
  const wantedHosts = adopt.host !== undefined ? [adopt.host] : hosts;
  if (wantedHosts.length > 0 && !wantedHosts.includes(snapshot.hostname)) return false;
  return (adopt.paths ?? []).every((p) => snapshot.paths.includes(p));
}

/** The source a snapshot belongs to: holdfast's tag, else the first source that adopts it. */
export function snapshotSource(
  snapshot: SnapshotLike,
  sources: Record<string, Pick<SourceConfig, "adopt">>,
): { source: string; adopted: boolean } | null {
  const own = snapshot.tags.find((t) => t.startsWith(SOURCE_PREFIX));
  if (own && snapshot.tags.includes(HOLDFAST))
    return { source: own.slice(SOURCE_PREFIX.length), adopted: false };
  for (const [name, source] of Object.entries(sources))
    if (isAdoptedBy(snapshot, source)) return { source: name, adopted: true };
  return null;
}

/** How the adopt block reads, for logs and listings: "tags ar:location:home, host vm". */
export function describeAdopt(source: Pick<SourceConfig, "adopt">): string {
  const adopt = source.adopt;
  if (!adopt) return "nothing";
  const parts = [adopt.tags.length > 0 ? `tags ${adopt.tags.join(",")}` : "no tags"];
  if (adopt.host !== undefined) parts.push(`host ${adopt.host}`);
  if (adopt.paths && adopt.paths.length > 0) parts.push(`paths ${adopt.paths.join(", ")}`);
  return parts.join(", ");
}
