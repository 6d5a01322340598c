import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configCachePath, loadAndCacheConfig, readCachedConfig } from "./cache.js";
import { loadConfigFile, parseConfigText } from "./load.js";
import type { Config } from "./types.js";

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-cache-"));
  temps.push(dir);
  const file = path.join(dir, "holdfast.yaml");
  const env: NodeJS.ProcessEnv = {
    HOME: path.join(dir, "home"),
    XDG_CACHE_HOME: path.join(dir, "cache"),
    XDG_STATE_HOME: path.join(dir, "state"),
    DATA: "/srv/data",
    UNRELATED: "1",
  };
  const write = (jobName: string, sourcePath = "$DATA/photos") =>
    fs.writeFileSync(
      file,
      [
        "version: 1",
        "repositories:",
        "  local: { url: /srv/repo, password_file: /etc/holdfast/pw }",
        "sources:",
        `  home: { paths: [${sourcePath}] }`,
        "jobs:",
        `  ${jobName}:`,
        "    steps:",
        "      - { name: b, type: backup, source: home, repos: [local] }",
        "",
      ].join("\n"),
    );
  write("nightly");
  let loads = 0;
  const load = {
    parse: (text: string, f: string, e: NodeJS.ProcessEnv): Config => {
      loads++;
      return parseConfigText(text, f, e);
    },
    load: loadConfigFile,
  };
  return { dir, file, env, write, load, loads: () => loads };
}

describe("config cache", () => {
  it("serves an unchanged config without loading it again, equal to a fresh load", () => {
    const t = setup();
    expect(readCachedConfig(t.file, t.env)).toBeNull();
    const loaded = loadAndCacheConfig(t.file, t.load, t.env);
    expect(t.loads()).toBe(1);
    const cached = readCachedConfig(t.file, t.env);
    expect(cached).toEqual(loaded);
    expect(cached?.sources.home?.paths).toEqual(["/srv/data/photos"]);
    expect(t.loads()).toBe(1);
  });

  it("misses when the file changes, or an environment variable it used", () => {
    const t = setup();
    loadAndCacheConfig(t.file, t.load, t.env);
    t.write("weekly");
    expect(readCachedConfig(t.file, t.env)).toBeNull();
    expect(Object.keys(loadAndCacheConfig(t.file, t.load, t.env).jobs)).toEqual(["weekly"]);
    expect(readCachedConfig(t.file, { ...t.env, UNRELATED: "2" })).not.toBeNull();
    expect(readCachedConfig(t.file, { ...t.env, DATA: "/mnt/other" })).toBeNull();
    // The state dir's default comes from XDG_STATE_HOME, which loading also looked up.
    expect(readCachedConfig(t.file, { ...t.env, XDG_STATE_HOME: "/elsewhere" })).toBeNull();
    // A variable the config refers to that was unset, then set.
    t.write("weekly", "$NOT_SET_YET/x");
    expect(() => loadAndCacheConfig(t.file, t.load, t.env)).toThrow(/NOT_SET_YET/);
    const withVar = { ...t.env, NOT_SET_YET: "/now" };
    loadAndCacheConfig(t.file, t.load, withVar);
    expect(readCachedConfig(t.file, withVar)?.sources.home?.paths).toEqual(["/now/x"]);
    expect(readCachedConfig(t.file, t.env)).toBeNull();
  });

  it("never caches a config that does not load", () => {
    const t = setup();
    fs.writeFileSync(t.file, "version: 1\njobs: {broken\n");
    expect(() => loadAndCacheConfig(t.file, t.load, t.env)).toThrow();
    expect(fs.existsSync(configCachePath(t.file, t.env))).toBe(false);
    const missing = path.join(t.dir, "missing.yaml");
    expect(() => loadAndCacheConfig(missing, t.load, t.env)).toThrow(/config file not found/);
    expect(fs.existsSync(configCachePath(missing, t.env))).toBe(false);
  });

  it("keeps the cache private, and ignores one it cannot read or write", () => {
    const t = setup();
    loadAndCacheConfig(t.file, t.load, t.env);
    const cacheFile = configCachePath(t.file, t.env);
    expect(fs.statSync(cacheFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(cacheFile)).mode & 0o777).toBe(0o700);
    fs.writeFileSync(cacheFile, "{not json");
    expect(readCachedConfig(t.file, t.env)).toBeNull();
    const blocked = { ...t.env, XDG_CACHE_HOME: path.join(t.file, "not-a-dir") };
    expect(loadAndCacheConfig(t.file, t.load, blocked).jobs.nightly).toBeDefined();
    expect(readCachedConfig(t.file, blocked)).toBeNull();
  });
});
