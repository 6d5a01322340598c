// The dashboard's restic paths end to end with real restic on a local repository: snapshots listed by
// GET /api/snapshots, the redundancy matrix fed by a real backup, and POST /api/restore restoring files
// into the restore root through the `restore` command — and refusing to restore anywhere else.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { resticInit, writePassword } from "../helpers/restic-backends.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";
import { json, serve, waitFor } from "./serve-helper.js";

const hasRestic = spawnSync("restic", ["version"], { encoding: "utf8" }).status === 0;
const POST = { method: "POST", headers: { "X-Holdfast-Request": "1", "Content-Type": "application/json" } };

describe.skipIf(!hasRestic)("serve with real restic", () => {
  it("lists snapshots, shows them in the matrix, and restores only inside the restore root", async () => {
    const dir = makeTempDir("holdfast-server-restic-");
    const src = path.join(dir, "data");
    fs.mkdirSync(path.join(src, "sub"), { recursive: true });
    fs.writeFileSync(path.join(src, "a.txt"), "hello restore\n");
    fs.writeFileSync(path.join(src, "sub", "b.txt"), "second file\n");
    const repo = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "secrets", "repo.pass"), "e2e-pw-7f3a9c"),
    };
    resticInit(repo);
    const restoreRoot = path.join(dir, "restores");
    const configFile = writeConfig(
      dir,
      `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${repo.repo}, password_file: ${repo.passwordFile} }
sources:
  data: { paths: [${src}] }
jobs:
  nightly:
    steps:
      - { name: data, type: backup, source: data, repos: [local] }
server:
  restore_root: ${restoreRoot}
`,
    );
    const run = await runCli(["--config", configFile, "run", "nightly"]);
    expect(run.code, run.stderr).toBe(0);

    const s = await serve(configFile, "127.0.0.1:0");
    const listed = await json(await fetch(`${s.base}/api/snapshots?repo=local`));
    expect(listed.repositories).toHaveLength(1);
    const [snap] = listed.repositories[0].snapshots;
    expect(listed.repositories[0].error).toBeNull();
    expect(snap).toMatchObject({ source: "data", job: "nightly", holdfast: true, paths: [src] });

    const matrix = await json(await fetch(`${s.base}/api/redundancy`));
    expect(matrix.sources[0].cells[0]).toMatchObject({ repo: "local", via: "backup", stale: false });
    expect(snap.id.startsWith(matrix.sources[0].cells[0].snapshot_id.slice(0, 8))).toBe(true);

    // Escapes are refused before restic is asked.
    for (const target of ["../outside", "/tmp", `${restoreRoot}/../x`]) {
      const res = await fetch(`${s.base}/api/restore`, {
        ...POST,
        body: JSON.stringify({ repo: "local", target }),
      });
      expect(res.status, target).toBe(400);
    }
    expect(fs.existsSync(path.join(dir, "outside"))).toBe(false);

    const res = await fetch(`${s.base}/api/restore`, {
      ...POST,
      body: JSON.stringify({ repo: "local", snapshot: snap.short_id, target: "r1" }),
    });
    // A small restore ends within the wait: the answer is its result (a long one: 202 and its id).
    expect([200, 202]).toContain(res.status);
    let started = await json(res);
    expect(started.summary.target).toBe(path.join(fs.realpathSync(restoreRoot), "r1"));
    started = await waitFor(
      "the restore to end",
      async () => {
        const op = await json(await fetch(`${s.base}${started.status_url}`));
        return op.state === "running" ? null : op;
      },
      60_000,
    );
    expect(started).toMatchObject({ state: "succeeded", summary: { kind: "restore", who: "loopback" } });
    expect(started.summary.files_restored).toBeGreaterThanOrEqual(2);
    const restored = path.join(restoreRoot, "r1", src);
    expect(fs.readFileSync(path.join(restored, "a.txt"), "utf8")).toBe("hello restore\n");
    expect(fs.readFileSync(path.join(restored, "sub", "b.txt"), "utf8")).toBe("second file\n");
    // Recorded in the history like a run.
    const history = await json(await fetch(`${s.base}/api/runs?job=@restore`));
    expect(history.runs[0]).toMatchObject({
      id: started.id,
      job: "@restore",
      trigger: "api",
      status: "succeeded",
    });

    // A target that exists already is refused: the server restores only into a directory it makes.
    const again = await fetch(`${s.base}/api/restore`, {
      ...POST,
      body: JSON.stringify({ repo: "local", target: "r1" }),
    });
    expect(again.status).toBe(409);
    expect((await json(again)).error.message).toContain("exists already");

    // The whole answer never shows the repository password.
    expect(JSON.stringify(listed) + JSON.stringify(matrix) + JSON.stringify(started)).not.toContain(
      "e2e-pw-7f3a9c",
    );
  });
});
