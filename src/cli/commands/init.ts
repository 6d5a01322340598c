// holdfast init [--dir DIR] [--yes]: a starter config for a first backup, with a generated repository
// password (0600, in a 0700 secrets directory) and `restic init` of every repository that does not
// exist yet. Idempotent: with an existing config it only creates what is missing (repositories and
// the password files of repositories that do not exist yet), and never overwrites a file.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import type { Config, RepositoryConfig } from "../../config/types.js";
import { defaultStateDir, findConfigFile, loadConfigFile } from "../../config/load.js";
import { UsageError, type StepError } from "../../errors.js";
import type { DataFlow } from "../../engine/step-kind.js";
import { dataFlowOf } from "../../registry.js";
import { init } from "../../restic/commands.js";
import { detectRestic } from "../../restic/detect.js";
import type { GlobalOptions } from "../context.js";
import { color, printJson } from "../output.js";
import { createCliRestic, describeError, jsonError, signalExitCode } from "./restic-shared.js";

interface InitFlags {
  dir?: string;
  yes?: boolean;
  json?: boolean;
}

interface RepoResult {
  name: string;
  status: "created" | "exists" | "failed";
  password_file_created: boolean;
  error: StepError | null;
}

function defaultConfigDir(env: NodeJS.ProcessEnv): string {
  if (process.getuid?.() === 0) return "/etc/holdfast";
  const xdg = env.XDG_CONFIG_HOME || path.join(env.HOME ?? os.homedir(), ".config");
  return path.join(xdg, "holdfast");
}

export default async function initCommand(global: GlobalOptions, flags: InitFlags): Promise<number> {
  const env = process.env;
  const say = (line: string) => {
    if (!flags.json) process.stdout.write(`${line}\n`);
  };
  let configFile: string;
  if (global.config) configFile = path.resolve(global.config);
  else if (flags.dir) configFile = path.join(path.resolve(flags.dir), "holdfast.yaml");
  else configFile = findConfigFile({}) ?? path.join(defaultConfigDir(env), "holdfast.yaml");

  let createdConfig = false;
  const secretsCreated: string[] = [];
  if (!fs.existsSync(configFile)) {
    const dir = path.dirname(configFile);
    const answers = await ask(flags, env);
    const secretsDir = path.join(dir, "secrets");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(secretsDir, 0o700);
    const passwordFile = path.join(secretsDir, "local.pass");
    if (writeNewPassword(passwordFile)) secretsCreated.push(passwordFile);
    fs.writeFileSync(configFile, starterConfig({ ...answers, passwordFile }), { mode: 0o600, flag: "wx" });
    createdConfig = true;
    say(`${color.green("wrote")} ${configFile}`);
    if (secretsCreated.length > 0)
      say(
        `${color.green("generated")} ${passwordFile} (mode 0600) — keep a copy somewhere safe: without it the backups cannot be read`,
      );
  } else {
    say(`using the existing config ${configFile}`);
  }

  const config = loadConfigFile(configFile, env);
  const cli = createCliRestic(config);
  try {
    const restic = await detectRestic(config, cli.host.env);
    if (restic.error) throw new UsageError(restic.error.message, restic.error.hint);
    const results: RepoResult[] = [];
    for (const repo of orderForCopies(config)) {
      const result = await initRepository(config, repo, cli, say);
      if (result.password_file_created && repo.password_file) secretsCreated.push(repo.password_file);
      results.push(result);
    }
    const cancelled = signalExitCode(cli.host);
    if (cancelled !== null) return cancelled;
    const failedAny = results.some((r) => r.status === "failed");
    if (flags.json) {
      printJson({
        config: configFile,
        config_created: createdConfig,
        secrets_created: [...new Set(secretsCreated)],
        repositories: results.map((r) => ({ ...r, error: jsonError(r.error, cli.redactor) })),
      });
    } else {
      const nextConfig = isOnSearchPath(configFile) ? "" : ` --config ${configFile}`;
      say("");
      say(failedAny ? color.red("some repositories could not be created (see above)") : "next steps:");
      if (!failedAny) {
        say(`  holdfast${nextConfig} config show        # what the config says, with defaults`);
        say(`  holdfast${nextConfig} run                # the first backup`);
        say(`  holdfast${nextConfig} status             # how it went`);
        say(`  holdfast${nextConfig} schedule install   # run it every night`);
      }
    }
    return failedAny ? 1 : 0;
  } finally {
    cli.dispose();
  }
}

/** Copy targets last, so their source exists and lends them its chunker parameters. */
function orderForCopies(config: Config): RepositoryConfig[] {
  const targets = new Set<string>();
  for (const flow of copyFlows(config)) for (const t of flow.repos) targets.add(t);
  const all = Object.values(config.repositories);
  return [...all.filter((r) => !targets.has(r.name)), ...all.filter((r) => targets.has(r.name))];
}

function copySourceOf(config: Config, name: string): RepositoryConfig | undefined {
  for (const flow of copyFlows(config)) {
    if (flow.from !== undefined && flow.repos.includes(name)) return config.repositories[flow.from];
  }
  return undefined;
}

/** Every step that copies snapshots from one repository into others, in config order. */
function copyFlows(config: Config): DataFlow[] {
  return Object.values(config.jobs)
    .flatMap((job) => job.steps.map(dataFlowOf))
    .filter((flow): flow is DataFlow => flow?.how === "copy");
}

