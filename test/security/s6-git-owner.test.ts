// S6: no program named by a scanned repository's config runs as another user than its owner.
//
// The attack: a user's repository sets every config key that makes git run a program (filters,
// fsmonitor, hooks, pager, credential helper, ssh command, diff/merge drivers, gpg, editors, …) or
// read another file (include.path, includeIf, core.worktree), each naming a marker program that
// records who ran it; the work tree's files are touched so that `git status` must re-read them
// through the clean filter. Then the git step runs over it:
//   - as root, with the owner in passwd: git runs as the owner. A marker may appear — the owner's
//     own filter, run as the owner (uid, gid and no other group) with none of the job's secrets in
//     its environment — and no marker is ever root's.
//   - as root, with an owner that has no passwd entry, and as a non-root holdfast over another
//     user's repository: git cannot run as the owner, so no marker at all; the step warns, naming
//     the repository and every key it switched off, and a repository whose config includes other
//     files or moves its work tree is not entered.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { ensureUser, runCliAs, type TestUser } from "../helpers/users.js";

const UNKNOWN_UID = 54_321;
const secret = `s6JobSecret-${crypto.randomBytes(8).toString("hex")}`;

let base: string;
let markers: string;
let mark: string;
let owner: TestUser;
let runner: TestUser;

