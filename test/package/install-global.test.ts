// `npm install -g .` from a clone that `scripts/setup.sh` has set up (npm ci + build, as the README
// says) gives a `holdfast` on PATH that runs, and its man page where `man` looks. Installed into a
// private prefix, offline: a folder install links the clone, so nothing is fetched. (A tarball install
// from `npm pack` would fetch the dependencies from the registry; the pack test covers what it ships.)
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tmp.js";

const root = path.resolve(import.meta.dirname, "../..");

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
});
