// Snapshots and their trees for the dashboard. A repository's listing (`restic snapshots --json`)
// is kept for a short while (new snapshots appear as backups run); a directory of a snapshot
// (`restic ls --json SNAP DIR`, one directory, not recursive) is kept by the snapshot's FULL id —
// a snapshot never changes — in a cache bounded by entries and directories, as the JSON text it is
// sent as, so opening a cached 10k-entry directory costs a string copy, not restic or a redaction.
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { ResticOutcome } from "../restic/exec.js";
import { ls, snapshots as listSnapshots } from "../restic/commands.js";
import { isMetaSnapshot } from "../sources/adopt.js";
import type { LsNode, Snapshot } from "../restic/outputs.js";
import type { RunStore } from "../store/types.js";
import type { Redactor } from "../util/redact.js";
import type { ApiNode, ApiSnapshot } from "./api-types.js";
import { ApiError, redactedJson } from "./http.js";
import type { ServerResticHost } from "./restic-host.js";
import { own } from "../util/own.js";

/** How long a repository's snapshot listing is reused. */
export const LISTING_TTL_MS = 20_000;
/** A listing or a directory that takes longer (a backend that stopped answering) is given up. */
const RESTIC_TIMEOUT_MS = 120_000;
/** Bounds of the directory cache: entries over all directories, and directories. */
export const LS_CACHE_MAX_ENTRIES = 400_000;
export const LS_CACHE_MAX_DIRS = 5_000;
/** How many recent runs are read for sizes of snapshots whose restic (< 0.17) records none. */
const SIZE_HISTORY_RUNS = 2_000;

const FULL_ID = /^[0-9a-f]{64}$/;
const ID_PREFIX = /^[0-9a-f]{4,64}$/;

type Figures = { bytes: number | null; files: number | null };

interface Listing {
  at: number;
  snapshots: ApiSnapshot[];
}

interface CachedDir {
  /** The JSON text of the entries array (redacted). */
  json: string;
  count: number;
}

export interface SnapshotServiceOptions {
  config: Config;
  store: RunStore;
  redactor: Redactor;
  resticHost: ServerResticHost;
  now?: () => number;
}

/** A restic failure as the API's error: 404 for what is not there, 503 for a backend, 502 else. */
export function resticApiError(outcome: ResticOutcome, redactor: Redactor, what: string): ApiError {
  const error = outcome.error;
  const message = redactor.redact(error?.message ?? `restic failed (${what})`);
  const hint = error?.hint ? redactor.redact(error.hint) : null;
  const kind = error?.kind ?? "internal";
  if (kind === "not_found" || kind === "repo_not_found") return new ApiError(404, "not_found", message, hint);
  if (kind === "network" || kind === "timeout" || kind === "repo_locked") {
    return new ApiError(503, "unavailable", message, hint, { restic_kind: kind });
  }
  return new ApiError(502, "unavailable", message, hint, { restic_kind: kind });
}

export function apiSnapshot(
  s: Snapshot,
  figures?: { bytes: number | null; files: number | null },
): ApiSnapshot {
  return {
    id: s.id,
    short_id: s.shortId,
    time: s.time,
    hostname: s.hostname,
    username: s.username,
    paths: s.paths,
    tags: s.tags,
    source: s.tags.find((t) => t.startsWith("source:"))?.slice(7) ?? null,
    job: s.tags.find((t) => t.startsWith("job:"))?.slice(4) ?? null,
    holdfast: s.tags.includes("holdfast"),
    program_version: s.programVersion ?? null,
    size: s.summary ? s.summary.totalBytesProcessed : (figures?.bytes ?? null),
    files: s.summary ? s.summary.totalFilesProcessed : (figures?.files ?? null),
  };
}

function apiNode(n: LsNode): ApiNode {
  return {
    name: n.name,
    type: n.type,
    path: n.path,
    size: n.size,
    mode: n.mode,
    permissions: n.permissions,
    mtime: n.mtime,
    uid: n.uid,
    gid: n.gid,
  };
}

