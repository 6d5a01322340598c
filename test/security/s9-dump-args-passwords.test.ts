// S9 for dump steps: a database password written into dump_args (--password=…, MariaDB's -pSECRET, a
// connection URL with user:password@, a conninfo password=…) would be on pg_dump's / mariadb-dump's
// command line, in the plan and in the logs. It is refused when the config loads — exit 2, the
// place of each, a hint to password_file: — and the value is never echoed.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { SecretScanner } from "./scan.js";

const SECRETS = {
  mariaLong: "maria-long-flag-secret-01",
  mariaShort: "maria-short-flag-secret-02",
  pgUrl: "pg-url-password-secret-03",
  pgConninfo: "pg-conninfo-secret-04",
};

let dir: string;
let config: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-s9dump-");
  fs.writeFileSync(path.join(dir, "pw"), "x\n", { mode: 0o600 });
  config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${dir}/repo, password_file: ${dir}/pw }
jobs:
  dbs:
    steps:
      - name: maria
        type: dump
        engine: mariadb
        databases: [crm]
        dump_args: [--quick, "--password=${SECRETS.mariaLong}", "-p${SECRETS.mariaShort}"]
        repos: [local]
      - name: pg
        type: dump
        engine: postgresql
        databases: [shop]
        dump_args: ["--dbname=postgresql://app:${SECRETS.pgUrl}@127.0.0.1/shop", "-d", "host=127.0.0.1 password=${SECRETS.pgConninfo}", -p, "5432", --exclude-table=password_resets]
        repos: [local]
`,
  );
});
afterAll(() => removeDir(dir));

describe("S9: a password in a dump step's dump_args", () => {
  it("is refused at load with the place of each, never the value", async () => {
    const scanner = new SecretScanner(SECRETS);
    for (const args of [
      ["config", "validate"],
      ["config", "validate", "--json"],
      ["run", "dbs", "--dry-run"],
    ]) {
      const r = await runCli(["--config", config, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(2);
      scanner.scan(`${args.join(" ")}: stdout`, r.stdout);
      scanner.scan(`${args.join(" ")}: stderr`, r.stderr);
      if (args.length === 2) {
        for (const p of [
          "steps[0].dump_args[1]",
          "steps[0].dump_args[2]",
          "steps[1].dump_args[0]",
          "steps[1].dump_args[2]",
        ])
          expect(r.stderr).toContain(p);
        // Not a password: pg_dump's -p is the port, password_resets a table name.
        for (const p of [
          "steps[0].dump_args[0]",
          "steps[1].dump_args[1]",
          "steps[1].dump_args[3]",
          "steps[1].dump_args[5]",
        ])
          expect(r.stderr).not.toContain(`${p} `);
        expect(r.stderr).toContain("password_file");
      }
    }
    expect(scanner.hits).toEqual([]);
  });
});
