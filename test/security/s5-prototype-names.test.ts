// S5: a name typed on the command line or sent to the API is looked up among the config's own jobs,
// repositories and sources only — `constructor`, `toString`, `__proto__` are Object's, not the
// config's: an unknown name (exit 2 / 404 / 400), never a crash (`holdfast run constructor` was an
// internal error) nor restic run with no repository (`holdfast restic toString -- snapshots`).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { serve } from "../server/serve-helper.js";

const NAMES = ["constructor", "toString", "__proto__", "hasOwnProperty"];
let dir: string;
let config: string;
beforeAll(() => {
  dir = makeSharedDir("holdfast-s5proto-");
  fs.writeFileSync(path.join(dir, "pw"), "pw\n", { mode: 0o600 });
  config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
repositories: { local: { url: ${dir}/repo, password_file: ${dir}/pw } }
sources: { s: { paths: [${dir}] } }
jobs: { j: { steps: [{ name: x, type: exec, command: ["true"] }] } }
`,
  );
});
afterAll(() => removeDir(dir));

describe("S5: Object's own names are not the config's", () => {
  it("on the command line: unknown, exit 2, no crash, no restic", async () => {
    for (const name of NAMES) {
      for (const args of [
        ["run", name],
        ["restic", name, "--", "snapshots"],
        ["snapshots", name],
        ["snapshots", "--source", name],
        ["restore", "local", "--source", name, "--target", path.join(dir, "t")],
        ["history", name],
      ]) {
        const r = await runCli(["--config", config, ...args]);
        expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(2);
        expect(r.stderr).not.toMatch(/internal error|Please specify repository location/);
      }
    }
  });

  it("in the API: 404 / 400, never a restic without a repository", async () => {
    const s = await serve(config, "127.0.0.1:0");
    const post = (p: string, body?: unknown) =>
      fetch(`${s.base}${p}`, {
        method: "POST",
        headers: { "X-Holdfast-Request": "1", "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    for (const name of NAMES.filter((n) => n !== "__proto__")) {
      expect((await post(`/api/jobs/${name}/run`)).status, `run ${name}`).toBe(404);
      expect((await fetch(`${s.base}/api/repositories/${name}/snapshots`)).status, `repo ${name}`).toBe(404);
      expect((await post("/api/downloads", { repo: name, snapshot: "latest", path: "/" })).status).toBe(400);
      expect((await post("/api/restore", { repo: "local", source: name, paths: [] })).status).toBe(400);
      expect((await fetch(`${s.base}/api/snapshots?repo=${name}`)).status, `snapshots ${name}`).toBe(400);
    }
    s.child.kill("SIGTERM");
    await s.done;
  });
});