/** A directory of a snapshot as given in ?path=: absolute, normalised, no NUL; "/" by default. */
export function snapshotPath(text: string | undefined, what = "path"): string {
  if (text === undefined || text === "") return "/";
  if (text.includes("\0") || !text.startsWith("/")) {
    throw new ApiError(
      400,
      "bad_request",
      `${what} must be an absolute path in the snapshot`,
      "e.g. path=/home/sig (the paths of GET …/ls entries)",
    );
  }
  const normal = path.posix.normalize(text);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

export class SnapshotService {
  private readonly listings = new Map<string, Listing>();
  private readonly pending = new Map<string, Promise<Listing>>();
  private readonly dirs = new Map<string, CachedDir>();
  /** Every snapshot a listing showed, by repository and full id: a snapshot never changes, so its
   * full id resolves from here without a new listing when the last one is older than the TTL. */
  private readonly known = new Map<string, ApiSnapshot>();
  private cachedEntries = 0;
  private readonly clock: () => number;

  constructor(private readonly options: SnapshotServiceOptions) {
    this.clock = options.now ?? Date.now;
  }

  private repo(name: string) {
    const repo = own(this.options.config.repositories, name);
    if (!repo) {
      throw new ApiError(
        404,
        "not_found",
        `no repository named "${name}"`,
        `repositories: ${Object.keys(this.options.config.repositories).join(", ") || "(none)"}`,
      );
    }
    return repo;
  }

  /** The repository's snapshots, newest first (cached for LISTING_TTL_MS; `refresh` reads anew). */
  async list(repoName: string, refresh = false): Promise<{ snapshots: ApiSnapshot[]; listedAt: number }> {
    const repo = this.repo(repoName);
    const cached = this.listings.get(repoName);
    if (!refresh && cached && this.clock() - cached.at < LISTING_TTL_MS) {
      return { snapshots: cached.snapshots, listedAt: cached.at };
    }
    let inFlight = this.pending.get(repoName);
    if (!inFlight) {
      inFlight = (async () => {
        const host = this.options.resticHost({ timeoutMs: RESTIC_TIMEOUT_MS });
        const result = await listSnapshots(host, repo);
        if (!result.outcome.ok) throw resticApiError(result.outcome, this.options.redactor, "snapshots");
        // holdfast's recovery snapshots (holdfast-meta) are not the user's to browse or restore here.
        result.snapshots = result.snapshots.filter((s) => !isMetaSnapshot(s));
        const needFigures = result.snapshots.some((s) => !s.summary);
        const figures = needFigures ? await this.figuresFromHistory() : new Map<string, Figures>();
        const listing: Listing = {
          at: this.clock(),
          snapshots: result.snapshots.map((s) => apiSnapshot(s, figures.get(s.id))).reverse(),
        };
        this.listings.set(repoName, listing);
        for (const snap of listing.snapshots) this.known.set(`${repoName}\u0000${snap.id}`, snap);
        return listing;
      })().finally(() => this.pending.delete(repoName));
      this.pending.set(repoName, inFlight);
    }
    const listing = await inFlight;
    return { snapshots: listing.snapshots, listedAt: listing.at };
  }

  /** Bytes and files of each snapshot a backup step recorded (restic before 0.17 keeps no summary). */
  private async figuresFromHistory(): Promise<Map<string, Figures>> {
    const out = new Map<string, Figures>();
    const runs = await this.options.store.listRuns({ limit: SIZE_HISTORY_RUNS });
    for (const run of runs) {
      for (const step of run.steps) {
        for (const t of step.targets) {
          const id = t.snapshot_id;
          if (typeof id !== "string" || out.has(id)) continue;
          const bytes = typeof t.total_bytes_processed === "number" ? t.total_bytes_processed : null;
          const files = typeof t.total_files_processed === "number" ? t.total_files_processed : null;
          if (bytes !== null || files !== null) out.set(id, { bytes, files });
        }
      }
    }
    return out;
  }

  /** A snapshot by full id, unique prefix (4+ hex digits) or `latest` (of `source`, when given). */
  /** `fresh`: list anew rather than from the cache — a restore of `latest` must not get the snapshot
   * before one made within the last LISTING_TTL_MS. */
  async resolve(
    repoName: string,
    ref: string,
    source: string | null = null,
    fresh = false,
  ): Promise<ApiSnapshot> {
    if (ref !== "latest" && !ID_PREFIX.test(ref)) {
      throw new ApiError(
        400,
        "bad_request",
        `"${ref}" is not a snapshot id`,
        "give 8 or more hex digits, or `latest`",
      );
    }
    // A full id listed before: no restic. (One forgotten since is found out by what is done with it —
    // ls, restore and dump fail saying it is not there — and a cached directory of it stays what it was.)
    if (!fresh && FULL_ID.test(ref)) {
      this.repo(repoName);
      const known = this.known.get(`${repoName}\u0000${ref}`);
      if (known) return known;
    }
    const find = (list: ApiSnapshot[]): ApiSnapshot[] =>
      ref === "latest"
        ? list.filter((s) => source === null || s.source === source).slice(0, 1)
        : list.filter((s) => s.id.startsWith(ref));
    let found = find((await this.list(repoName, fresh)).snapshots);
    // A snapshot made since the listing was cached.
    if (found.length === 0 && !fresh) found = find((await this.list(repoName, true)).snapshots);
    if (found.length > 1) {
      throw new ApiError(
        400,
        "bad_request",
        `snapshot id prefix "${ref}" is ambiguous in ${repoName}`,
        "give more digits",
      );
    }
    const snap = found[0];
    if (!snap) {
      throw new ApiError(
        404,
        "not_found",
        ref === "latest"
          ? `${repoName} has no snapshot${source !== null ? ` of source ${source}` : ""}`
          : `no snapshot ${ref} in ${repoName}`,
        `list them with GET /api/repositories/${repoName}/snapshots`,
      );
    }
    return snap;
  }

  /**
   * One directory of a snapshot (full id), as the JSON text of its entries: directories first, then by
   * name. From the cache when it was listed before.
   */
  async dir(
    repoName: string,
    snapshotId: string,
    dir: string,
  ): Promise<{ json: string; count: number; cached: boolean }> {
    if (!FULL_ID.test(snapshotId)) throw new Error(`dir() needs a full snapshot id, not ${snapshotId}`);
    const repo = this.repo(repoName);
    const key = `${repoName}\u0000${snapshotId}\u0000${dir}`;
    const hit = this.dirs.get(key);
    if (hit) {
      // Most recently used last: the oldest are evicted first.
      this.dirs.delete(key);
      this.dirs.set(key, hit);
      return { ...hit, cached: true };
    }
    const entries: ApiNode[] = [];
    let self: LsNode | null = null;
    const host = this.options.resticHost({ timeoutMs: RESTIC_TIMEOUT_MS });
    const result = await ls(
      host,
      repo,
      snapshotId,
      (node) => {
        if (node.path === dir) self = node;
        else if (path.posix.dirname(node.path) === dir) entries.push(apiNode(node));
      },
      { paths: [dir] },
    );
    if (!result.outcome.ok) throw resticApiError(result.outcome, this.options.redactor, "ls");
    const found = self as LsNode | null;
    if (dir !== "/" && found === null && entries.length === 0) {
      throw new ApiError(
        404,
        "not_found",
        `${dir} is not in snapshot ${snapshotId.slice(0, 8)}`,
        "open its parent directory to see what is there",
      );
    }
    if (found !== null && found.type !== "dir") {
      throw new ApiError(
        400,
        "bad_request",
        `${dir} is a ${found.type}, not a directory`,
        "download it instead",
      );
    }
    entries.sort((a, b) => {
      const da = a.type === "dir" ? 0 : 1;
      const db = b.type === "dir" ? 0 : 1;
      return da - db || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    const value: CachedDir = { json: redactedJson(entries, this.options.redactor), count: entries.length };
    this.remember(key, value);
    return { ...value, cached: false };
  }

  private remember(key: string, value: CachedDir): void {
    if (value.count > LS_CACHE_MAX_ENTRIES) return;
    this.dirs.set(key, value);
    this.cachedEntries += value.count;
    for (const [oldKey, old] of this.dirs) {
      if (this.cachedEntries <= LS_CACHE_MAX_ENTRIES && this.dirs.size <= LS_CACHE_MAX_DIRS) break;
      this.dirs.delete(oldKey);
      this.cachedEntries -= old.count;
    }
  }

  /** For tests and /api/info: what the directory cache holds. */
  cacheSize(): { dirs: number; entries: number } {
    return { dirs: this.dirs.size, entries: this.cachedEntries };
  }
}
