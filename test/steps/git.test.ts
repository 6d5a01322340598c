// The git step through the built CLI, on planted repositories: what the inventory says about each,
// what it must not find, and bundles that `git clone` turns back into the unpushed work.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tmp.js";
import { runJobWith } from "./run-helpers.js";

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  HOME: "/nonexistent-home",
};

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", ["-c", "init.defaultBranch=main", "-c", "safe.directory=*", ...args], {
    cwd,
    env: GIT_ENV,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} in ${cwd}: ${r.stderr}`);
  return r.stdout.trim();
}

function commit(repo: string, file: string, content: string, message = `change ${file}`): string {
  fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  fs.writeFileSync(path.join(repo, file), content);
  git(repo, "add", file);
  git(repo, "commit", "-q", "-m", message);
  return git(repo, "rev-parse", "HEAD");
}

function newRepo(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, "init", "-q");
  return dir;
}

/** Plants the repositories of the scenario; the "remote" lives outside the walked root. */
function plant(base: string) {
  const root = path.join(base, "src");
  const remote = path.join(base, "remotes/upstream.git");
  fs.mkdirSync(path.dirname(remote), { recursive: true });
  git(base, "init", "-q", "--bare", remote);

  const clean = newRepo(path.join(root, "clean"));
  commit(clean, "README", "clean\n");
  git(clean, "remote", "add", "origin", remote);
  git(clean, "push", "-q", "origin", "main");
  git(clean, "fetch", "-q", "origin");

  const dirty = newRepo(path.join(root, "dirty"));
  commit(dirty, "a.txt", "a\n");
  commit(dirty, "b.txt", "b\n");
  git(dirty, "remote", "add", "origin", "https://sig:hunter2secret@git.example.com/dirty.git");
  git(dirty, "update-ref", "refs/remotes/origin/main", "HEAD");
  fs.writeFileSync(path.join(dirty, "stashed.txt"), "stash me\n");
  git(dirty, "add", "stashed.txt");
  git(dirty, "stash", "-q");
  fs.writeFileSync(path.join(dirty, "a.txt"), "modified\n");
  fs.writeFileSync(path.join(dirty, "b.txt"), "modified too\n");
  fs.writeFileSync(path.join(dirty, "new.txt"), "untracked\n");

  const unpushed = newRepo(path.join(root, "group/unpushed"));
  commit(unpushed, "base.txt", "base\n");
  git(unpushed, "remote", "add", "origin", remote);
  git(unpushed, "fetch", "-q", "origin");
  git(unpushed, "update-ref", "refs/remotes/origin/main", "HEAD");
  git(unpushed, "checkout", "-q", "-b", "feature");
  commit(unpushed, "work.txt", "the only copy\n", "unpushed work 1");
  const unpushedHead = commit(unpushed, "work2.txt", "more\n", "unpushed work 2");
  git(unpushed, "checkout", "-q", "main");

  const local = newRepo(path.join(root, "local-only"));
  commit(local, "x.txt", "1\n");
  commit(local, "x.txt", "2\n");
  commit(local, "x.txt", "3\n");

  const bare = path.join(root, "server/project.git");
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  git(root, "clone", "-q", "--bare", local, bare);

  // Within max_depth (3): src/clean/vendor/lib is depth 3. Beyond it: depth 4.
  const nested = newRepo(path.join(root, "clean/vendor/lib"));
  commit(nested, "lib.txt", "lib\n");
  const deep = newRepo(path.join(root, "a/b/c/too-deep"));
  commit(deep, "d.txt", "d\n");
  const excluded = newRepo(path.join(root, "ignored-stuff/repo"));
  commit(excluded, "e.txt", "e\n");
  // A symlink loop: never followed.
  fs.symlinkSync("..", path.join(root, "group/loop"));

  return { root, remote, clean, dirty, unpushed, unpushedHead, local, bare, nested, deep };
}

const job = (root: string, output: string, extra = "") => `jobs:
  j:
    steps:
      - name: grepped-gitrepos
        type: git
        roots: [${JSON.stringify(root)}]
        output: ${JSON.stringify(output)}
        max_depth: 3
        exclude: [ignored-stuff]
