// Finds git repositories below roots: a directory with a `.git` (a directory, or a file as in worktrees
// and submodules) is a work tree, and the walk goes on below it for nested repositories but never into
// `.git`; a directory holding HEAD, objects/ and refs/ is a bare repository, and the walk stops there
// (that is an object store). Symlinks are never followed, so a link loop cannot trap the walk, and
// directories are read a few at a time.
import fs from "node:fs";
import path from "node:path";
import { compilePatterns } from "../sources/selection.js";

export interface FoundRepository {
  path: string;
  bare: boolean;
}

export interface FindResult {
  repositories: FoundRepository[];
  missingRoots: Array<{ path: string; message: string }>;
  /** Directories that could not be read (first 100). */
  unreadable: Array<{ path: string; message: string }>;
}

export interface FindOptions {
  exclude: readonly string[];
  /** Depth of the deepest directory looked at; a root is depth 0. */
  maxDepth: number;
  signal?: AbortSignal;
  concurrency?: number;
}

export async function findRepositories(roots: readonly string[], options: FindOptions): Promise<FindResult> {
  // The same pattern rules as a source's exclude (restic's), so one way of writing them holds everywhere.
  const excluded = compilePatterns(options.exclude);
  const result: FindResult = { repositories: [], missingRoots: [], unreadable: [] };
  const queue: Array<{ dir: string; depth: number }> = [];
  const seen = new Set<string>();
  for (const root of roots) {
    let real: string;
    try {
      // A root given as a symlink is followed (only the root).
      real = await fs.promises.realpath(root);
      if (!(await fs.promises.stat(real)).isDirectory())
        throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      result.missingRoots.push({
        path: root,
        message: e.code === "ENOENT" ? "does not exist" : (e.code ?? e.message),
      });
      continue;
    }
    if (!excluded(real)) queue.push({ dir: real, depth: 0 });
  }

  const visit = async (dir: string, depth: number) => {
    // Overlapping roots (/home and /home/sig) reach the same directories.
    if (seen.has(dir)) return;
    seen.add(dir);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== "ENOENT" && result.unreadable.length < 100)
        result.unreadable.push({ path: dir, message: e.code ?? e.message });
      return;
    }
    const names = new Map(entries.map((e) => [e.name, e]));
    const dotGit = names.get(".git");
    if (dotGit && (dotGit.isDirectory() || dotGit.isFile())) {
      result.repositories.push({ path: dir, bare: false });
    } else if (
      names.get("HEAD")?.isFile() &&
      names.get("objects")?.isDirectory() &&
      names.get("refs")?.isDirectory()
    ) {
      result.repositories.push({ path: dir, bare: true });
      return;
    }
    if (depth >= options.maxDepth) return;
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === ".git") continue;
      const child = path.join(dir, entry.name);
      if (!excluded(child)) queue.push({ dir: child, depth: depth + 1 });
    }
  };

  const concurrency = options.concurrency ?? 8;
  const running = new Set<Promise<void>>();
  while (queue.length > 0 || running.size > 0) {
    if (options.signal?.aborted) throw new Error("cancelled");
    while (queue.length > 0 && running.size < concurrency) {
      const next = queue.pop() as { dir: string; depth: number };
      const p: Promise<void> = visit(next.dir, next.depth).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) await Promise.race(running);
  }
  result.repositories.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return result;
}
