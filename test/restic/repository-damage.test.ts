// A damaged repository is a failure of kind `repository_damaged` with a hint to run a check, never a
// warning about an unreadable "/" or a network retry (issue 12 item 15). The damage is real: a local
// repository made by restic, then its index files or its biggest data pack deleted. Runs with the
// suite's restic (0.14, and 0.18 in the second pass): 0.14 says nothing but an empty error on "/",
// 0.18 says "tree … is not known; the repository could be damaged".
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import { makeSharedDir, removeDir, resticInit, writePassword } from "../helpers/restic-backends.js";

let root: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-damage-");
});
afterAll(() => removeDir(root));

function setup(name: string): { cfg: TestConfig; repo: string; src: string } {
  const dir = path.join(root, name);
  const src = path.join(dir, "src");
  fs.mkdirSync(src, { recursive: true });
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), Buffer.alloc(40_000, i));
  const repo = path.join(dir, "repo");
  const passwordFile = writePassword(path.join(dir, "pw"), "damage-pw");
  resticInit({ repo, passwordFile });
  const cfg = writeTestConfig(dir, {
    repositories: { r: { url: repo, password_file: passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      backup: { steps: [{ name: "b", type: "backup", source: "s", repos: ["r"] }] },
      // restic 0.14 retries each blob of a missing pack for ~45 s: the drill's own timeout stops it,
      // and what restic said before is still damage, not a timeout.
      drill: {
        steps: [{ name: "v", type: "verify", source: "s", repos: ["r"], sample: "100%", timeout: "25s" }],
      },
      check: { steps: [{ name: "c", type: "check", repos: ["r"], timeout: "25s" }] },
    },
  });
  return { cfg, repo, src };
}

/** Deletes restic's cache too, so restic sees what is in the repository, not what it remembers. */
function dropCache(cfg: TestConfig): void {
  fs.rmSync(path.join(cfg.stateDir, "restic-cache"), { recursive: true, force: true });
}

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe("a damaged repository", () => {
  it("index deleted: the next backup fails with repository_damaged (not a `partial` warning on /)", async () => {
    const { cfg, repo } = setup("index");
    expectExit(await cfg.run(["run", "backup"]), 0);
    for (const f of files(path.join(repo, "index"))) fs.rmSync(f);
    dropCache(cfg);
    const result = await cfg.run(["run", "backup", "--json"]);
    expectExit(result, 1);
    const step = parseJson(result).steps[0];
    expect(step.status).toBe("failed");
    const error = step.targets[0].error;
    expect(error.kind).toBe("repository_damaged");
    expect(error.message).toMatch(/^repository r is damaged/);
    expect(error.hint).toMatch(/check/);
  });

  it("a data pack deleted: the restore drill and the check step fail with repository_damaged", async () => {
    const { cfg, repo } = setup("pack");
    expectExit(await cfg.run(["run", "backup"]), 0);
    const packs = files(path.join(repo, "data")).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    fs.rmSync(packs[0]!);
    dropCache(cfg);
    const drill = await cfg.run(["run", "drill", "--json"]);
    expectExit(drill, 1);
    const v = parseJson(drill).steps[0];
    expect(v.status, JSON.stringify(v)).toBe("failed");
    expect(v.targets[0].error.kind).toBe("repository_damaged");

    const check = await cfg.run(["run", "check", "--json"]);
    expectExit(check, 1);
    const c = parseJson(check).steps[0];
    const error = c.error?.kind === "repository_damaged" ? c.error : c.targets?.[0]?.error;
    expect(error.kind, JSON.stringify(c)).toBe("repository_damaged");
  }, 120_000);
});
