// S9 for rclone repositories: an rclone connection string carries a backend's parameters inline
// (rclone::s3,access_key_id=…,secret_access_key=…:bucket, or a named remote with overrides,
// rclone:remote,pass=…:path). restic hands it to `rclone serve restic --stdio` on rclone's command
// line (ps), and it would be in the plan and the logs. It is refused when the config loads — exit 2,
// file:line:col of url:, a hint to rclone.conf / the env_file — and the value is never echoed.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const SECRET = "rclone-inline-Secret-7f3a";
let dir: string;

beforeAll(() => {
  dir = makeSharedDir("holdfast-s9rclone-");
  fs.writeFileSync(path.join(dir, "pw"), "x\n", { mode: 0o600 });
});
afterAll(() => removeDir(dir));

function configWith(url: string): string {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    `version: 1
state_dir: ${dir}/state
repositories:
  cloud:
    url: "${url}"
    password_file: ${dir}/pw
sources:
  home: { paths: [${dir}] }
jobs:
  j:
    steps:
      - { name: b, type: backup, source: home, repos: [cloud] }
`,
  );
  return file;
}

describe("S9: rclone connection strings with credentials", () => {
  for (const url of [
    `rclone::s3,provider=AWS,access_key_id=AKIA${SECRET},secret_access_key=${SECRET}:bucket/restic`,
    `rclone::s3,secret_access_key=${SECRET}:bucket`,
    `rclone::sftp,host=example.org,pass=${SECRET}:backups`,
    `rclone:myremote,token=${SECRET}:restic`,
    `rclone::b2,account=id,key=${SECRET}:bucket`,
  ])
    it(`refuses ${url.replace(SECRET, "SECRET")}`, async () => {
      const r = await runCli(["--config", configWith(url), "config", "validate"]);
      expect(r.code, r.stderr + r.stdout).toBe(2);
      expect(r.stderr + r.stdout).toMatch(/rclone/);
      expect(r.stderr + r.stdout).toMatch(/\.yaml:5:\d+/);
      expect(r.stderr + r.stdout).toMatch(/rclone\.conf|RCLONE_CONFIG_/);
      expect(r.stderr + r.stdout).not.toContain(SECRET);
    });

  for (const url of [
    "rclone:myremote:restic",
    "rclone::local:/srv/backup",
    "rclone::s3,provider=AWS,env_auth=true:bucket",
  ])
    it(`accepts ${url}`, async () => {
      const r = await runCli(["--config", configWith(url), "config", "validate"]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
    });
});
