// Which storage medium a repository or a source lives on, for the 3-2-1 count of the redundancy
// matrix: two repositories on one disk, or a repository on the disk of the source it backs up, are
// one medium, not two. A local path is known by its filesystem (st_dev of the nearest existing
// ancestor, so a repository not made yet still counts where it will be); a remote backend by its
// host or bucket. Nothing is contacted and no secret is read: a repository whose URL is in a file
// (url_file, which may hold credentials) counts as a medium of its own, as before.
import fs from "node:fs";
import path from "node:path";

/** A stable name for a medium; equal names are the same medium. */
export type MediumId = string;

/** The filesystem a path is on (`dev:N`), or null when nothing along it can be read. */
export function filesystemOf(p: string): MediumId | null {
  let at = path.resolve(p);
  for (;;) {
    try {
      return `dev:${fs.statSync(at).dev}`;
    } catch {
      const up = path.dirname(at);
      if (up === at) return null;
      at = up;
    }
  }
}

/** The host of a URL-like string (`http://user:pw@host:8000/x` → `host`), lower-cased. */
function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname.toLowerCase() || null;
  } catch {
    return null;
  }
}

/**
 * The medium of a repository from its URL (restic's backend syntax); `repo:NAME` when the URL is not
 * in the config (url_file) or its backend is not one this knows.
 */
export function mediumOfRepository(repo: { name: string; url?: string | undefined }): MediumId {
  const own = `repo:${repo.name}`;
  const url = repo.url;
  if (!url) return own;
  const scheme = /^([a-z0-9]+):(.*)$/s.exec(url);
  if (!scheme || scheme[1] === "local" || url.startsWith("/")) {
    const fsId = filesystemOf(scheme?.[1] === "local" ? (scheme[2] ?? url) : url);
    return fsId ?? own;
  }
  const [, backend, rest = ""] = scheme;
  switch (backend) {
    case "rest":
    case "s3": {
      // rest:http://host:8000/repo, s3:https://endpoint/bucket/path, s3:s3.amazonaws.com/bucket
      const withScheme = /^https?:\/\//.test(rest) ? rest : `https://${rest}`;
      const host = hostOf(withScheme);
      if (!host) return own;
      if (backend === "rest") return `host:${host}`;
      const bucket = new URL(withScheme).pathname.split("/").filter(Boolean)[0] ?? "";
      return `s3:${host}/${bucket}`;
    }
    case "sftp": {
      // sftp:user@host:/path or sftp://user@host:port//path
      if (rest.startsWith("//")) return hostOf(`sftp:${rest}`) ? `host:${hostOf(`sftp:${rest}`)}` : own;
      const host = /^(?:[^@/]*@)?([^:/]+):/.exec(rest)?.[1];
      return host ? `host:${host.toLowerCase()}` : own;
    }
    case "b2":
    case "azure":
    case "gs":
    case "swift":
    case "rclone": {
      // b2:bucket:path, azure:container:/path, gs:bucket:/path, swift:container:/path, rclone:remote:path
      const first = rest.split(":")[0];
      return first ? `${backend}:${first}` : own;
    }
    default:
      return own;
  }
}

/**
 * The filesystems a source's paths are on (a source may span several). Only absolute paths: a
 * database source's paths are names (`postgresql:shop`), not files here.
 */
export function mediaOfPaths(paths: readonly string[]): Set<MediumId> {
  const media = new Set<MediumId>();
  for (const p of paths) {
    if (!path.isAbsolute(p)) continue;
    const id = filesystemOf(p);
    if (id !== null) media.add(id);
  }
  return media;
}
