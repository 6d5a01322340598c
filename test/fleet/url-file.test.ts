// fleet.url_file (and fleet prune --url-file) holding a postgresql:// URL the driver cannot parse (a
// port that is not a number): a config problem naming the file — exit 2, file:line:col of
// fleet.url_file — never an internal error, and never the URL or its password in the output.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";

const PASSWORD = "Planted-Fleet-Pw-7f3a91";
let dir: string;
let config: string;
let urlFile: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-fleet-url-");
  fs.writeFileSync(path.join(dir, "pw"), "pw\n", { mode: 0o600 });
  urlFile = path.join(dir, "fleet.url");
  fs.writeFileSync(urlFile, `postgresql://writer:${PASSWORD}@127.0.0.1:notaport/fleet\n`, { mode: 0o600 });
  config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
repositories: { local: { url: ${dir}/repo, password_file: ${dir}/pw } }
jobs: { j: { steps: [{ name: x, type: exec, command: ["true"] }] } }
fleet: { url_file: ${urlFile}, keep_runs_months: 12 }
`,
  );
});
afterAll(() => removeDir(dir));

describe("fleet: a URL file whose URL does not parse", () => {
  it("is a config problem naming the file (exit 2), never an internal error or the URL", async () => {
    for (const args of [
      ["fleet", "sync", "--timeout", "5s"],
      ["status", "--fleet"],
      ["fleet", "prune", "--dry-run"],
      ["fleet", "prune", "--dry-run", "--url-file", urlFile],
    ]) {
      const r = await runCli(["--config", config, ...args]);
      const out = r.stdout + r.stderr;
      expect(r.code, `${args.join(" ")}: ${out}`).toBe(2);
      expect(out).toContain(`${urlFile} holds a postgresql:// URL that does not parse`);
      expect(out).not.toContain("internal error");
      expect(out).not.toContain(PASSWORD);
    }
    // A socket URL (no host before the path) parses as the driver reads it: the check lets it through.
    fs.writeFileSync(urlFile, `postgresql://writer@/fleet?host=${dir}/no-such-socket-dir\n`, { mode: 0o600 });
    const socket = await runCli(["--config", config, "status", "--fleet"]);
    expect(socket.code, socket.stderr).toBe(1);
    expect(socket.stderr).toContain("unreachable");
  });
});
