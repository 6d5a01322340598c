import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Config, RepositoryConfig } from "../config/types.js";
import {
  joinPasswordCommand,
  repositoryAccess,
  RepositoryConfigError,
  selectorEnv,
  splitLikeRestic,
} from "./repository.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function repo(fields: Partial<RepositoryConfig>): RepositoryConfig {
  return { name: "r", offsite: false, ...fields };
}

function config(restic: Partial<Config["restic"]> = {}): Config {
  return {
    state_dir: "/var/lib/holdfast-test",
    restic: { binary: "restic", nice: 10, ionice: "idle", progress_fps: 2, ...restic },
  } as Config;
}

describe("joinPasswordCommand (restic splits RESTIC_PASSWORD_COMMAND itself)", () => {
  const cases: string[][] = [
    ["pass", "show", "backup/nas"],
    ["sh", "-c", 'printf %s "$0"', "pass word"],
    ["/opt/My Tools/get-pw", "--name=it's mine"],
    ["echo", "tab\there", "new\nline", "back\\slash in the middle"],
    ["x", "'single'", '"double"'],
  ];
  for (const argv of cases) {
    it(`round-trips ${JSON.stringify(argv)}`, () => {
      expect(splitLikeRestic(joinPasswordCommand(argv))).toEqual(argv);
    });
  }

  it("refuses what restic's splitter cannot express, with a hint", () => {
    for (const bad of [
      ["cmd", ""],
      ["cmd", `both ' and "`],
      ["cmd", "ends\\"],
    ]) {
      expect(() => joinPasswordCommand(bad, "nas")).toThrow(RepositoryConfigError);
    }
    try {
      joinPasswordCommand(["cmd", ""], "nas");
    } catch (err) {
      expect((err as RepositoryConfigError).hint).toMatch(/script/);
      expect((err as Error).message).toContain('repository "nas"');
    }
  });
});

describe("repositoryAccess", () => {
  it("puts the URL and the password file in the environment, never in argv", () => {
    const access = repositoryAccess(
      config(),
      repo({
        url: "/srv/restic",
        password_file: "/etc/holdfast/pw",
        cacert: "/etc/ca.pem",
        options: { "sftp.command": "ssh -p 2222 host" },
        limit_upload: 500,
      }),
      {
        PATH: "/usr/bin",
        HOME: "/root",
        RESTIC_PASSWORD: "leaked-from-env-file",
        RESTIC_REPOSITORY_FILE: "/other",
      },
    );
    expect(access.env).toMatchObject({
      PATH: "/usr/bin",
      RESTIC_REPOSITORY: "/srv/restic",
      RESTIC_PASSWORD_FILE: "/etc/holdfast/pw",
      RESTIC_CACHE_DIR: "/var/lib/holdfast-test/restic-cache",
      RESTIC_PROGRESS_FPS: "2",
    });
    // A selector inherited from the step's env layers never reaches another repository's restic.
    expect(access.env.RESTIC_PASSWORD).toBeUndefined();
    expect(access.env.RESTIC_REPOSITORY_FILE).toBeUndefined();
    expect(access.globalArgs).toEqual([
      "--cacert",
      "/etc/ca.pem",
      "-o",
      "sftp.command=ssh -p 2222 host",
      "--limit-upload",
      "500",
    ]);
  });

  it("url_file and password_command become RESTIC_REPOSITORY_FILE and RESTIC_PASSWORD_COMMAND", () => {
    const access = repositoryAccess(
      config({ cache_dir: "/cache" }),
      repo({ url_file: "/s/url", password_command: ["pass", "show", "x y"] }),
      {},
    );
    expect(access.env.RESTIC_REPOSITORY_FILE).toBe("/s/url");
    expect(access.env.RESTIC_REPOSITORY).toBeUndefined();
    // Under coreutils timeout, with the repository's limit (default 30 s): see password-command.ts.
    expect(splitLikeRestic(access.env.RESTIC_PASSWORD_COMMAND ?? "")).toEqual([
      "/usr/bin/timeout",
      "-k",
      "5s",
      "30s",
      "pass",
      "show",
      "x y",
    ]);
    expect(access.env.RESTIC_CACHE_DIR).toBe("/cache");
    expect(access.location).toBe("url_file /s/url");
  });

  it("loads the repository's env_file and env map; a missing env_file is a config error with a hint", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-repo-"));
    dirs.push(dir);
    const envFile = path.join(dir, "b2.env");
    fs.writeFileSync(envFile, "AWS_ACCESS_KEY_ID=id\nAWS_SECRET_ACCESS_KEY='se cret'\n");
    const access = repositoryAccess(
      config(),
      repo({
        url: "s3:https://x/b",
        password_file: "/p",
        env_file: envFile,
        env: { AWS_DEFAULT_REGION: "eu" },
      }),
      {},
    );
    expect(access.env).toMatchObject({
      AWS_ACCESS_KEY_ID: "id",
      AWS_SECRET_ACCESS_KEY: "se cret",
      AWS_DEFAULT_REGION: "eu",
    });
    expect(() =>
      repositoryAccess(
        config(),
        repo({ url: "/x", password_file: "/p", env_file: path.join(dir, "missing.env") }),
        {},
      ),
    ).toThrow(RepositoryConfigError);
  });

  it("selectorEnv with the FROM_ prefix names copy's source repository", () => {
    expect(selectorEnv(repo({ url: "/a", password_file: "/pa" }), "FROM_")).toEqual({
      RESTIC_FROM_REPOSITORY: "/a",
      RESTIC_FROM_PASSWORD_FILE: "/pa",
    });
  });
});