function sh(cwd: string, cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: "1",
      HOME: "/nonexistent",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Every key that makes git run a program, each naming the marker program with the key as its tag. */
function programKeys(hooks: string): Array<[string, string]> {
  const m = (tag: string) => `${mark} ${tag}`;
  return [
    ["filter.evil.clean", m("filter.evil.clean")],
    ["filter.evil.smudge", m("filter.evil.smudge")],
    ["filter.evil.required", "true"],
    ["filter.proc.process", m("filter.proc.process")],
    ["core.fsmonitor", m("core.fsmonitor")],
    ["core.hooksPath", hooks],
    ["core.sshCommand", m("core.sshCommand")],
    ["core.gitProxy", m("core.gitProxy")],
    ["core.askPass", m("core.askPass")],
    ["core.editor", m("core.editor")],
    ["core.pager", m("core.pager")],
    ["core.alternateRefsCommand", m("core.alternateRefsCommand")],
    ["sequence.editor", m("sequence.editor")],
    ["pager.status", m("pager.status")],
    ["pager.for-each-ref", m("pager.for-each-ref")],
    ["credential.helper", m("credential.helper")],
    ["credential.https://example.com.helper", m("credential.url.helper")],
    ["diff.external", m("diff.external")],
    ["diff.tc.textconv", m("diff.tc.textconv")],
    ["diff.tc.command", m("diff.tc.command")],
    ["merge.md.driver", m("merge.md.driver")],
    ["gpg.program", m("gpg.program")],
    ["gpg.ssh.program", m("gpg.ssh.program")],
    ["log.showSignature", "true"],
    ["uploadpack.packObjectsHook", m("uploadpack.packObjectsHook")],
    ["protocol.ext.allow", "always"],
    ["remote.origin.url", `ext::${mark} protocol.ext %S`],
    ["remote.origin.uploadpack", m("remote.origin.uploadpack")],
    ["trailer.t.command", m("trailer.t.command")],
    ["submodule.s.update", `!${m("submodule.s.update")}`],
  ];
}

/** A repository whose config names every program above, and touched files that status must re-filter. */
function plantRepository(dir: string, extra: Array<[string, string]> = []): string {
  fs.mkdirSync(dir, { recursive: true });
  sh(dir, "git", "init", "-q", "-b", "main");
  fs.writeFileSync(
    path.join(dir, ".gitattributes"),
    "f.txt filter=evil diff=tc merge=md\np.txt filter=proc\ni.txt filter=inc\n",
  );
  for (const f of ["f.txt", "p.txt", "i.txt"]) fs.writeFileSync(path.join(dir, f), `${f}\n`);
  sh(dir, "git", "add", ".");
  sh(dir, "git", "commit", "-q", "-m", "planted");
  const hooks = path.join(dir, ".git", "evil-hooks");
  fs.mkdirSync(hooks);
  for (const hook of [
    "pre-commit",
    "post-checkout",
    "reference-transaction",
    "post-index-change",
    "fsmonitor-watchman",
  ]) {
    fs.writeFileSync(path.join(hooks, hook), `#!/bin/sh\nexec ${mark} hook.${hook}\n`, { mode: 0o755 });
  }
  for (const [key, value] of [...programKeys(hooks), ...extra]) sh(dir, "git", "config", key, value);
  // New mtimes with the same sizes: git status must run the clean filter to compare the contents.
  const later = new Date(Date.now() + 3600_000);
  for (const f of ["f.txt", "p.txt", "i.txt"]) fs.utimesSync(path.join(dir, f), later, later);
  return dir;
}

/** The four repositories of each scenario, owned by `uid`. */
function plantScenario(root: string, uid: number, gid: number): string {
  const include = path.join(root, "included.gitconfig");
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(include, `[filter "inc"]\n\tclean = ${mark} include.path\n`);
  plantRepository(path.join(root, "programs"));
  plantRepository(path.join(root, "include"), [["include.path", include]]);
  plantRepository(path.join(root, "includeif"), [[`includeIf.gitdir:${root}/.path`, include]]);
  const elsewhere = path.join(root, "elsewhere");
  fs.mkdirSync(elsewhere);
  plantRepository(path.join(root, "worktree"), [["core.worktree", elsewhere]]);
  sh(root, "chown", "-R", `${uid}:${gid}`, root);
  return root;
}

function writeConfig(dir: string, roots: string[], stateDir: string, output: string): string {
  const envFile = path.join(dir, "job.env");
  fs.writeFileSync(envFile, `GIT_STEP_TOKEN=${secret}\n`, { mode: 0o600 });
  const file = path.join(dir, "holdfast.yaml");
  const config = {
    version: 1,
    state_dir: stateDir,
    host: "s6host",
    jobs: {
      inventory: {
        env_file: envFile,
        steps: [{ name: "repos", type: "git", roots, output, bundle: "all" }],
      },
    },
  };
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

interface Marker {
  file: string;
  fileUid: number;
  tag: string;
  uid: number;
  groups: string;
  env: string;
}

function readMarkers(): Marker[] {
  return fs.readdirSync(markers).map((name) => {
    const file = path.join(markers, name);
    const text = fs.readFileSync(file, "utf8");
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(text)?.[1] ?? "";
    return {
      file: name,
      fileUid: fs.statSync(file).uid,
      tag: field("tag"),
      uid: Number(field("uid")),
      groups: field("groups"),
      env: text,
    };
  });
}

beforeAll(() => {
  owner = ensureUser("hfs6owner");
  runner = ensureUser("hfs6runner");
  base = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-s6-"));
  fs.chmodSync(base, 0o755);
  markers = path.join(base, "markers");
  fs.mkdirSync(markers);
  fs.chmodSync(markers, 0o1777);
  mark = path.join(base, "mark.sh");
  // Records who ran it, then passes its input through (so a filter leaves contents as they were).
  fs.writeFileSync(
    mark,
    `#!/bin/sh\nf="${markers}/$1.$(id -u).$$"\n{ echo "tag=$1"; echo "uid=$(id -u)"; echo "groups=$(id -G)"; env; } > "$f"\nexec cat\n`,
    { mode: 0o755 },
  );
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

function resetMarkers(): void {
  for (const name of fs.readdirSync(markers)) fs.rmSync(path.join(markers, name));
}

describe("S6: git runs a repository's programs only as its owner", () => {
  it("as root over a user's repository: git runs as the owner, never as root", async () => {
    resetMarkers();
    const dir = path.join(base, "as-owner");
    const roots = plantScenario(path.join(dir, "home"), owner.uid, owner.gid);
    const output = path.join(dir, "out");
    const cfg = writeConfig(dir, [roots], path.join(dir, "state"), output);
    const result = await runCli(["--config", cfg, "run", "inventory", "--json"]);
    const run = parseJson(result);
    const step = run.steps[0];

    const found = readMarkers();
    // Exactly the model: whatever ran, ran as the owner — no marker of root's, none of anyone else's.
    expect(found.filter((m) => m.uid !== owner.uid || m.fileUid !== owner.uid)).toEqual([]);
    // …with the owner's group only (root's groups dropped) and none of the job's secrets.
    for (const m of found) {
      expect(m.groups, m.file).toBe(String(owner.gid));
      expect(m.env, m.file).not.toContain(secret);
      expect(m.env, m.file).toContain(`USER=${owner.name}`);
    }
    // Not vacuous: the owner's clean filter did run (status re-read the touched files), as the owner.
    expect(found.map((m) => m.tag)).toContain("filter.evil.clean");

    // The inventory is complete and the bundles (written by holdfast, not by the owner) restore.
    expect(step.summary.repos_found, result.stdout).toBe(4);
    const inventory = JSON.parse(fs.readFileSync(path.join(output, "inventory.json"), "utf8"));
    for (const repo of inventory.repositories) {
      expect(repo.error, repo.path).toBeNull();
      expect(repo.bundle, repo.path).not.toBeNull();
      const bundle = path.join(output, repo.bundle);
      expect(fs.statSync(bundle).uid).toBe(0);
      expect(fs.statSync(bundle).mode & 0o777).toBe(0o600);
    }
    const clone = path.join(dir, "clone");
    sh(dir, "git", "clone", "-q", path.join(output, inventory.repositories[0].bundle), clone);
    expect(fs.readFileSync(path.join(clone, "f.txt"), "utf8")).toBe("f.txt\n");
  });

  const expectGuarded = (run: any, output: string) => {
    expect(readMarkers()).toEqual([]);
    const step = run.steps[0];
    expect(step.status).toBe("warning");
    const inventory = JSON.parse(fs.readFileSync(path.join(output, "inventory.json"), "utf8"));
    const byName = new Map<string, any>(inventory.repositories.map((r: any) => [path.basename(r.path), r]));
    // The repository whose programs were switched off is inventoried; its bundle restores.
    expect(byName.get("programs").error).toBeNull();
    expect(byName.get("programs").bundle).not.toBeNull();
    // The ones that pull in other files are not entered at all.
    expect(byName.get("include").error).toMatch(/include\.path/);
    expect(byName.get("includeif").error).toMatch(/includeif\.gitdir:.*\.path/);
    expect(byName.get("worktree").error).toMatch(/core\.worktree/);
    return step;
  };

  it("as root over a repository whose owner is unknown: nothing it names runs; the step says so", async () => {
    resetMarkers();
    const dir = path.join(base, "unknown-owner");
    const roots = plantScenario(path.join(dir, "home"), UNKNOWN_UID, UNKNOWN_UID);
    const output = path.join(dir, "out");
    const cfg = writeConfig(dir, [roots], path.join(dir, "state"), output);
    const result = await runCli(["--config", cfg, "run", "inventory", "--json"]);
    expect(result.code, result.stderr).toBe(3);
    const step = expectGuarded(parseJson(result), output);
    const programs = path.join(roots, "programs");
    expect(step.error.message).toContain(programs);
    expect(step.error.message).toContain("filter.evil.clean");
    // The log names each switched-off key of the repository.
    const logs = await runCli(["--config", cfg, "logs", parseJson(result).id]);
    const line = logs.stdout.split("\n").find((l) => l.includes(`${programs}: not running`)) ?? "";
    for (const [key] of programKeys("x").filter(
      ([k]) => !/required|showsignature|remote\.origin\.url$/i.test(k),
    ))
      expect(line, key).toContain(key.toLowerCase().replace("https://example.com", "https://example.com"));
    expect(line).toContain(`uid ${UNKNOWN_UID}`);
  });

  it("as root over a user's repository the user cannot reach: nothing it names runs", async () => {
    resetMarkers();
    const dir = path.join(base, "closed");
    // /…/closed is root's and 0700: the owner could not enter their repository, so git cannot run as them.
    const roots = plantScenario(path.join(dir, "home"), owner.uid, owner.gid);
    fs.chmodSync(dir, 0o700);
    const output = path.join(dir, "out");
    const cfg = writeConfig(dir, [roots], path.join(dir, "state"), output);
    const result = await runCli(["--config", cfg, "run", "inventory", "--json"]);
    expect(result.code, result.stderr).toBe(3);
    const step = expectGuarded(parseJson(result), output);
    expect(step.error.message).toContain("filter.evil.clean");
  });

  it("as a non-root user over another user's repository: nothing it names runs", async () => {
    resetMarkers();
    const dir = path.join(base, "non-root");
    fs.mkdirSync(dir);
    const roots = plantScenario(path.join(dir, "home"), owner.uid, owner.gid);
    const own = path.join(dir, "runner");
    fs.mkdirSync(own, { mode: 0o700 });
    const output = path.join(own, "out");
    const cfg = writeConfig(own, [roots], path.join(own, "state"), output);
    sh(dir, "chown", "-R", `${runner.uid}:${runner.gid}`, own);
    const result = await runCliAs(runner, ["--config", cfg, "run", "inventory", "--json"], {
      HOME: own,
      XDG_CACHE_HOME: path.join(own, "cache"),
    });
    expect(result.code, result.stderr).toBe(3);
    const step = expectGuarded(parseJson(result), output);
    expect(step.error.message).toContain("filter.evil.clean");
    expect(step.error.hint).toMatch(/root/);
  });
});
