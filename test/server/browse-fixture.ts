// A real restic repository for the browse/restore/download tests: a source three levels deep with
// names that have spaces and commas, binary content, and a directory of 10,000 files; two backups
// (sources `data` and `other`). Made with restic itself (the version of this test pass).
import fs from "node:fs";
import path from "node:path";
import { loadConfigFile } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { createServerResticHost } from "../../src/server/restic-host.js";
import { cliResticEnv } from "../../src/cli/commands/restic-shared.js";
import {
  makeSharedDir,
  restic,
  resticInit,
  resticSnapshots,
  writePassword,
} from "../helpers/restic-backends.js";
import { writeConfig } from "../helpers/tmp.js";

export const BIG_DIR_FILES = 10_000;

export interface BrowseFixture {
  dir: string;
  src: string;
  other: string;
  config: Config;
  configFile: string;
  restoreRoot: string;
  password: string;
  /** Full ids: the data snapshot and the other one. */
  dataId: string;
  otherId: string;
  resticHost: ReturnType<typeof createServerResticHost>;
}

export function makeBrowseFixture(): BrowseFixture {
  // Shared by the tests of a file (a per-test temp dir would go after the first test): removeDir it.
  const dir = makeSharedDir("holdfast-browse-");
  const src = path.join(dir, "data");
  const deep = path.join(src, "level 1", "level, 2", "level 3");
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, "deep file.txt"), "three levels down\n");
  fs.writeFileSync(path.join(src, "a.txt"), "hello restore\n");
  fs.writeFileSync(path.join(src, "b, with comma.txt"), "comma in the name\n");
  const binary = Buffer.alloc(300_000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919) % 251;
  fs.writeFileSync(path.join(src, "level 1", "blob.bin"), binary);
  const folder = path.join(src, "folder with spaces, and comma");
  fs.mkdirSync(path.join(folder, "inner"), { recursive: true });
  fs.writeFileSync(path.join(folder, "x.txt"), "x content\n");
  fs.writeFileSync(path.join(folder, "inner", "y.txt"), "y content\n");
  const big = path.join(src, "big");
  fs.mkdirSync(big);
  for (let i = 0; i < BIG_DIR_FILES; i++)
    fs.writeFileSync(path.join(big, `f${String(i).padStart(5, "0")}`), "");
  const other = path.join(dir, "other");
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, "o.txt"), "other source\n");

  const password = "browse-pw-5d1e0c9a";
  const target = {
    repo: path.join(dir, "repo"),
    passwordFile: writePassword(path.join(dir, "secrets", "repo.pass"), password),
  };
  resticInit(target);
  for (const [source, p] of [
    ["data", src],
    ["other", other],
  ] as const) {
    const r = restic(target, ["backup", "-q", "--tag", `holdfast,source:${source},job:nightly`, p]);
    if (r.code !== 0) throw new Error(`restic backup failed: ${r.stderr}`);
  }
  const snaps = resticSnapshots(target);
  const dataId = snaps.find((s) => s.tags?.includes("source:data"))?.id ?? "";
  const otherId = snaps.find((s) => s.tags?.includes("source:other"))?.id ?? "";
  const restoreRoot = path.join(dir, "restores");
  const configFile = writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
host: browsehost
repositories:
  local: { url: ${target.repo}, password_file: ${target.passwordFile} }
sources:
  data: { paths: [${src}] }
  other: { paths: [${other}] }
jobs:
  nightly:
    steps:
      - { name: data, type: backup, source: data, repos: [local] }
server:
  restore_root: ${restoreRoot}
`,
  );
  const config = loadConfigFile(configFile);
  return {
    dir,
    src,
    other,
    config,
    configFile,
    restoreRoot,
    password,
    dataId,
    otherId,
    resticHost: createServerResticHost(config, cliResticEnv(config)),
  };
}
