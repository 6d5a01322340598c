// S1 for the restic scope: unique planted secrets — a repository password, REST credentials (in a
// url_file), S3-style backend keys (in a repository env_file) — appear nowhere: not in `ps` output
// sampled while restic runs, the step logs, the history DB, `config show`, or any --json output
// (including restic's own error text, which quotes the repository URL with its credentials).
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startCli } from "../helpers/cli.js";
import { writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  hasS3rver,
  startRestServer,
  startS3rver,
  type S3Server,
  writeSampleTree,
  type RestServer,
} from "../helpers/restic-backends.js";

let root: string;
let rest: RestServer;
let s3: S3Server | null = null;
const tag = crypto.randomBytes(6).toString("hex");
const SECRETS = {
  repoPassword: `repoPW-${tag}-x`,
  otherPassword: `otherPW-${tag}-y`,
  restPassword: `restPW-${tag}-z`,
  s3KeyId: `AKIA${tag.toUpperCase()}Q`,
  s3Secret: `s3secret-${tag}-w`,
  // s3rver accepts any secret for its one key id (S3RVER), so this one is really used by restic.
  s3LiveSecret: `s3live-${tag}-v`,
};

beforeAll(async () => {
  root = makeSharedDir("holdfast-secrets-");
  rest = await startRestServer(root, { htpasswd: { user: "bob", password: SECRETS.restPassword } });
  if (hasS3rver()) s3 = await startS3rver(root);
});
afterAll(async () => {
  await Promise.all([rest?.stop(), s3?.stop()]);
  removeDir(root);
});

function findSecrets(text: string, where: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => `${name} in ${where}`);
}

function readAllFiles(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) {
        let data = fs.readFileSync(full);
        if (full.endsWith(".gz")) data = zlib.gunzipSync(data);
        out.push({ file: full, text: data.toString("latin1") });
      }
    }
  };
  walk(dir);
  return out;
}

describe("S1: planted secrets never leak", () => {
  it("not in ps, logs, the history DB, config show or --json output", async () => {
    const dir = path.join(root, "w");
    const secrets = path.join(dir, "secrets");
    fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
    const src = path.join(dir, "src");
    writeSampleTree(src);
    const write = (name: string, text: string) => {
      const file = path.join(secrets, name);
      fs.writeFileSync(file, text, { mode: 0o600 });
      return file;
    };
    const cfg = writeTestConfig(dir, {
      repositories: {
        remote: {
          url_file: write("remote.url", `${rest.base}repo\n`),
          password_file: write("remote.pass", `${SECRETS.repoPassword}\n`),
          env_file: write(
            "remote.env",
            `AWS_ACCESS_KEY_ID=${SECRETS.s3KeyId}\nAWS_SECRET_ACCESS_KEY=${SECRETS.s3Secret}\n`,
          ),
        },
        ...(s3
          ? {
              s3: {
                url: `${s3.base}planted`,
                cacert: s3.cacert,
                password_file: write("s3.pass", `${SECRETS.repoPassword}\n`),
                env_file: write(
                  "s3.env",
                  `AWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=${SECRETS.s3LiveSecret}\n`,
                ),
              },
            }
          : {}),
        // Valid credentials, missing repository: restic's error quotes the URL with them.
        missing: {
          url_file: write("missing.url", `${rest.base}nothing-here\n`),
          password_command: ["cat", write("other.pass", `${SECRETS.otherPassword}\n`)],
        },
      },
      sources: { s: { paths: [src] } },
      jobs: {
        j: {
          steps: [
            { name: "b", type: "backup", source: "s", repos: ["remote"] },
            { name: "f", type: "forget", repos: ["remote"], keep: { last: 2 }, prune: true },
            { name: "c", type: "check", repos: ["remote"] },
            ...(s3 ? [{ name: "s3", type: "backup", source: "s", repos: ["s3"] }] : []),
            { name: "bad", type: "backup", source: "s", repos: ["missing"] },
          ],
        },
      },
    });
    expect(fs.readFileSync(cfg.file, "utf8")).not.toContain(SECRETS.restPassword);

    const outputs: Array<[string, string]> = [];
    // `init` with the same repositories but `missing`, which must stay missing for its step to fail.
    const initCfg = writeTestConfig(
      dir,
      {
        repositories: Object.fromEntries(
          Object.entries(
            JSON.parse(fs.readFileSync(cfg.file, "utf8")).repositories as Record<string, unknown>,
          ).filter(([name]) => name !== "missing"),
        ),
        jobs: { j: { steps: [{ name: "hello", type: "exec", command: ["true"] }] } },
      },
      "init.yaml",
    );
    const init = await initCfg.run(["init", "--json"]);
    outputs.push(["init --json", init.stdout + init.stderr]);
    expect(init.code, init.stdout + init.stderr).toBe(0);

    // Sample the process table while the job runs.
    const child = startCli(["--config", cfg.file, "run", "--json"]);
    const done = collect(child, { timeoutMs: 120_000 });
    let psSamples = 0;
    let sawRestic = false;
    let finished = false;
    void done.then(() => (finished = true));
    const psLeaks: string[] = [];
    while (!finished) {
      const ps = spawnSync("ps", ["-eo", "args", "-ww"], { encoding: "utf8" }).stdout;
      psSamples++;
      if (/\brestic\b.*\b(backup|forget|check)\b/.test(ps)) sawRestic = true;
      psLeaks.push(...findSecrets(ps, "ps"));
      await new Promise((r) => setTimeout(r, 25));
    }
    const run = await done;
    outputs.push(["run --json", run.stdout + run.stderr]);
    expect(run.code).toBe(1); // the `bad` step fails: its repository does not exist
    expect(psSamples).toBeGreaterThan(20);
    expect(sawRestic).toBe(true);
    expect(psLeaks).toEqual([]);
    // The failing step's restic error names the repository; holdfast masks the credentials in it.
    const record = JSON.parse(run.stdout);
    const byName = Object.fromEntries(record.steps.map((st: { name: string }) => [st.name, st]));
    expect(byName.bad.error.kind).toBe("repo_not_found");
    if (s3) expect(byName.s3.status).toBe("succeeded");

    for (const args of [
      ["config", "show"],
      ["config", "show", "--json"],
      ["snapshots", "--json"],
      ["snapshots"],
      ["show", "latest", "--json"],
      ["history", "--json"],
      ["logs", "latest"],
      ["unlock", "--json"],
      ["doctor", "--json"],
      ["run", "--dry-run", "--json"],
    ]) {
      const r = await cfg.run(args);
      outputs.push([args.join(" "), r.stdout + r.stderr]);
    }
    const leaks = outputs.flatMap(([where, text]) => findSecrets(text, where));
    // Everything under the state dir: step logs, the history DB (and its WAL), restic's cache.
    for (const { file, text } of readAllFiles(cfg.stateDir)) {
      if (file.includes("restic-cache")) continue; // restic's own (encrypted) cache
      leaks.push(...findSecrets(text, path.relative(cfg.stateDir, file)));
    }
    expect(leaks).toEqual([]);
    // And the test is not vacuous: the logs hold restic's error about the missing repository.
    const logs = outputs.find(([w]) => w === "logs latest")?.[1] ?? "";
    expect(logs).toMatch(/bob:\*\*\*@127\.0\.0\.1|\*\*\*/);
  });
});
