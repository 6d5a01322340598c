import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError } from "../errors.js";
import { findConfigFile, loadConfigFile, parseConfigText } from "./load.js";
import { configJsonSchema } from "../registry.js";

const FILE = "/etc/holdfast/holdfast.yaml";

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfigText(text, FILE, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfigText", () => {
  test("loads the spec's example config with defaults filled in", () => {
    const file = path.resolve("test/fixtures/configs/spec-example.yaml");
    const config = loadConfigFile(file, { HOME: "/home/sig" });
    const job = config.jobs["backup-job"];
    expect(job?.steps.map((s) => s.name)).toEqual([
      "hello",
      "grepped-gitrepos",
      "gen-manifest",
      "backblaze",
      "local",
      "logseq",
      "retention",
      "verify",
      "integrity",
    ]);
    expect(job?.max_age).toBe(26 * 3_600_000);
    expect(job?.randomized_delay).toBe(600_000);
    expect(job?.steps[0]?.timeout).toBe(6 * 3_600_000);
    expect(job?.steps.find((s) => s.name === "gen-manifest")?.max_removed).toBeCloseTo(0.2);
    expect(config.repositories.backblaze?.offsite).toBe(true);
    expect(config.repositories.nas?.name).toBe("nas");
    expect(config.sources.home?.guard.max_shrink).toBe("30%");
    expect(config.state_dir).toBe("/var/lib/holdfast");
  });

  test("restic.open_timeout is 60 s when the config leaves it out (a repository without its own uses it)", () => {
    // test/restic/open-timeout.test.ts runs a dead backend through restic.open_timeout set short.
    const config = parseConfigText(
      `version: 1
repositories:
  r: { url: /srv/r, password_file: /etc/pw }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`,
      FILE,
      {},
    );
    expect(config.restic.open_timeout).toBe(60_000);
    expect(config.repositories.r?.open_timeout).toBeUndefined();
  });

  test("refuses exclude patterns and exclude_if_present specs that restic would refuse", () => {
    const issues = issuesOf(`version: 1
sources:
  a: { paths: [/data], exclude: ["ok/*.tmp", "[oops"], exclude_if_present: [":header"] }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`);
    expect(issues).toEqual([
      expect.objectContaining({
        path: "sources.a.exclude[1]",
        message: expect.stringMatching(/not a valid restic exclude pattern/),
        hint: expect.stringMatching(/\\\[/),
      }),
      expect.objectContaining({
        path: "sources.a.exclude_if_present[0]",
        hint: expect.stringMatching(/NAME:HEADER/),
      }),
    ]);
  });

  test("expands ~ and $VAR, and resolves relative paths against the config's directory", () => {
    const config = parseConfigText(
      `version: 1
sources:
  a: { paths: ["~/docs", "$DATA/photos", "\${DATA}/x", "rel/dir"] }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`,
      "/srv/conf/holdfast.yaml",
      { HOME: "/home/u", DATA: "/data" },
    );
    expect(config.sources.a?.paths).toEqual(["/home/u/docs", "/data/photos", "/data/x", "/srv/conf/rel/dir"]);
  });

  test("reports every problem at once, sorted by position, with hints", () => {
    const issues = issuesOf(`version: 1
repositories:
  r: { url: /r, pasword_file: /p }
jobs:
  j:
    max_age: 26
    steps:
      - { name: a, type: exec, command: [x], timeout: 5q }
      - { name: b, type: backup, source: nope, repos: [r] }
`);
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [3, "repositories.r"],
      [3, "repositories.r.pasword_file"],
      [6, "jobs.j.max_age"],
      [8, "jobs.j.steps[0].timeout"],
      [9, "jobs.j.steps[1].source"],
    ]);
    expect(issues.every((i) => i.hint)).toBe(true);
    expect(issues[1]?.hint).toBe('did you mean "password_file"?');
    expect(issues[1]?.col).toBe(17);
  });

  test("refuses inline secrets and never echoes them", () => {
    const issues = issuesOf(`version: 1
repositories:
  r: { url: "rest:http://u:TOPSECRET@h/x", password: ALSOSECRET }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`);
    const text = JSON.stringify(issues);
    expect(text).toContain("url_file");
    expect(text).toContain("password_file");
    expect(text).not.toContain("TOPSECRET");
    expect(text).not.toContain("ALSOSECRET");
  });

  test("an unset variable in a path is an error naming it", () => {
    const issues = issuesOf(`version: 1
sources:
  a: { paths: ["$NOPE/x"] }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`);
    expect(issues[0]?.message).toContain("$NOPE");
    expect(issues[0]?.line).toBe(3);
  });

  test("non-secret env names like AWS_ACCESS_KEY_ID are allowed inline", () => {
    const config = parseConfigText(
      `version: 1
env: { AWS_ACCESS_KEY_ID: AKIA123, RESTIC_COMPRESSION: max }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`,
      FILE,
      {},
    );
    expect(config.env.AWS_ACCESS_KEY_ID).toBe("AKIA123");
  });
});

describe("findConfigFile", () => {
  test("follows config.md's search order", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hf-find-"));
    try {
      const xdg = path.join(dir, "xdg");
      fs.mkdirSync(path.join(xdg, "holdfast"), { recursive: true });
      fs.writeFileSync(path.join(xdg, "holdfast", "holdfast.yaml"), "");
      const env = { XDG_CONFIG_HOME: xdg, HOME: dir };
      expect(findConfigFile({ cwd: dir, env })).toBe(path.join(xdg, "holdfast", "holdfast.yaml"));
      fs.writeFileSync(path.join(dir, "holdfast.yaml"), "");
      expect(findConfigFile({ cwd: dir, env })).toBe(path.join(dir, "holdfast.yaml"));
      expect(findConfigFile({ cwd: dir, env: { ...env, HOLDFAST_CONFIG: "/x/env.yaml" } })).toBe(
        "/x/env.yaml",
      );
      expect(findConfigFile({ cwd: dir, env, configPath: "flag.yaml" })).toBe(path.join(dir, "flag.yaml"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("configJsonSchema", () => {
  test("describes every step type and notifier", () => {
    const text = JSON.stringify(configJsonSchema());
    for (const type of ["exec", "backup", "copy", "forget", "check", "mirror", "git", "manifest", "verify"]) {
      expect(text).toContain(`"const":"${type}"`);
    }
    for (const type of ["healthchecks", "webhook", "ntfy", "email", "command"])
      expect(text).toContain(`"const":"${type}"`);
  });
});

describe("repository url", () => {
  test("a local repository path resolves like any path; a backend URL stays as written", () => {
    const config = parseConfigText(
      `version: 1
repositories:
  local: { url: "~/backups/restic", password_file: ./pw }
  rel: { url: repo, password_file: ./pw }
  rest: { url: "rest:http://127.0.0.1:8000/x", password_file: ./pw }
  s3: { url: "s3:https://s3.example/bucket/$NOT_EXPANDED", password_file: ./pw }
jobs:
  j: { steps: [{ name: s, type: exec, command: [true] }] }
`,
      "/srv/conf/holdfast.yaml",
      { HOME: "/home/u" },
    );
    expect(config.repositories.local?.url).toBe("/home/u/backups/restic");
    expect(config.repositories.rel?.url).toBe("/srv/conf/repo");
    expect(config.repositories.rest?.url).toBe("rest:http://127.0.0.1:8000/x");
    expect(config.repositories.s3?.url).toBe("s3:https://s3.example/bucket/$NOT_EXPANDED");
  });
});
