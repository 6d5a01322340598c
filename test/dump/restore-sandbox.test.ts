// A tampered MariaDB SQL dump in the repository: a real dump step's snapshot, then a planted newer
// snapshot with the same tags, host and file name holding a `\! touch FILE` client command. restore
// --database loads it with `mariadb --sandbox`, so the command is refused (the restore fails) and
// FILE is never created (before, the client ran it as the restoring user).
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { startMariadb, type MariadbServer } from "../helpers/mariadb.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  writePassword,
  type DirectRestic,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { writeConfig } from "../helpers/tmp.js";

let dir: string;
let config: string;
let maria: MariadbServer;
let local: DirectRestic;

const cli = (args: string[]) => runCli(["--config", config, ...args], { timeoutMs: 120_000 });

beforeAll(async () => {
  dir = makeSharedDir("holdfast-sandbox-");
  maria = await startMariadb();
  local = { repo: path.join(dir, "repo"), passwordFile: writePassword(path.join(dir, "pw"), "lp") };
  resticInit(local);
  writePassword(path.join(dir, "maria-pass"), maria.password);
  await maria.sql("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY);");
  config = writeConfig(
    dir,
    `version: 1
state_dir: ${path.join(dir, "state")}
repositories:
  local: { url: ${local.repo}, password_file: ${local.passwordFile} }
jobs:
  dbs:
    steps:
      - name: maria
        type: dump
        engine: mariadb
        socket: ${maria.socket}
        user: ${maria.user}
        password_file: ${path.join(dir, "maria-pass")}
        databases: [shop]
        repos: [local]
`,
  );
  const run = await cli(["run", "dbs", "--json"]);
  expect(run.code, run.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await maria?.stop();
  if (dir) removeDir(dir);
});

describe(`restore --database of a tampered MariaDB dump (${resticUnderTest.label})`, () => {
  it("a planted `\\! touch FILE` is refused by mariadb --sandbox: FILE is not created, the restore fails", async () => {
    const real = resticSnapshots(local).find((s) => s.tags?.includes("db:shop"));
    expect(real).toBeDefined();
    const ls = spawnSync(
      "restic",
      ["-r", local.repo, "--password-file", local.passwordFile, "ls", "--json", real!.id],
      {
        encoding: "utf8",
        env: { ...process.env, RESTIC_CACHE_DIR: path.join(os.tmpdir(), "holdfast-test-restic-cache") },
      },
    );
    const file = ls.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { type?: string; path?: string })
      .find((n) => n.type === "file")?.path;
    expect(file).toBeDefined();

    const pwned = path.join(dir, "pwned");
    const evil = `CREATE TABLE planted (i INT);\n\\! touch ${pwned}\nINSERT INTO planted VALUES (1);\n`;
    const plant = spawnSync(
      "restic",
      [
        "-r",
        local.repo,
        "--password-file",
        local.passwordFile,
        "backup",
        "--stdin",
        "--stdin-filename",
        file!.replace(/^\//, ""),
        "--host",
        real!.hostname,
        ...real!.tags!.flatMap((t) => ["--tag", t]),
      ],
      {
        input: evil,
        encoding: "utf8",
        env: { ...process.env, RESTIC_CACHE_DIR: path.join(os.tmpdir(), "holdfast-test-restic-cache") },
      },
    );
    expect(plant.status, plant.stderr).toBe(0);

    const out = await cli([
      "restore",
      "--database",
      "shop",
      "local",
      "--source",
      "maria",
      "--to-database",
      "shop_planted",
    ]);
    expect(fs.existsSync(pwned)).toBe(false);
    expect(out.code, out.stdout + out.stderr).not.toBe(0);
    expect(out.stderr).toMatch(/mariadb failed .*sandbox/i);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
