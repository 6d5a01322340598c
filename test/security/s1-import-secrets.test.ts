// S1 for `holdfast import`: secrets written inline in an autorestic or resticprofile config (a key, a
// REST URL's password — one with an unencoded "@", which Go's URL parser and restic accept —, a
// rest.password, secret-named env values) appear in none of what the import writes or prints: the
// new config file (its comments and report included), stdout with -o -, stderr, --json.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { SecretScanner } from "./scan.js";

const SECRETS = {
  // The whole password of alice's URL is "pre@" + this: what follows the first "@" is password too.
  urlPasswordTail: "Tail-secret-1a2b3c4d",
  autoresticKey: "autorestic-key-secret-0001",
  b2Key: "b2-account-key-secret-0002",
  restPassword: "rest-password-secret-0003",
  profileUrlPassword: "rp-url-password-secret-0004",
  profileEnvPassword: "rp-env-password-secret-0005",
  profileAws: "rp-aws-secret-access-0006",
};

let dir: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-s1imp-");
  fs.writeFileSync(
    path.join(dir, ".autorestic.yml"),
    `version: 2
backends:
  remote:
    type: rest
    path: https://alice:pre@${SECRETS.urlPasswordTail}@127.0.0.1:8000/repo
    key: ${SECRETS.autoresticKey}
    env:
      B2_ACCOUNT_KEY: ${SECRETS.b2Key}
  cred:
    type: rest
    path: https://127.0.0.1:8000/other
    key: ${SECRETS.autoresticKey}
    rest: { user: bob, password: ${SECRETS.restPassword} }
locations:
  home:
    from: /home
    to: [remote, cred]
`,
  );
  fs.writeFileSync(
    path.join(dir, "profiles.yaml"),
    `version: "1"
default:
  repository: "rest:https://carol:${SECRETS.profileUrlPassword}@127.0.0.1:8000/x"
  env:
    RESTIC_PASSWORD: ${SECRETS.profileEnvPassword}
    AWS_SECRET_ACCESS_KEY: ${SECRETS.profileAws}
  backup:
    source: [/home]
`,
  );
});
afterAll(() => removeDir(dir));

describe("S1: import never copies a secret of the original", () => {
  it("into the new config, its report, stdout, stderr or --json", async () => {
    const scanner = new SecretScanner(SECRETS);
    for (const [tool, file] of [
      ["autorestic", ".autorestic.yml"],
      ["resticprofile", "profiles.yaml"],
    ] as const) {
      const out = path.join(dir, `${tool}.yaml`);
      const written = await runCli(["import", tool, path.join(dir, file), "-o", out, "--json"]);
      expect(written.code, written.stderr).toBe(0);
      scanner.scan(`${tool} -o FILE --json: stdout`, written.stdout);
      scanner.scan(`${tool} -o FILE --json: stderr`, written.stderr);
      scanner.scan(`${tool}: the written config`, fs.readFileSync(out));
      const report = await runCli(["import", tool, path.join(dir, file), "-o", out, "--force"]);
      expect(report.code, report.stderr).toBe(0);
      scanner.scan(`${tool} -o FILE: stderr`, report.stderr);
      const printed = await runCli(["import", tool, path.join(dir, file), "-o", "-"]);
      expect(printed.code, printed.stderr).toBe(0);
      scanner.scan(`${tool} -o -: stdout`, printed.stdout);
      scanner.scan(`${tool} -o -: stderr`, printed.stderr);
      // The secrets are named, so the user knows what to put where.
      expect(report.stderr).toContain("Secrets to put in place");
    }
    expect(scanner.surfaces).toBe(12);
    expect(scanner.hits).toEqual([]);
  });
});
