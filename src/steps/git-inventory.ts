// What the `git` step reads out of git, and the files it writes: parsers for the few git commands it
// runs per repository (status --porcelain=v2, for-each-ref, config, rev-list --parents), the unpushed
// commit counts, bundle names and headers, and the human-readable inventory. Pure functions.
import { createHash } from "node:crypto";

export interface StatusInfo {
  /** HEAD's commit; null in a repository without commits. */
  oid: string | null;
  /** The checked-out branch; null when HEAD is detached. */
  branch: string | null;
  upstream: string | null;
  ahead: number | null;
  behind: number | null;
  stashes: number;
  /** Tracked files with changes (staged, unstaged, renamed or unmerged). */
  dirty: number;
  untracked: number;
}

/** Parses `git status --porcelain=v2 --branch --show-stash -z`. */
export function parseStatusV2(output: string): StatusInfo {
  const info: StatusInfo = {
    oid: null,
    branch: null,
    upstream: null,
    ahead: null,
    behind: null,
    stashes: 0,
    dirty: 0,
    untracked: 0,
  };
  const records = output.split("\0");
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as string;
    if (r.startsWith("# ")) {
      const [key, ...rest] = r.slice(2).split(" ");
      const value = rest.join(" ");
      if (key === "branch.oid") info.oid = value === "(initial)" ? null : value;
      else if (key === "branch.head") info.branch = value === "(detached)" ? null : value;
      else if (key === "branch.upstream") info.upstream = value;
      else if (key === "branch.ab") {
        const m = /^\+(\d+) -(\d+)$/.exec(value);
        if (m) [info.ahead, info.behind] = [Number(m[1]), Number(m[2])];
      } else if (key === "stash") info.stashes = Number(value) || 0;
    } else if (r.startsWith("1 ") || r.startsWith("u ")) info.dirty++;
    else if (r.startsWith("2 ")) {
      info.dirty++;
      // A rename or copy carries its original path as the next NUL-separated field.
      i++;
    } else if (r.startsWith("? ")) info.untracked++;
  }
  return info;
}

export interface RefInfo {
  ref: string;
  oid: string;
  /** HEAD points at this ref (`%(HEAD)` is "*"). */
  head: boolean;
}

export const FOR_EACH_REF_FORMAT = "%(HEAD)%09%(objectname)%09%(refname)";

/** Parses `git for-each-ref --format=FOR_EACH_REF_FORMAT` (ref names cannot contain a TAB). */
export function parseRefs(output: string): RefInfo[] {
  const refs: RefInfo[] = [];
  for (const line of output.split("\n")) {
    const [mark, oid, ref] = line.split("\t");
    if (!oid || !ref) continue;
    refs.push({ ref, oid, head: mark === "*" });
  }
  return refs;
}

export interface RemoteInfo {
  name: string;
  url: string;
}

/** Parses `git config -z --get-regexp '^remote\..*\.url$'`: "key\nvalue\0" records. */
export function parseRemoteUrls(output: string): RemoteInfo[] {
  const remotes: RemoteInfo[] = [];
  for (const record of output.split("\0")) {
    const nl = record.indexOf("\n");
    if (nl === -1) continue;
    const key = record.slice(0, nl);
    const m = /^remote\.(.+)\.url$/s.exec(key);
    if (m) remotes.push({ name: m[1] as string, url: maskRemoteUrl(record.slice(nl + 1)) });
  }
  return remotes;
}

/**
 * Hides credentials in a remote URL: "https://user:token@host" → "https://user:***@host", and a
 * lone user part of an http(s) URL (where tokens usually go: https://ghp_…@github.com) → "***".
 * ssh users (git@host:x, ssh://git@host/x) are not secrets and stay.
 */
export function maskRemoteUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)@(.*)$/i.exec(url);
  if (!m) return url;
  const [, scheme, userinfo, rest] = m as unknown as [string, string, string, string];
  const colon = userinfo.indexOf(":");
  if (colon !== -1) return `${scheme}${userinfo.slice(0, colon)}:***@${rest}`;
  return /^https?:\/\//i.test(scheme) ? `${scheme}***@${rest}` : url;
}

export interface UnpushedCounts {
  /** Commits reachable from a local branch (or a detached HEAD) and from no remote-tracking ref. */
  total: number;
  /** Per given tip (ref name → commits of `total` it reaches); only tips with at least one. */
  perTip: Map<string, number>;
  /** The commit graph was too large to count per tip here; count those with rev-list --count. */
  overflow: boolean;
}

/** Above this many unpushed commits the per-branch counts come from git (one call per branch). */
export const MAX_GRAPH_COMMITS = 200_000;

/**
 * Counts from the output of `git rev-list --parents <tips> --not --remotes`: one line per unpushed
 * commit, "commit parent…". The per-tip counts walk that small graph in memory, so one git call
 * answers for every branch.
 */
