// `git`'s runner: finds the repositories, inspects each (git-trust.ts decides how git may run in it),
// writes the inventory atomically and the bundles, each verified. The definition is git.ts.
import { defineStepRunner, type StepContext, type StepOutcome } from "../engine/step-kind.js";
import fs from "node:fs";
import path from "node:path";
import { HoldfastError, stepError } from "../errors.js";
import { removeStaleTempFiles, syncDirectory, tempPathFor, writeFileAtomic } from "../util/atomic-write.js";
import { describeExit, type ProcessResult } from "../util/process.js";
import { makePrivateTempDir } from "../util/private-temp.js";
import {
  bundleFileName,
  bundleMatches,
  countUnpushed,
  FOR_EACH_REF_FORMAT,
  parseBundleHeader,
  parseRefs,
  parseRemoteUrls,
  parseStatusV2,
  renderInventoryText,
  type Inventory,
  type RefInfo,
  type RepositoryRecord,
} from "./git-inventory.js";
import { findRepositories, type FoundRepository } from "./repo-finder.js";
import {
  BASE_GIT_CONFIG,
  chooseGitIdentity,
  createUserLookup,
  foreignProgramKeys,
  neutralisingEnv,
  repositoryOwners,
  type ForeignKey,
  type GitIdentity,
  type UserEntry,
  userCanReach,
} from "./git-trust.js";
import { gitStep, type GitOptions, BUNDLE_DIR, CONCURRENCY } from "./git.js";

export const gitRunner = defineStepRunner(gitStep, (ctx) => runGit(ctx));

/** git in one repository, run the way its ownership allows (git-trust.ts). */
type Git = (args: string[], options?: { collect?: boolean; stdoutFd?: number }) => Promise<ProcessResult>;

interface PreparedRepository {
  git: Git;
  identity: GitIdentity;
  /** Keys of the repository's config that were switched off (guarded mode). */
  switchedOff: ForeignKey[];
  /** Keys that keep git out of the repository altogether (guarded mode). */
  blocking: ForeignKey[];
}

