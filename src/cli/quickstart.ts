// The first `holdfast run` on a fresh machine, with no config file: the embedded job backs up a
// sample folder into a local repository under the state dir. This prepares what that needs, once
// and idempotently, saying what it does: the sample folder (a few files), the repository password
// (32 random bytes, mode 0600, in a 0700 directory) and `restic init` of the repository. Nothing
// here runs for a config file; `holdfast init` is the way to a real config.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/types.js";
import { EMBEDDED_REPOSITORY, quickstartPaths } from "../config/defaults.js";
import { baseEnv } from "../engine/env.js";
import { init } from "../restic/commands.js";
import { resticHostForCli } from "../restic/host.js";

const SAMPLE_FILES: Record<string, string> = {
  "README.txt":
    "This folder was made by holdfast's quickstart. Its job `main` backs it up with restic into\n" +
    "a local repository next to it. Write your own config with `holdfast init`.\n",
  "notes/todo.md":
    "- back up the photos\n- add an offsite repository\n- schedule it: holdfast schedule install\n",
  "notes/ideas.md": "3-2-1: three copies, two media, one offsite.\n",
  "data/numbers.csv": `n,square\n${Array.from({ length: 100 }, (_, i) => `${i},${i * i}`).join("\n")}\n`,
};

/** Prepares the embedded quickstart; returns false (after saying why) when it cannot. */
export async function prepareQuickstart(config: Config, say: (line: string) => void): Promise<boolean> {
  const paths = quickstartPaths(config.state_dir);
  const repo = config.repositories[EMBEDDED_REPOSITORY];
  if (!repo) return true;
  fs.mkdirSync(paths.base, { recursive: true, mode: 0o700 });

  if (!fs.existsSync(paths.sample)) {
    for (const [rel, content] of Object.entries(SAMPLE_FILES)) {
      const file = path.join(paths.sample, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    say(
      `quickstart: created a sample folder to back up: ${paths.sample} (${Object.keys(SAMPLE_FILES).length} files)`,
    );
  }

  if (!fs.existsSync(paths.passwordFile)) {
    fs.mkdirSync(paths.secrets, { recursive: true, mode: 0o700 });
    fs.chmodSync(paths.secrets, 0o700);
    // 32 random bytes; "wx" never overwrites a password that appeared meanwhile.
    fs.writeFileSync(paths.passwordFile, `${randomBytes(32).toString("base64url")}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    say(
      `quickstart: generated the repository password: ${paths.passwordFile} (mode 0600) — keep a copy elsewhere, the backups cannot be read without it`,
    );
  }

  if (!fs.existsSync(path.join(paths.repository, "config"))) {
    say(`quickstart: creating the restic repository ${paths.repository} (restic init)`);
    const host = resticHostForCli(config, {
      env: baseEnv(process.env),
      log: { warn: (m) => say(`quickstart: ${m}`) },
    });
    const result = await init(host, repo);
    if (!result.exists) {
      const error = result.outcome.error;
      say(
        `quickstart: restic init failed: ${error?.message ?? "unknown error"}${error?.hint ? ` (${error.hint})` : ""}`,
      );
      return false;
    }
  }
  return true;
}