${extra}`;

describe("git inventory", () => {
  it("lists the planted repositories with their state, and bundles the work that exists nowhere else", async () => {
    const dir = makeTempDir();
    const p = plant(dir);
    const output = path.join(dir, "gitrepos");
    const out = await runJobWith(dir, job(p.root, output));
    const step = out.step("grepped-gitrepos");
    expect(step.status, JSON.stringify(step)).toBe("succeeded");

    const inventory = JSON.parse(fs.readFileSync(path.join(output, "inventory.json"), "utf8"));
    const byPath = new Map<string, any>(inventory.repositories.map((r: any) => [r.path, r]));
    expect([...byPath.keys()].sort()).toEqual(
      [p.bare, p.clean, p.nested, p.dirty, p.local, p.unpushed].sort(),
    );
    expect(byPath.has(p.deep)).toBe(false);

    // The nested repository (vendor/) is an untracked directory of clean's work tree.
    expect(byPath.get(p.clean)).toMatchObject({
      branch: "main",
      dirty: 0,
      untracked: 1,
      unpushed_commits: 0,
      stashes: 0,
      bundle: null,
      error: null,
    });
    expect(byPath.get(p.clean).remotes).toEqual([{ name: "origin", url: p.remote }]);
    expect(byPath.get(p.clean).head).toBe(git(p.clean, "rev-parse", "HEAD"));

    const dirty = byPath.get(p.dirty);
    expect(dirty).toMatchObject({ dirty: 2, untracked: 1, stashes: 1, unpushed_commits: 0 });
    expect(dirty.remotes).toEqual([{ name: "origin", url: "https://sig:***@git.example.com/dirty.git" }]);
    // The stash exists nowhere else: it is bundled.
    expect(dirty.bundle).toMatch(/^bundles\/.*\.bundle$/);

    const unpushed = byPath.get(p.unpushed);
    expect(unpushed).toMatchObject({
      branch: "main",
      unpushed_commits: 2,
      unpushed_branches: [{ branch: "feature", commits: 2 }],
    });
    expect(byPath.get(p.local)).toMatchObject({
      remotes: [],
      unpushed_commits: 3,
      unpushed_branches: [{ branch: "main", commits: 3 }],
    });
    expect(byPath.get(p.bare)).toMatchObject({
      bare: true,
      branch: "main",
      dirty: null,
      untracked: null,
      unpushed_commits: 3,
    });

    expect(step.summary).toMatchObject({
      repos_found: 6,
      repos_dirty: 1,
      repos_unpushed: 4,
      repos_failed: 0,
      bundles_written: 5,
      bundles_removed: 0,
    });
    const txt = fs.readFileSync(path.join(output, "inventory.txt"), "utf8");
    expect(txt).toContain("6 repositories");
    expect(txt).toContain(`! ${p.unpushed}  [main `);
    expect(txt).not.toContain("hunter2secret");
    expect(fs.readFileSync(path.join(output, "inventory.json"), "utf8")).not.toContain("hunter2secret");

    // The bundle is self-contained: a clone of it alone has the unpushed commits and their files.
    const bundle = path.join(output, unpushed.bundle);
    expect(fs.statSync(bundle).mode & 0o777).toBe(0o600);
    const clone = path.join(dir, "recovered");
    git(dir, "clone", "-q", bundle, clone);
    git(clone, "checkout", "-q", "feature");
    expect(git(clone, "rev-parse", "HEAD")).toBe(p.unpushedHead);
    expect(fs.readFileSync(path.join(clone, "work.txt"), "utf8")).toBe("the only copy\n");
    const wholeClone = path.join(dir, "recovered-local");
    git(dir, "clone", "-q", path.join(output, byPath.get(p.local).bundle), wholeClone);
    expect(fs.readFileSync(path.join(wholeClone, "x.txt"), "utf8")).toBe("3\n");
  });

  it("keeps unchanged bundles, and removes the bundle once the work is pushed", async () => {
    const dir = makeTempDir();
    const p = plant(dir);
    const output = path.join(dir, "gitrepos");
    const first = await runJobWith(dir, job(p.root, output));
    const bundleOf = () =>
      JSON.parse(fs.readFileSync(path.join(output, "inventory.json"), "utf8")).repositories.find(
        (r: any) => r.path === p.unpushed,
      ).bundle;
    const bundle = path.join(output, bundleOf());
    const before = fs.statSync(bundle).mtimeMs;

    const second = await runJobWith(dir, job(p.root, output));
    expect(second.step("grepped-gitrepos").summary).toMatchObject({
      bundles_written: 0,
      bundles_unchanged: first.step("grepped-gitrepos").summary.bundles_written,
    });
    expect(fs.statSync(bundle).mtimeMs).toBe(before);

    git(p.unpushed, "push", "-q", "origin", "feature");
    const third = await runJobWith(dir, job(p.root, output));
    expect(third.step("grepped-gitrepos").summary).toMatchObject({ bundles_removed: 1, repos_unpushed: 3 });
    expect(bundleOf()).toBeNull();
    expect(fs.existsSync(bundle)).toBe(false);
  });

  it("bundles every repository with bundle: all, and none with bundle: none", async () => {
    const dir = makeTempDir();
    const p = plant(dir);
    const all = path.join(dir, "all");
    const out = await runJobWith(dir, job(p.root, all, "        bundle: all\n"));
    expect(out.step("grepped-gitrepos").summary).toMatchObject({ repos_found: 6, bundles_written: 6 });
    const cleanBundle = JSON.parse(
      fs.readFileSync(path.join(all, "inventory.json"), "utf8"),
    ).repositories.find((r: any) => r.path === p.clean).bundle;
    const clone = path.join(dir, "clean-clone");
    git(dir, "clone", "-q", path.join(all, cleanBundle), clone);
    expect(fs.readFileSync(path.join(clone, "README"), "utf8")).toBe("clean\n");

    const none = path.join(dir, "none");
    const quiet = await runJobWith(dir, job(p.root, none, "        bundle: none\n"));
    expect(quiet.step("grepped-gitrepos").summary).toMatchObject({ repos_found: 6, bundles_written: 0 });
    expect(fs.existsSync(path.join(none, "bundles"))).toBe(false);
    expect(fs.existsSync(path.join(none, "inventory.json"))).toBe(true);
  });

  it("reads repositories owned by another user (holdfast as root over users' trees)", async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.warn("skipping: needs root to chown a repository to another user");
      ctx.skip();
      return;
    }
    const dir = makeTempDir();
    const repo = newRepo(path.join(dir, "src/theirs"));
    commit(repo, "f.txt", "f\n");
    spawnSync("chown", ["-R", "65534:65534", repo]);
    const output = path.join(dir, "out");
    const out = await runJobWith(dir, job(path.join(dir, "src"), output));
    expect(out.step("grepped-gitrepos").status, JSON.stringify(out.step("grepped-gitrepos"))).toBe(
      "succeeded",
    );
    const [record] = JSON.parse(fs.readFileSync(path.join(output, "inventory.json"), "utf8")).repositories;
    expect(record).toMatchObject({ path: repo, error: null, unpushed_commits: 1, dirty: 0 });
  });

  it("records a broken repository as an error and warns, and fails for a missing root", async () => {
    const dir = makeTempDir();
    const good = newRepo(path.join(dir, "src/good"));
    commit(good, "f.txt", "f\n");
    const broken = path.join(dir, "src/broken");
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, ".git"), "gitdir: /nonexistent/worktree\n");
    const output = path.join(dir, "out");
    const out = await runJobWith(dir, job(path.join(dir, "src"), output));
    const step = out.step("grepped-gitrepos");
    expect(step.status).toBe("warning");
    expect(step.error.kind).toBe("partial");
    expect(step.error.message).toContain(broken);
    expect(step.summary).toMatchObject({ repos_found: 2, repos_failed: 1 });
    expect(out.cli.code).toBe(3);

    const missing = await runJobWith(dir, job(path.join(dir, "nope"), output));
    expect(missing.step("grepped-gitrepos")).toMatchObject({
      status: "failed",
      error: { kind: "not_found" },
    });
  });
});
