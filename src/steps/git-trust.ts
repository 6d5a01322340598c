// Whose repository is it, and what may git do in it (targets.md S6). holdfast often runs as root over
// other users' trees; a repository's config can name programs git runs (filters, fsmonitor, hooks,
// pagers, credential helpers, …) and files git reads (includes, a relocated work tree). Root running
// git in a user's repository would run that user's programs as root.
//
// The model, per repository:
//   - "self": the repository (its work tree, git dir and config) belongs to the effective user — git
//     runs as that user, as it would from a shell.
//   - "owner": holdfast is root and the repository has one other owner with a passwd entry — git runs
//     as that owner (uid, gid, no supplementary groups, the owner's HOME) with an environment that
//     holds no job secrets. The owner's own programs may run, as the owner, like any git call of theirs.
//   - "guarded": git cannot run as the owner (holdfast is not root, the owner has no passwd entry, or
//     several users own parts of the repository) — git runs as holdfast's user and every program or
//     file the repository's own config names is switched off through protected command-line config,
//     with a step warning naming the repository and the keys. Keys that cannot be switched off that
//     way (includes, a relocated work tree) keep git out of the repository entirely.
import fs from "node:fs";
import path from "node:path";
import type { ProcessResult } from "../util/process.js";
import type { FoundRepository } from "./repo-finder.js";

export interface UserEntry {
  uid: number;
  gid: number;
  name: string;
  home: string;
}

export type GitIdentity =
  | { mode: "self" }
  | { mode: "owner"; user: UserEntry }
  | { mode: "guarded"; owners: number[]; reason: string };

/** How a key of a repository's config is made harmless in the guarded mode. */
interface ProgramKey {
  pattern: RegExp;
  /** The protected value that replaces it; null: git cannot be kept from acting on it (skip the repository). */
  neutral: string | null;
}

// Every key (lowercased section and name, as `git config --list` prints them) that makes git run a
// program or read a file the repository's config chooses. git-config(1), gitattributes(5), githooks(5).
export const PROGRAM_KEYS: readonly ProgramKey[] = [
  { pattern: /^filter\..+\.(clean|smudge|process)$/s, neutral: "" },
  { pattern: /^core\.fsmonitor$/, neutral: "false" },
  { pattern: /^core\.hookspath$/, neutral: "/dev/null" },
  { pattern: /^core\.(sshcommand|gitproxy|askpass|editor|pager|alternaterefscommand)$/, neutral: "" },
  { pattern: /^sequence\.editor$/, neutral: "" },
  { pattern: /^pager\..+$/s, neutral: "false" },
  { pattern: /^credential\.(.+\.)?helper$/s, neutral: "" },
  { pattern: /^diff\.external$/, neutral: "" },
  { pattern: /^diff\..+\.(textconv|command)$/s, neutral: "" },
  { pattern: /^merge\..+\.driver$/s, neutral: "" },
  { pattern: /^gpg\.(.+\.)?program$/s, neutral: "" },
  { pattern: /^gpg\.ssh\.defaultkeycommand$/, neutral: "" },
  { pattern: /^uploadpack\.packobjectshook$/, neutral: "" },
  { pattern: /^remote\..+\.(uploadpack|receivepack|vcs)$/s, neutral: "" },
  { pattern: /^trailer\..+\.(command|cmd)$/s, neutral: "" },
  { pattern: /^submodule\..+\.update$/s, neutral: "none" },
  { pattern: /^protocol\.(.+\.)?allow$/s, neutral: "never" },
  { pattern: /^core\.(excludesfile|attributesfile)$/, neutral: "/dev/null" },
  { pattern: /^(mailmap\.file|blame\.ignorerevsfile|commit\.template)$/, neutral: "/dev/null" },
  // git reads these files as whoever runs it, and a later -c cannot take an include back.
  { pattern: /^include\.path$/, neutral: null },
  { pattern: /^includeif\..+\.path$/s, neutral: null },
  // The work tree somewhere else: git would read (and filter) another directory.
  { pattern: /^core\.worktree$/, neutral: null },
];

/** Config that holdfast always passes: its own calls never start a pager, a daemon or a transport. */
export const BASE_GIT_CONFIG: ReadonlyArray<[string, string]> = [
  ["safe.directory", "*"],
  ["core.fsmonitor", "false"],
];

/**
 * The uids that own what decides how git behaves in a repository: its directory, its `.git` (a
 * directory, or a gitfile and the git dir it names, with the common dir of a linked worktree) and
 * the config files in them. Read with lstat: a symlinked config is owned by whoever made the link.
 */