/** Never prompts, never takes optional locks, never pages, never starts fsmonitor. */
const BASE_ARGS = [...BASE_GIT_CONFIG.flatMap(([k, v]) => ["-c", `${k}=${v}`]), "--no-pager"];
const QUIET_GIT_ENV = { GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" };

function createGit(
  ctx: StepContext<GitOptions>,
  repo: string,
  env: Record<string, string>,
  user?: UserEntry,
): Git {
  return (args, options = {}) =>
    ctx.exec("git", [...BASE_ARGS, "-C", repo, ...args], {
      env,
      collectStdout: (options.collect ?? true) && options.stdoutFd === undefined,
      ...(options.stdoutFd === undefined ? {} : { stdoutFd: options.stdoutFd }),
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      onLine: (line, stream) => {
        if (stream === "stderr") ctx.log.output(`${repo}: ${line}`, "stderr");
      },
    });
}

async function prepareRepository(
  ctx: StepContext<GitOptions>,
  repo: FoundRepository,
  lookup: (uid: number) => Promise<UserEntry | null>,
): Promise<PreparedRepository> {
  const euid = process.geteuid?.() ?? -1;
  const identity = await chooseGitIdentity(await repositoryOwners(repo), euid, lookup, (user) =>
    userCanReach(repo.path, user),
  );
  if (identity.mode === "self")
    return {
      git: createGit(ctx, repo.path, { ...ctx.env, ...QUIET_GIT_ENV }),
      identity,
      switchedOff: [],
      blocking: [],
    };
  if (identity.mode === "owner") {
    const { user } = identity;
    // The owner's git sees none of the job's environment: its secrets would be readable in the
    // owner's /proc/PID/environ, and by the owner's own filters and hooks.
    const env = {
      PATH: ctx.env.PATH ?? "/usr/bin:/bin",
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      LANG: "C",
      ...QUIET_GIT_ENV,
    };
    return { git: createGit(ctx, repo.path, env, user), identity, switchedOff: [], blocking: [] };
  }
  const probe = createGit(ctx, repo.path, { ...ctx.env, ...QUIET_GIT_ENV, ...neutralisingEnv([]) });
  const listing = check(
    await probe(["config", "--list", "-z", "--show-scope", "--no-includes"]),
    "git config --list",
  );
  const keys = foreignProgramKeys(listing);
  const env = { ...ctx.env, ...QUIET_GIT_ENV, ...neutralisingEnv(keys) };
  return {
    git: createGit(ctx, repo.path, env),
    identity,
    switchedOff: keys.filter((k) => k.neutral !== null),
    blocking: keys.filter((k) => k.neutral === null),
  };
}

class GitFailure extends HoldfastError {
  constructor(message: string) {
    super(message, { kind: "exit_code" });
  }
}

function check(result: ProcessResult, what: string): string {
  if (result.exitCode === 0) return result.stdout ?? "";
  const tail = result.stderrTail.at(-1);
  throw new GitFailure(`${what}: ${describeExit(result)}${tail ? `: ${tail}` : ""}`);
}

interface Inspected {
  record: RepositoryRecord;
  refs: RefInfo[];
  /** Refs holding commits that are on no remote (and the stash), for an "unpushed" bundle. */
  atRisk: RefInfo[];
  hasRemote: boolean;
}

async function inspectRepository(git: Git, repo: FoundRepository): Promise<Inspected> {
  const record = emptyRecord(repo, null);
  const refs = parseRefs(
    check(await git(["for-each-ref", `--format=${FOR_EACH_REF_FORMAT}`]), "git for-each-ref"),
  );
  const configResult = await git(["config", "-z", "--get-regexp", "^remote\\..*\\.url$"]);
  // Exit 1: no remote configured.
  if (configResult.exitCode === 1) record.remotes = [];
  else record.remotes = parseRemoteUrls(check(configResult, "git config"));

  if (repo.bare) {
    const head = refs.find((r) => r.head);
    record.branch = head ? head.ref.replace(/^refs\/heads\//, "") : null;
    record.head = head?.oid ?? null;
  } else {
    const status = parseStatusV2(
      check(
        await git(["status", "--porcelain=v2", "--branch", "--show-stash", "-z", "--untracked-files=normal"]),
        "git status",
      ),
    );
    Object.assign(record, {
      branch: status.branch,
      head: status.oid,
      detached: status.branch === null && status.oid !== null,
      upstream: status.upstream,
      ahead: status.ahead,
      behind: status.behind,
      dirty: status.dirty,
      untracked: status.untracked,
      stashes: status.stashes,
    });
  }

  const branches = refs.filter((r) => r.ref.startsWith("refs/heads/"));
  const hasRemoteRefs = refs.some((r) => r.ref.startsWith("refs/remotes/"));
  const tips = new Map(branches.map((b) => [b.ref, b.oid]));
  if (record.detached && record.head) tips.set("HEAD", record.head);
  let atRisk: RefInfo[] = [];
  if (tips.size > 0) {
    const args = [
      "rev-list",
      "--parents",
      "--branches",
      ...(record.detached ? ["HEAD"] : []),
      "--not",
      "--remotes",
    ];
    const counts = countUnpushed(check(await git(args), "git rev-list"), tips);
    if (counts.overflow) {
      for (const [ref] of tips) {
        const n = Number(
          check(await git(["rev-list", "--count", ref, "--not", "--remotes"]), "git rev-list").trim(),
        );
        if (n > 0) counts.perTip.set(ref, n);
      }
    }
    record.unpushed_commits = counts.total;
    record.unpushed_branches = [...counts.perTip].map(([ref, commits]) => ({
      branch: ref.replace(/^refs\/heads\//, ""),
      commits,
    }));
    atRisk = refs.filter((r) => counts.perTip.has(r.ref));
    if (counts.perTip.has("HEAD") && record.head) atRisk.push({ ref: "HEAD", oid: record.head, head: true });
  }
  const stash = refs.find((r) => r.ref === "refs/stash");
  if (stash) {
    atRisk.push(stash);
    record.stashes ||= 1;
  }
  return { record, refs, atRisk, hasRemote: record.remotes.length > 0 || hasRemoteRefs };
}

type BundleResult = { file: string; state: "written" | "unchanged" } | { file: null; state: "none" };

/**
 * Writes (or keeps) the repository's bundle. Bundles are self-contained — the whole history of the
 * refs they hold — so `git clone FILE` recovers the work even if the remote is gone too; one whose
 * refs are unchanged since the last run is kept as it is.
 */
async function bundleRepository(
  git: Git,
  verify: (file: string) => Promise<ProcessResult>,
  inspected: Inspected,
  mode: "unpushed" | "all",
  bundleDir: string,
): Promise<BundleResult> {
  const { record, refs, atRisk, hasRemote } = inspected;
  const whole = mode === "all" || !hasRemote;
  if (refs.length === 0 || (!whole && atRisk.length === 0)) return { file: null, state: "none" };
  const name = bundleFileName(record.path);
  const file = path.join(bundleDir, name);
  // HEAD goes in too, so that `git clone` of the bundle checks something out.
  const headRef = record.head ? [{ ref: "HEAD", oid: record.head }] : [];
  const wanted = whole
    ? [...refs, ...headRef]
    : [...atRisk, ...(atRisk.some((r) => r.ref === "HEAD") ? [] : headRef)];
  if (await existingBundleMatches(file, wanted)) return { file: name, state: "unchanged" };

  const temp = tempPathFor(file);
  try {
    const refArgs = whole ? ["--all"] : [...new Set(wanted.map((r) => r.ref))];
    // holdfast opens the file and git writes the bundle to its stdout: git may be running as the
    // repository's owner, who can neither reach the output directory nor should. A bundle holds the
    // repository's content: readable by holdfast's user only, like the inventory.
    const handle = await fs.promises.open(
      temp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      check(
        await git(["bundle", "create", "-q", "-", ...refArgs], { stdoutFd: handle.fd }),
        "git bundle create",
      );
      await handle.sync();
    } finally {
      await handle.close();
    }
    check(await verify(temp), "git bundle verify");
    await fs.promises.rename(temp, file);
  } finally {
    await fs.promises.rm(temp, { force: true });
  }
  return { file: name, state: "written" };
}

async function existingBundleMatches(
  file: string,
  wanted: Array<{ ref: string; oid: string }>,
): Promise<boolean> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, "r");
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return bundleMatches(parseBundleHeader(buffer.subarray(0, bytesRead)), wanted);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

async function runGit(ctx: StepContext<GitOptions>): Promise<StepOutcome> {
  const o = ctx.options;
  const bundleDir = path.join(o.output, BUNDLE_DIR);
  try {
    await fs.promises.mkdir(o.bundle === "none" ? o.output : bundleDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return {
      status: "failed",
      error: stepError(
        "permission",
        `cannot create ${o.output}: ${(err as Error).message}`,
        "check that the output directory is writable",
      ),
    };
  }
  await removeStaleTempFiles(o.output);
  if (o.bundle !== "none") await removeStaleTempFiles(bundleDir);

  const found = await findRepositories(o.roots, {
    exclude: o.exclude,
    maxDepth: o.max_depth,
    signal: ctx.signal,
  });
  for (const u of found.unreadable) ctx.log.warn(`cannot read ${u.path}: ${u.message}`);
  ctx.log.info(`found ${found.repositories.length} repositories under ${o.roots.join(", ")}`);

  const lookup = createUserLookup((args) =>
    ctx.exec("getent", args, { env: ctx.env, collectStdout: true, onLine: () => {} }),
  );
  const verifier = createBundleVerifier(ctx);
  /** Guarded repositories whose config named programs or files that holdfast switched off. */
  const switchedOff: string[] = [];
  const records: RepositoryRecord[] = new Array<RepositoryRecord>(found.repositories.length);
  const keptBundles = new Set<string>();
  const bundleFailures: string[] = [];
  let written = 0;
  let unchanged = 0;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < found.repositories.length && !ctx.signal.aborted) {
      const i = next++;
      const repo = found.repositories[i] as FoundRepository;
      let inspected: Inspected;
      let git: Git;
      try {
        const prepared = await prepareRepository(ctx, repo, lookup);
        git = prepared.git;
        const { identity } = prepared;
        if (identity.mode === "guarded") {
          const why = `it is owned by uid ${identity.owners.join(", ")} and ${identity.reason}`;
          if (prepared.blocking.length > 0) {
            const names = describeKeys(prepared.blocking);
            ctx.log.warn(`${repo.path}: not running git in it: its config sets ${names}, and ${why}`);
            throw new GitFailure(`not inspected: its config sets ${names} (${identity.reason})`);
          }
          if (prepared.switchedOff.length > 0) {
            const names = describeKeys(prepared.switchedOff);
            ctx.log.warn(`${repo.path}: not running what its config names (${names}): ${why}`);
            switchedOff.push(`${repo.path} (${names})`);
          }
        }
        inspected = await inspectRepository(git, repo);
      } catch (err) {
        if (!(err instanceof GitFailure)) throw err;
        records[i] = failedRecord(repo, err.message);
        // Its bundle from an earlier run may be the only copy of its work: keep it.
        keptBundles.add(bundleFileName(repo.path));
        continue;
      }
      records[i] = inspected.record;
      if (o.bundle !== "none") {
        try {
          const result = await bundleRepository(
            git,
            (file) => verifier.verify(file),
            inspected,
            o.bundle,
            bundleDir,
          );
          if (result.file) {
            inspected.record.bundle = `${BUNDLE_DIR}/${result.file}`;
            keptBundles.add(result.file);
            if (result.state === "written") written++;
            else unchanged++;
          }
        } catch (err) {
          if (!(err instanceof GitFailure) && !(err as NodeJS.ErrnoException).code) throw err;
          bundleFailures.push(`${repo.path}: ${(err as Error).message}`);
          inspected.record.error = `bundle: ${(err as Error).message}`;
          keptBundles.add(bundleFileName(repo.path));
        }
      }
      done++;
      ctx.progress({ filesDone: done, filesTotal: found.repositories.length, label: "repositories" });
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  } finally {
    await verifier.dispose();
  }
  if (ctx.signal.aborted) return { status: "failed", error: stepError("cancelled", "cancelled") };

  const inventory: Inventory = {
    version: 1,
    generated_at: new Date().toISOString(),
    host: ctx.host,
    roots: o.roots,
    repositories: records.map((r) => ({
      ...r,
      remotes: r.remotes.map((x) => ({ ...x, url: ctx.redact(x.url) })),
    })),
  };
  await writeFileAtomic(path.join(o.output, "inventory.json"), `${JSON.stringify(inventory, null, 2)}\n`, {
    mode: 0o600,
  });
  await writeFileAtomic(path.join(o.output, "inventory.txt"), renderInventoryText(inventory), {
    mode: 0o600,
  });

  // Bundles of repositories that no longer have work of their own are removed — but not when a root
  // was missing (an unmounted disk must not cost the bundles of everything on it).
  let removed = 0;
  if (o.bundle !== "none" && found.missingRoots.length === 0) {
    for (const name of await fs.promises.readdir(bundleDir)) {
      if (!name.endsWith(".bundle") || keptBundles.has(name)) continue;
      await fs.promises.rm(path.join(bundleDir, name), { force: true });
      removed++;
    }
    if (removed > 0) await syncDirectory(bundleDir);
  }

  const failedRepos = records.filter((r) => r.error !== null && !r.error.startsWith("bundle:"));
  const summary = {
    repos_found: records.length,
    repos_dirty: records.filter((r) => (r.dirty ?? 0) > 0).length,
    repos_unpushed: records.filter((r) => r.unpushed_commits > 0).length,
    repos_with_stash: records.filter((r) => r.stashes > 0).length,
    repos_failed: failedRepos.length,
    unpushed_commits: records.reduce((n, r) => n + r.unpushed_commits, 0),
    bundles_written: written,
    bundles_unchanged: unchanged,
    bundles_removed: removed,
    inventory: path.join(o.output, "inventory.json"),
  };
  ctx.log.info(
    `${summary.repos_found} repositories: ${summary.repos_dirty} dirty, ${summary.repos_unpushed} with unpushed work; ` +
      `bundles: ${written} written, ${unchanged} unchanged, ${removed} removed`,
  );

  if (found.missingRoots.length > 0) {
    return {
      status: "failed",
      summary,
      error: stepError(
        "not_found",
        `cannot walk ${found.missingRoots.map((r) => `${r.path} (${r.message})`).join(", ")}`,
        "check the path, and that its disk is mounted",
      ),
    };
  }
  if (bundleFailures.length > 0) {
    return {
      status: "failed",
      summary,
      error: stepError(
        "exit_code",
        `could not bundle ${bundleFailures.length} repositor${bundleFailures.length === 1 ? "y" : "ies"}: ${bundleFailures.slice(0, 3).join("; ")}`,
        "see the step log; check free space in the output directory",
      ),
    };
  }
  // Repositories git failed in (or was kept out of), and foreign programs switched off: one warning.
  const problems: string[] = [];
  const hints: string[] = [];
  if (failedRepos.length > 0) {
    problems.push(
      `git failed in ${failedRepos.length} repositor${failedRepos.length === 1 ? "y" : "ies"}: ` +
        failedRepos
          .slice(0, 3)
          .map((r) => `${r.path} (${r.error})`)
          .join("; "),
    );
    hints.push("run git status in those repositories (as their owner) to see what is wrong with them");
  }
  if (switchedOff.length > 0) {
    problems.push(
      `ran git with the programs named by ${switchedOff.length} repositor${switchedOff.length === 1 ? "y's" : "ies'"} own config switched off: ` +
        switchedOff.slice(0, 3).join("; "),
    );
  }
  if (switchedOff.length > 0 || failedRepos.some((r) => r.error?.startsWith("not inspected:"))) {
    hints.push(
      "run holdfast as root, so that git runs as each repository's owner, or remove those keys from the repositories' config",
    );
  }
  if (problems.length > 0) {
    return {
      status: "warning",
      summary,
      error: stepError(
        failedRepos.length > 0 ? "partial" : "permission",
        problems.join(" — "),
        hints.join("; "),
      ),
    };
  }
  return { status: "succeeded", summary };
}

function describeKeys(keys: readonly ForeignKey[]): string {
  return [...new Set(keys.map((k) => k.key))].join(", ");
}

/**
 * `git bundle verify` for bundles holdfast wrote: in an empty repository of holdfast's own (one per
 * object format), never in the scanned repository. A bundle holdfast writes is self-contained (no
 * prerequisites), so an empty repository checks it as fully as the source would, and the check
 * reads no config and runs no program of the repository's owner.
 */
function createBundleVerifier(ctx: StepContext<GitOptions>) {
  let scratch: Promise<string> | undefined;
  const repos = new Map<string, Promise<string>>();
  const env = { ...ctx.env, ...QUIET_GIT_ENV };
  const scratchRepo = (format: string): Promise<string> => {
    let made = repos.get(format);
    if (!made) {
      scratch ??= Promise.resolve().then(() => makePrivateTempDir("holdfast-bundle-verify-"));
      made = scratch.then(async (dir) => {
        const gitDir = path.join(dir, `${format.replace(/[^a-z0-9]/gi, "_")}.git`);
        check(
          await ctx.exec("git", ["init", "-q", "--bare", `--object-format=${format}`, gitDir], {
            env,
            collectStdout: true,
          }),
          "git init",
        );
        return gitDir;
      });
      repos.set(format, made);
    }
    return made;
  };
  return {
    async verify(file: string): Promise<ProcessResult> {
      const head = Buffer.alloc(64 * 1024);
      const handle = await fs.promises.open(file, "r");
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(head, 0, head.length, 0));
      } finally {
        await handle.close();
      }
      const header = parseBundleHeader(head.subarray(0, bytesRead));
      const gitDir = await scratchRepo(header?.objectFormat ?? "sha1");
      return ctx.exec("git", ["--git-dir", gitDir, "bundle", "verify", "-q", file], {
        env,
        collectStdout: true,
        onLine: () => {},
      });
    },
    async dispose(): Promise<void> {
      if (scratch) await fs.promises.rm(await scratch, { recursive: true, force: true });
    },
  };
}

function failedRecord(repo: FoundRepository, message: string): RepositoryRecord {
  return emptyRecord(repo, message);
}

/** A repository's record before (or instead of) inspection: nothing known yet. */
function emptyRecord(repo: FoundRepository, error: string | null): RepositoryRecord {
  return {
    path: repo.path,
    bare: repo.bare,
    branch: null,
    head: null,
    detached: false,
    upstream: null,
    ahead: null,
    behind: null,
    remotes: [],
    dirty: null,
    untracked: null,
    stashes: 0,
    unpushed_commits: 0,
    unpushed_branches: [],
    bundle: null,
    error,
  };
}
