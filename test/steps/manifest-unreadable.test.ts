// The manifest when part of the tree cannot be read (issue 12 item 14). Root reads everything, so the
// built CLI runs as a non-root user (created with useradd, see test/helpers/users.ts) on a tree that
// user owns, with one of its 8 directories chmod 000 (12.5 % of the files) or one file chmod 000 while
// hashing. What must hold: unreadable is not removed (nor changed), the step warns with the count, and
// a walk with unreadable parts never replaces the good baseline — the next full walk compares with it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureUser, runCliAs, type TestUser } from "../helpers/users.js";

let user: TestUser;
let root: string;

beforeAll(() => {
  user = ensureUser("holdfast-mtest");
  root = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-manifest-unreadable-"));
  fs.chmodSync(root, 0o755);
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function chownTree(p: string): void {
  fs.chownSync(p, user.uid, user.gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e));
}

function setup(name: string, hash: boolean) {
  const dir = path.join(root, name);
  const data = path.join(dir, "data");
  for (let d = 0; d < 8; d++) {
    fs.mkdirSync(path.join(data, `d${d}`), { recursive: true });
    for (let f = 0; f < 10; f++)
      fs.writeFileSync(path.join(data, `d${d}`, `f${f}.txt`), `content ${d}/${f}\n`);
  }
  const output = path.join(dir, "manifests");
  const config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${JSON.stringify(path.join(dir, "state"))}
host: testhost
jobs:
  j:
    steps:
      - name: m
        type: manifest
        paths: [${JSON.stringify(data)}]
        output: ${JSON.stringify(output)}
        max_removed: 5%
${hash ? "        hash: sha256\n" : ""}`,
  );
  chownTree(dir);
  const run = async () => {
    const result = await runCliAs(user, ["--config", config, "run", "--json"], {
      HOME: dir,
      XDG_CACHE_HOME: path.join(dir, "cache"),
    });
    try {
      return { code: result.code, step: JSON.parse(result.stdout).steps[0], stderr: result.stderr };
    } catch {
      throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
    }
  };
  const latest = () => fs.readFileSync(path.join(output, "latest"), "utf8").trim();
  return { data, output, run, latest };
}

describe("manifest with unreadable parts (run as a non-root user)", () => {
  it("a directory it cannot open: unreadable, not removed; the good baseline stays", async () => {
    const t = setup("dir", false);
    const first = await t.run();
    expect(first.code).toBe(0);
    const baseline = t.latest();

    fs.chmodSync(path.join(t.data, "d3"), 0o000);
    const second = await t.run();
    expect(second.code).toBe(3);
    expect(second.step.status).toBe("warning");
    expect(second.step.error.kind).toBe("partial");
    expect(second.step.error.message).toMatch(/1 entries could not be read: .*d3 .*baseline stays/);
    expect(second.step.summary).toMatchObject({
      unreadable: 1,
      files_removed: 0,
      files_unreadable: 10,
      promoted: false,
    });
    expect(t.latest()).toBe(baseline);
    // The new manifest is kept beside the baseline, and says what it could not read.
    const kept = zlib.gunzipSync(fs.readFileSync(second.step.summary.manifest)).toString().split("\n")[0];
    expect(kept).toContain('"unreadable":1');

    // Readable again: compared with the good baseline, nothing was lost; this one becomes the baseline.
    fs.chmodSync(path.join(t.data, "d3"), 0o755);
    const third = await t.run();
    expect(third.code).toBe(0);
    expect(third.step.summary).toMatchObject({
      files_removed: 0,
      files_added: 0,
      previous: path.join(t.output, baseline),
    });
    expect(t.latest()).not.toBe(baseline);
  }, 120_000);

  it("a file it cannot hash is unreadable, not changed", async () => {
    const t = setup("file", true);
    expect((await t.run()).code).toBe(0);
    const baseline = t.latest();
    fs.chmodSync(path.join(t.data, "d5", "f1.txt"), 0o000);
    const second = await t.run();
    expect(second.code).toBe(3);
    expect(second.step.summary).toMatchObject({
      files_changed: 0,
      files_removed: 0,
      files_unreadable: 1,
      promoted: false,
    });
    expect(t.latest()).toBe(baseline);
  }, 120_000);

  it("a first manifest with unreadable parts is still the baseline (there is no better one), and a warning", async () => {
    const t = setup("first", false);
    fs.chmodSync(path.join(t.data, "d0"), 0o000);
    const first = await t.run();
    expect(first.code).toBe(3);
    expect(first.step.summary).toMatchObject({ unreadable: 1, promoted: true });
    fs.chmodSync(path.join(t.data, "d0"), 0o755);
  }, 120_000);
});
