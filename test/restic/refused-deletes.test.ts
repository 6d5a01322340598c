// forget on a server that refuses deletes (an append-only REST server: 403 on every delete).
// restic 0.18.0 prints `unable to remove snapshot/…` and exits 0 with the snapshot listed as
// removed; 0.14 retries for ~45 s and exits 1 without JSON. Either way the step is `failed`, kind
// `permission`, and its counts are the repository's truth: what restic itself lists afterwards.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
  type RestServer,
} from "../helpers/restic-backends.js";
import { resticUnderTest } from "../helpers/restic-version.js";

let root: string;
let server: RestServer;
let cfg: TestConfig;
let target: { repo: string; passwordFile: string };

beforeAll(async () => {
  root = makeSharedDir("holdfast-refused-");
  server = await startRestServer(root, { appendOnly: true });
  target = { repo: `${server.base}repo`, passwordFile: writePassword(path.join(root, "pw"), "ao-pw") };
  resticInit(target);
  const src = path.join(root, "src");
  fs.mkdirSync(src);
  cfg = writeTestConfig(root, {
    repositories: { ao: { url: target.repo, password_file: target.passwordFile } },
    sources: { s: { paths: [src] } },
    jobs: {
      backup: { steps: [{ name: "b", type: "backup", source: "s", repos: ["ao"] }] },
      retention: { steps: [{ name: "thin", type: "forget", repos: ["ao"], keep: { last: 1 } }] },
    },
  });
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(src, `f${i}.txt`), `file ${i}\n`);
    expectExit(await cfg.run(["run", "backup", "-q"]), 0);
  }
}, 120_000);

afterAll(async () => {
  await server.stop();
  removeDir(root);
});

describe("forget on an append-only REST server", () => {
  it("is failed, kind permission, and counts what restic still lists", { timeout: 180_000 }, async () => {
    expect(resticSnapshots(target)).toHaveLength(3);
    const result = await cfg.run(["run", "retention", "--json"]);
    expectExit(result, 1);
    const step = parseJson(result).steps[0];
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("permission");
    expect(step.error.message).toMatch(/403/);
    expect(step.error.hint).toMatch(/append-only/);
    const [t] = step.targets;
    expect(t).toMatchObject({ repo: "ao", status: "failed" });
    const listed = resticSnapshots(target).length;
    expect(listed).toBe(3);
    expect(t.snapshots_kept).toBe(listed);
    // 0.18.0 printed its plan (2 to remove, both refused); 0.14 printed none, so nothing is claimed.
    if (resticUnderTest.refusedDelete.printsJson) {
      expect(t).toMatchObject({ snapshots_removed: 0, snapshots_refused: 2 });
    } else expect(t.snapshots_removed).toBeNull();
    expect(step.summary.snapshots_removed).toBe(0);
  });
});