export async function repositoryOwners(repo: FoundRepository): Promise<number[]> {
  const places = [repo.path];
  if (repo.bare) places.push(path.join(repo.path, "config"));
  else {
    const dotGit = path.join(repo.path, ".git");
    places.push(dotGit);
    let gitDir = dotGit;
    try {
      if ((await fs.promises.lstat(dotGit)).isFile()) {
        const m = /^gitdir: (.+)$/m.exec(await fs.promises.readFile(dotGit, "utf8"));
        if (m) gitDir = path.resolve(repo.path, (m[1] as string).trim());
        places.push(gitDir);
      }
    } catch {
      /* missing pieces are git's to report */
    }
    places.push(path.join(gitDir, "config"), path.join(gitDir, "config.worktree"));
    try {
      const common = (await fs.promises.readFile(path.join(gitDir, "commondir"), "utf8")).trim();
      const commonDir = path.resolve(gitDir, common);
      places.push(commonDir, path.join(commonDir, "config"));
    } catch {
      /* not a linked worktree */
    }
  }
  const owners = new Set<number>();
  for (const place of places) {
    try {
      owners.add((await fs.promises.lstat(place)).uid);
    } catch {
      /* absent (config.worktree, usually) */
    }
  }
  return [...owners].sort((a, b) => a - b);
}

/** Chooses how git runs in a repository owned by `owners`, for a process whose effective uid is `euid`. */
export async function chooseGitIdentity(
  owners: readonly number[],
  euid: number,
  lookup: (uid: number) => Promise<UserEntry | null>,
  canReach: (user: UserEntry) => Promise<boolean>,
): Promise<GitIdentity> {
  // Root's own pieces (a root-owned config in a user's .git, say) do not stop the owner from running git.
  const foreign = owners.filter((uid) => uid !== euid);
  if (foreign.length === 0) return { mode: "self" };
  if (euid !== 0)
    return {
      mode: "guarded",
      owners: foreign,
      reason: "holdfast is not root, so it cannot run git as its owner",
    };
  if (foreign.length > 1)
    return {
      mode: "guarded",
      owners: foreign,
      reason: `it belongs to several users (uids ${foreign.join(", ")})`,
    };
  const user = await lookup(foreign[0] as number);
  if (!user)
    return { mode: "guarded", owners: foreign, reason: `its owner (uid ${foreign[0]}) has no passwd entry` };
  if (!(await canReach(user)))
    return {
      mode: "guarded",
      owners: foreign,
      reason: `its owner ${user.name} cannot reach it (a directory above it is closed to them)`,
    };
  return { mode: "owner", user };
}

export interface ForeignKey {
  key: string;
  value: string;
  neutral: string | null;
}

/**
 * The program- and file-naming keys among the repository's own config (`git config --list -z
 * --show-scope --no-includes`: "scope\0key\nvalue\0" records). holdfast's own config (system,
 * global, command line) is trusted and not listed.
 */
export function foreignProgramKeys(listing: string): ForeignKey[] {
  const found: ForeignKey[] = [];
  const fields = listing.split("\0");
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const scope = fields[i] as string;
    const record = fields[i + 1] as string;
    if (scope !== "local" && scope !== "worktree") continue;
    const nl = record.indexOf("\n");
    const key = nl === -1 ? record : record.slice(0, nl);
    const value = nl === -1 ? "" : record.slice(nl + 1);
    const rule = PROGRAM_KEYS.find((k) => k.pattern.test(key));
    if (rule) found.push({ key, value, neutral: rule.neutral });
  }
  return found;
}

/**
 * GIT_CONFIG_COUNT/KEY/VALUE entries (protected, command-line scope: they win over the repository's
 * config, and take key and value apart, so no subsection can smuggle an `=`) that switch the found
 * keys off. A switched-off filter must not be required either, or git would fail on it.
 */
export function neutralisingEnv(keys: readonly ForeignKey[]): Record<string, string> {
  const pairs = new Map<string, string>();
  for (const k of keys) {
    if (k.neutral === null) continue;
    pairs.set(k.key, k.neutral);
    const filter = /^filter\.(.+)\.(clean|smudge|process)$/s.exec(k.key);
    if (filter) pairs.set(`filter.${filter[1]}.required`, "false");
  }
  const env: Record<string, string> = {};
  const all = [...pairs];
  all.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(all.length);
  // No transport at all: holdfast's git calls are local, and `ext::` URLs run commands.
  env.GIT_ALLOW_PROTOCOL = "";
  return env;
}

/**
 * Whether `user`, with only its primary group (git runs with the supplementary groups dropped), may
 * enter every directory from / down to `dir`. Mode bits only: an ACL that denies more makes git fail
 * in that repository and say so; one that allows more costs only the owner model for it.
 */
export async function userCanReach(dir: string, user: UserEntry): Promise<boolean> {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const at = path.sep + parts.slice(0, i).join(path.sep);
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(at);
    } catch {
      return false;
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return false;
  }
  return true;
}

/** Parses one line of `getent passwd`. */
export function parsePasswdLine(line: string): UserEntry | null {
  const f = line.trim().split(":");
  if (f.length < 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return null;
  return { name: f[0] as string, uid, gid, home: f[5] || "/" };
}

/** Looks uids up through NSS (`getent passwd`), once each. */
export function createUserLookup(run: (args: string[]) => Promise<ProcessResult>) {
  const cache = new Map<number, Promise<UserEntry | null>>();
  return (uid: number): Promise<UserEntry | null> => {
    let entry = cache.get(uid);
    if (!entry) {
      entry = run(["passwd", String(uid)]).then((r) =>
        r.exitCode === 0 ? parsePasswdLine((r.stdout ?? "").split("\n")[0] ?? "") : null,
      );
      cache.set(uid, entry);
    }
    return entry;
  };
}
