// `$VAR` and `~` are expanded first; only then is a value judged a URL, a remote or a path, and only
// then are inline credentials looked for (issue 12 item 3). `url: $REPO_URL` holding
// `rest:http://user:pass@…` became a local directory named after the credentials, and `init` and the
// backups went there. Through the built CLI, with a real REST server and real restic.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { ISSUE_LINE } from "../helpers/config-corpus.js";
import { expectExit, writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticSnapshots,
  startRestServer,
  writePassword,
  type RestServer,
} from "../helpers/restic-backends.js";

let root: string;
let rest: RestServer;
let src: string;
let pw: string;

beforeAll(async () => {
  root = makeSharedDir("holdfast-expand-");
  rest = await startRestServer(root);
  src = path.join(root, "src");
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, "a.txt"), "a\n");
  pw = writePassword(path.join(root, "pw"), "expand-pw");
});
afterAll(async () => {
  await rest.stop();
  removeDir(root);
});

function repoConfig(dir: string, url: string) {
  fs.mkdirSync(dir, { recursive: true });
  return writeTestConfig(dir, {
    repositories: { remote: { url, password_file: pw } },
    sources: { src: { paths: [src] } },
    jobs: { j: { steps: [{ name: "b", type: "backup", source: "src", repos: ["remote"] }] } },
  });
}

/** Every entry below dir, relative — to show that nothing local was created for a remote URL. */
function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

describe("url: $VAR is expanded before it is judged", () => {
  it("a REST URL from $REPO_URL is a REST repository: init and backup go to the server", async () => {
    const dir = path.join(root, "rest-ok");
    const cfg = repoConfig(dir, "$REPO_URL");
    const env = { REPO_URL: `${rest.base}expanded` };
    expectExit(await cfg.run(["config", "validate"], { env }), 0);
    expectExit(await cfg.run(["init"], { env }), 0);
    const result = await cfg.run(["run", "--json"], { env });
    expectExit(result, 0);
    const run = parseJson(result);
    expect(run.steps[0].targets[0]).toMatchObject({ repo: "remote", status: "succeeded" });
    // The snapshot is on the server…
    const snapshots = resticSnapshots({ repo: `${rest.base}expanded`, passwordFile: pw });
    expect(snapshots).toHaveLength(1);
    expect(fs.existsSync(path.join(rest.dataDir, "expanded", "config"))).toBe(true);
    // …and nothing beside the config looks like a repository named after the URL.
    expect(listing(dir).filter((p) => /rest:|http|expanded/.test(p))).toEqual([]);
  });

  it("inline credentials that arrive through $REPO_URL are refused like literal ones, without echoing them", async () => {
    const dir = path.join(root, "rest-creds");
    const cfg = repoConfig(dir, "${REPO_URL}");
    const env = { REPO_URL: "rest:http://alice:s3cr3t-pw@127.0.0.1:1/repo" };
    for (const args of [["config", "validate"], ["run"], ["init"]]) {
      const result = await cfg.run(args, { env });
      expectExit(result, 2);
      const line = result.stderr.split("\n").find((l) => l.includes("repositories.remote.url"));
      expect(line, result.stderr).toMatch(ISSUE_LINE);
      expect(line).toMatch(/credentials inline \(after expanding \$\{REPO_URL\}\)/);
      expect(line).toMatch(/url_file/);
      expect(result.stderr + result.stdout).not.toContain("s3cr3t-pw");
    }
    expect(listing(dir).filter((p) => /rest:|alice|s3cr3t/.test(p))).toEqual([]);
  });

  it("a value that expands to an unknown scheme is refused, a local: URL is a path", async () => {
    const bad = repoConfig(path.join(root, "scheme-bad"), "$REPO_URL");
    const result = await bad.run(["config", "validate"], { env: { REPO_URL: "rset:http://127.0.0.1:1/x" } });
    expectExit(result, 2);
    expect(result.stderr).toMatch(/"rset:" is not a restic backend \(\$REPO_URL expands to it\)/);

    const dir = path.join(root, "scheme-local");
    const local = repoConfig(dir, "local:$REPO_DIR");
    const env = { REPO_DIR: "./repo-here" };
    expectExit(await local.run(["init"], { env }), 0);
    // Relative to the config file, like every other path.
    expect(fs.existsSync(path.join(dir, "repo-here", "config"))).toBe(true);
  });
});

describe("mirror from/to: $VAR is expanded before remote or local is decided", () => {
  it("from: $SRC holding host:path is a remote; to: $DST/ keeps its trailing slash", async () => {
    const dir = path.join(root, "mirror");
    fs.mkdirSync(dir, { recursive: true });
    const cfg = writeTestConfig(dir, {
      jobs: {
        j: { steps: [{ name: "m", type: "mirror", from: "$SRC", to: "$DST/", delete: false }] },
      },
    });
    const env = { SRC: "backup@nas.example:/srv/data/", DST: path.join(dir, "out") };
    const result = await cfg.run(["run", "--dry-run"], { env });
    expectExit(result, 0);
    expect(result.stdout).toContain("-- backup@nas.example:/srv/data/ ");
    expect(result.stdout).toContain(`${path.join(dir, "out")}/`);
    expect(result.stdout).not.toContain(path.join(dir, "backup@nas.example:"));
  });
});