async function initRepository(
  config: Config,
  repo: RepositoryConfig,
  cli: ReturnType<typeof createCliRestic>,
  say: (line: string) => void,
): Promise<RepoResult> {
  let generated = false;
  if (repo.password_file && !fs.existsSync(repo.password_file)) {
    // Only a repository that does not exist yet may get a new password; restic reads the password
    // before it looks at the repository, so write it, try, and take it back if the repository exists.
    fs.mkdirSync(path.dirname(repo.password_file), { recursive: true, mode: 0o700 });
    generated = writeNewPassword(repo.password_file);
  }
  if (repo.url && isLocalPath(repo.url))
    fs.mkdirSync(path.dirname(path.resolve(repo.url)), { recursive: true, mode: 0o700 });
  const from = copySourceOf(config, repo.name);
  const result = await init(cli.host, repo, from ? { copyChunkerParamsFrom: from } : {});
  if (result.created) {
    say(
      `${color.green("created")} repository ${repo.name} (${repo.url ?? `url_file ${repo.url_file ?? ""}`})${from ? ` with the chunker parameters of ${from.name}` : ""}`,
    );
    return { name: repo.name, status: "created", password_file_created: generated, error: null };
  }
  if (result.exists) {
    if (generated && repo.password_file) {
      fs.rmSync(repo.password_file, { force: true });
      const error: StepError = {
        kind: "wrong_password",
        message: `repository ${repo.name} exists, but its password file ${repo.password_file} is missing`,
        hint: "put the repository's password back into that file (mode 0600); a new password cannot open an existing repository",
      };
      say(`${color.red("error")}: ${describeError(error, cli.redactor)}`);
      return { name: repo.name, status: "failed", password_file_created: false, error };
    }
    say(`${color.dim("exists")}  repository ${repo.name}`);
    return { name: repo.name, status: "exists", password_file_created: false, error: null };
  }
  if (generated && repo.password_file) fs.rmSync(repo.password_file, { force: true });
  const error = result.outcome.error ?? {
    kind: "exit_code" as const,
    message: "restic init failed",
    hint: null,
  };
  say(`${color.red("failed")}  repository ${repo.name}: ${describeError(error, cli.redactor)}`);
  return { name: repo.name, status: "failed", password_file_created: false, error };
}

function isLocalPath(url: string): boolean {
  return url.startsWith("/") || !/^[a-z][a-z0-9]*:/i.test(url);
}

/** 32 random bytes, base64url, mode 0600; never overwrites. Returns false when the file exists. */
function writeNewPassword(file: string): boolean {
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

function isOnSearchPath(file: string): boolean {
  return findConfigFile({}) === file;
}

interface Answers {
  paths: string[];
  repository: string;
}

async function ask(flags: InitFlags, env: NodeJS.ProcessEnv): Promise<Answers> {
  const home = env.HOME ?? os.homedir();
  const defaults: Answers = {
    paths: [home],
    repository: path.join(defaultStateDir(env), "repos", "local"),
  };
  if (flags.yes || flags.json || !process.stdin.isTTY || !process.stdout.isTTY) return defaults;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const paths = (
      await rl.question(`What should be backed up? (paths, space-separated) [${defaults.paths.join(" ")}] `)
    ).trim();
    const repository = (
      await rl.question(`Where should the local restic repository live? [${defaults.repository}] `)
    ).trim();
    const chosen = paths
      ? paths.split(/\s+/).map((p) => path.resolve(p.replace(/^~(?=\/|$)/, home)))
      : defaults.paths;
    for (const p of chosen)
      if (!fs.existsSync(p))
        process.stdout.write(
          `${color.yellow("note")}: ${p} does not exist (yet); the backup's guard will stop until it does\n`,
        );
    return {
      paths: chosen,
      repository: repository ? path.resolve(repository.replace(/^~(?=\/|$)/, home)) : defaults.repository,
    };
  } finally {
    rl.close();
  }
}

function yamlString(value: string): string {
  return JSON.stringify(value);
}

function starterConfig(a: Answers & { passwordFile: string }): string {
  const home = process.env.HOME ?? os.homedir();
  const excludes = a.paths.some((p) => p === home) ? [path.join(home, ".cache"), "**/node_modules"] : [];
  return `# holdfast config, written by \`holdfast init\` — see docs/config.md for every option.
# Check it with \`holdfast config validate\`; see the effective config with \`holdfast config show\`.
version: 1

repositories:
  local:
    url: ${yamlString(a.repository)}
    password_file: ${yamlString(a.passwordFile)}   # generated, mode 0600: keep a copy elsewhere
  # An offsite copy (counts for 3-2-1), e.g. Backblaze B2 through its S3 API:
  # offsite:
  #   url: s3:https://s3.us-west-004.backblazeb2.com/BUCKET/restic
  #   password_file: ${yamlString(path.join(path.dirname(a.passwordFile), "offsite.pass"))}
  #   env_file: ${yamlString(path.join(path.dirname(a.passwordFile), "offsite.env"))}   # AWS_ACCESS_KEY_ID=…, AWS_SECRET_ACCESS_KEY=…
  #   offsite: true

sources:
  main:
    paths:
${a.paths.map((p) => `      - ${yamlString(p)}`).join("\n")}
    exclude: [${excludes.map(yamlString).join(", ")}]
    exclude_if_present: [.nobackup]
    guard:
      min_files: 1        # an empty source makes no snapshot
      max_shrink: 50%     # nor does one that lost half its files since the last snapshot

jobs:
  backup:
    schedule: "*-*-* 03:00:00"
    max_age: 26h
    steps:
      - { name: local, type: backup, source: main, repos: [local] }
      - name: retention
        type: forget
        repos: [local]
        keep: { last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 2 }
        prune: true
      - { name: integrity, type: check, repos: [local], read_data_subset: 2%, on_failure: continue }
`;
}