export function countUnpushed(revListOutput: string, tips: ReadonlyMap<string, string>): UnpushedCounts {
  const index = new Map<string, number>();
  const parentLists: string[][] = [];
  let total = 0;
  let start = 0;
  let overflow = false;
  while (start < revListOutput.length) {
    let nl = revListOutput.indexOf("\n", start);
    if (nl === -1) nl = revListOutput.length;
    const line = revListOutput.slice(start, nl);
    start = nl + 1;
    if (line.length < 40) continue;
    total++;
    if (overflow) continue;
    if (total > MAX_GRAPH_COMMITS) {
      overflow = true;
      index.clear();
      parentLists.length = 0;
      continue;
    }
    const [commit, ...parents] = line.split(" ");
    index.set(commit as string, parentLists.length);
    parentLists.push(parents);
  }
  const perTip = new Map<string, number>();
  if (overflow) return { total, perTip, overflow };
  const parentIndexes = parentLists.map((ps) =>
    ps.map((p) => index.get(p)).filter((i): i is number => i !== undefined),
  );
  const seen = new Uint32Array(parentIndexes.length);
  let stamp = 0;
  for (const [ref, oid] of tips) {
    const tip = index.get(oid);
    if (tip === undefined) continue;
    stamp++;
    let count = 0;
    const stack = [tip];
    seen[tip] = stamp;
    while (stack.length > 0) {
      const at = stack.pop() as number;
      count++;
      for (const p of parentIndexes[at] as number[]) {
        if (seen[p] !== stamp) {
          seen[p] = stamp;
          stack.push(p);
        }
      }
    }
    perTip.set(ref, count);
  }
  return { total, perTip, overflow };
}

/** A file name for a repository's bundle: readable, and unique by a hash of the full path. */
export function bundleFileName(repoPath: string): string {
  const slug =
    repoPath
      .replace(/^\/+/, "")
      .replace(/[^A-Za-z0-9._-]+/g, "_")
      .replace(/^[.]+/, "")
      .slice(-80) || "root";
  const hash = createHash("sha256").update(repoPath).digest("hex").slice(0, 8);
  return `${slug}-${hash}.bundle`;
}

export interface BundleHeader {
  version: number;
  /** From a v3 bundle's `@object-format=` capability; v2 bundles are sha1. */
  objectFormat: string;
  prerequisites: string[];
  refs: Array<{ oid: string; ref: string }>;
}

/** Parses the text header of a git bundle (v2/v3: up to the first empty line); null if not a bundle. */
export function parseBundleHeader(head: Buffer): BundleHeader | null {
  const end = head.indexOf("\n\n");
  if (end === -1) return null;
  const lines = head.subarray(0, end).toString("utf8").split("\n");
  const m = /^# v(\d) git bundle$/.exec(lines[0] ?? "");
  if (!m) return null;
  const header: BundleHeader = { version: Number(m[1]), objectFormat: "sha1", prerequisites: [], refs: [] };
  for (const line of lines.slice(1)) {
    if (line.startsWith("@object-format=")) header.objectFormat = line.slice("@object-format=".length);
    if (line.startsWith("@")) continue;
    if (line.startsWith("-")) header.prerequisites.push(line.slice(1).split(" ")[0] as string);
    else {
      const space = line.indexOf(" ");
      if (space > 0) header.refs.push({ oid: line.slice(0, space), ref: line.slice(space + 1) });
    }
  }
  return header;
}

/** True when a bundle already holds exactly these refs at these commits, with no prerequisites. */
export function bundleMatches(
  header: BundleHeader | null,
  refs: ReadonlyArray<{ oid: string; ref: string }>,
): boolean {
  if (!header || header.prerequisites.length > 0) return false;
  const key = (r: { oid: string; ref: string }) => `${r.oid} ${r.ref}`;
  const have = new Set(header.refs.map(key));
  const want = new Set(refs.map(key));
  return have.size === want.size && [...want].every((k) => have.has(k));
}

export interface RepositoryRecord {
  path: string;
  bare: boolean;
  branch: string | null;
  head: string | null;
  detached: boolean;
  upstream: string | null;
  ahead: number | null;
  behind: number | null;
  remotes: RemoteInfo[];
  /** Modified tracked files; null for a bare repository. */
  dirty: number | null;
  untracked: number | null;
  stashes: number;
  /** Commits on no remote-tracking ref (all commits when there is no remote). */
  unpushed_commits: number;
  unpushed_branches: Array<{ branch: string; commits: number }>;
  /** The bundle file (relative to the output directory), when one holds this repository's work. */
  bundle: string | null;
  error: string | null;
}

export interface Inventory {
  version: 1;
  generated_at: string;
  host: string;
  roots: string[];
  repositories: RepositoryRecord[];
}

/** A short human-readable inventory: one line per repository, the ones at risk marked. */
export function renderInventoryText(inventory: Inventory): string {
  const repos = inventory.repositories;
  const atRisk = repos.filter((r) => r.unpushed_commits > 0 || (r.dirty ?? 0) > 0 || r.stashes > 0).length;
  const lines = [
    `git inventory of ${inventory.host} at ${inventory.generated_at}`,
    `roots: ${inventory.roots.join(", ")}`,
    `${repos.length} repositories, ${atRisk} with work that exists only here`,
    "",
  ];
  for (const r of repos) {
    const notes: string[] = [];
    if (r.error) notes.push(`ERROR ${r.error}`);
    if (r.bare) notes.push("bare");
    if (r.unpushed_commits > 0) {
      const where =
        r.remotes.length === 0
          ? "no remote"
          : r.unpushed_branches.map((b) => `${b.branch} ${b.commits}`).join(", ");
      notes.push(`${r.unpushed_commits} unpushed (${where})`);
    }
    if ((r.dirty ?? 0) > 0) notes.push(`${r.dirty} modified`);
    if ((r.untracked ?? 0) > 0) notes.push(`${r.untracked} untracked`);
    if (r.stashes > 0) notes.push(`${r.stashes} stashed`);
    if (r.bundle) notes.push(`bundle ${r.bundle}`);
    const at = r.detached
      ? `detached ${r.head?.slice(0, 12) ?? "?"}`
      : `${r.branch ?? "?"} ${r.head?.slice(0, 12) ?? "(no commits)"}`;
    lines.push(
      `${notes.length ? "!" : " "} ${r.path}  [${at}]${notes.length ? `  ${notes.join("; ")}` : "  clean"}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
