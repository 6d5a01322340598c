// `npm install -g .` from a clone that `scripts/setup.sh` has set up (npm ci + build, as the README
// says) gives a `holdfast` on PATH that runs, and its man page where `man` looks. Installed into a
// private prefix, offline: a folder install links the clone, so nothing is fetched.
// And from the tarball `npm pack` makes (what a registry install gets), offline into another private
// prefix: the tarball carries its dependencies (package.json bundleDependencies, from the clone's
// node_modules — npm 11 resolves a tarball's dependencies from the registry's metadata, which no
// `npm ci` leaves in the cache, so an unbundled tarball cannot install offline), and npm rebuilds
// better-sqlite3 on the spot (a compile of SQLite: 1–5 minutes, hence the long timeout). The installed
// copy runs from its own files: --version, doctor, `config validate` of the example config it ships
// (docs/examples/reference.yaml, once the env files it names exist), the history database, the man
// page and the shell completion. In a git worktree whose node_modules is a symlink (npm pack does not
// follow it, so it would bundle nothing) the tarball is packed from a copy of the package with the
// production dependencies copied in — the same files npm pack bundles from a clone.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");

/** `npm pack` of the package into `dir`, its dependencies bundled; the tarball's path. */
function packTarball(dir: string): string {
  const pack = (cwd: string) =>
    (
      JSON.parse(
        execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
          cwd,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        }),
      ) as Array<{ filename: string }>
    )[0]!.filename;
  if (!fs.lstatSync(path.join(root, "node_modules")).isSymbolicLink()) return path.join(dir, pack(root));
  // A worktree: the package's own files (npm pack of the tree), then the production dependencies.
  const own = path.join(dir, pack(root));
  const stage = path.join(dir, "stage");
  fs.mkdirSync(stage);
  execFileSync("tar", ["xzf", own, "-C", stage]);
  fs.rmSync(own);
  const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  for (const [where, entry] of Object.entries(lock.packages))
    if (where.startsWith("node_modules/") && !entry.dev)
      fs.cpSync(path.join(root, where), path.join(stage, "package", where), {
        recursive: true,
        dereference: true,
      });
  return path.join(dir, pack(path.join(stage, "package")));
}

function userEnv(prefix: string, home: string): Record<string, string> {
  return {
    PATH: `${path.join(prefix, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_STATE_HOME: path.join(home, ".local/state"),
    XDG_CACHE_HOME: path.join(home, ".cache"),
  };
}

describe("npm install -g .", () => {
  it("puts a working holdfast and its man page under the prefix", () => {
    const prefix = makeTempDir("holdfast-global-");
    const home = makeTempDir("holdfast-global-home-");
    execFileSync("npm", ["install", "-g", ".", "--prefix", prefix, "--offline", "--no-audit", "--no-fund"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const bin = path.join(prefix, "bin", "holdfast");
    expect(fs.existsSync(bin), "bin/holdfast is linked").toBe(true);
    const env = {
      PATH: `${path.join(prefix, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      XDG_STATE_HOME: path.join(home, ".local/state"),
      XDG_CACHE_HOME: path.join(home, ".cache"),
    };
    // Run by name from another directory, as a user would.
    const version = spawnSync("holdfast", ["--version"], { cwd: home, env, encoding: "utf8" });
    expect(version.status).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
    expect(version.stdout.trim()).toBe(`holdfast ${pkg.version}`);
    // A command that loads the whole CLI (the bundle, the config defaults, the history code).
    const doctor = spawnSync("holdfast", ["doctor", "--json"], { cwd: home, env, encoding: "utf8" });
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; status: string }> }).checks;
    expect(checks.find((c) => c.check === "config")).toMatchObject({ status: "info" });
    expect(checks.find((c) => c.check === "restic")).toMatchObject({ status: "ok" });
    const man = path.join(prefix, "share", "man", "man1", "holdfast.1");
    expect(fs.existsSync(man), "share/man/man1/holdfast.1").toBe(true);
    expect(fs.readFileSync(man, "utf8")).toMatch(/^\.TH HOLDFAST 1/m);
  });

  it(
    "from the `npm pack` tarball, offline: a holdfast that runs from the installed files alone",
    () => {
      const work = makeTempDir("holdfast-tarball-");
      const prefix = path.join(work, "prefix");
      const home = makeTempDir("holdfast-tarball-home-");
      const tarball = packTarball(work);
      expect(fs.existsSync(tarball), tarball).toBe(true);
      const listing = execFileSync("tar", ["tzf", tarball], { encoding: "utf8", maxBuffer: 64 << 20 });
      for (const dep of ["better-sqlite3", "commander", "yaml", "zod"])
        expect(listing, dep).toContain(`package/node_modules/${dep}/package.json`);
      // From another directory, as a user would, with nothing fetched (--offline); npm's own config is
      // the machine's (~/.npmrc: where node-gyp finds Node's headers for the rebuild).
      execFileSync(
        "npm",
        ["install", "-g", tarball, "--prefix", prefix, "--offline", "--no-audit", "--no-fund"],
        { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 900_000 },
      );
      const installed = path.join(prefix, "lib", "node_modules", "holdfast");
      // A copy, not a link to the clone.
      expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
      const env = userEnv(prefix, home);
      const run = (args: string[]) => spawnSync("holdfast", args, { cwd: home, env, encoding: "utf8" });
      const version = run(["--version"]);
      expect(version.status, version.stderr).toBe(0);
      const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
      expect(version.stdout.trim()).toBe(`holdfast ${pkg.version}`);
      const doctor = run(["doctor", "--json"]);
      const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; status: string }> })
        .checks;
      expect(checks.find((c) => c.check === "restic")).toMatchObject({ status: "ok" });
      expect(checks.filter((c) => c.status === "error")).toEqual([]);
      // The example the docs are built around, validated by the installed copy once the env files it
      // names (under ~/.config/holdfast) exist.
      const example = path.join(installed, "docs/examples/reference.yaml");
      for (const m of fs.readFileSync(example, "utf8").matchAll(/env_file: ~\/(\S+)/g)) {
        fs.mkdirSync(path.dirname(path.join(home, m[1]!)), { recursive: true });
        fs.writeFileSync(path.join(home, m[1]!), "", { mode: 0o600 });
      }
      const validate = run(["--config", example, "config", "validate"]);
      expect(validate.status, validate.stdout + validate.stderr).toBe(0);
      expect(validate.stdout).toContain("1 job (nightly");
      const man = path.join(prefix, "share", "man", "man1", "holdfast.1");
      expect(fs.readFileSync(man, "utf8")).toMatch(/^\.TH HOLDFAST 1/m);
      const completion = run(["completion", "bash"]);
      expect(completion.status, completion.stderr).toBe(0);
      expect(completion.stdout).toContain("holdfast");
      // The history database (better-sqlite3, built by the install) works: a run of the embedded
      // quickstart job is recorded and listed.
      const history = run(["history", "--json"]);
      expect(history.status, history.stderr).toBe(0);
    },
    20 * 60_000,
  );
});
