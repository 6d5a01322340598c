// A config with planted secrets (S1), a history with synthetic backup/copy records and a real exec
// run, for the server tests. Every secret is a unique string, so a leak anywhere is found by search.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { loadConfigFile } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import type { RunRecord, RunStore, StepPatch, StepRecord } from "../../src/store/types.js";
import { runJob } from "../../src/engine/run-job.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

export interface Fixture {
  dir: string;
  configFile: string;
  config: Config;
  restoreRoot: string;
  /** Secret values that must never appear in any response. */
  secrets: string[];
  token: string | null;
}

const unique = (label: string) => `${label}-${crypto.randomBytes(8).toString("hex")}`;

export function makeFixture(options: { token?: boolean; extraYaml?: string } = {}): Fixture {
  const dir = makeTempDir("holdfast-server-");
  const s = path.join(dir, "secrets");
  fs.mkdirSync(s, { mode: 0o700 });
  const localPass = unique("localpw");
  const cloudPass = unique("cloudpw");
  const urlPassword = unique("urlpw");
  const awsSecret = unique("awssecret");
  const hookSecret = unique("hooksecret");
  const hookToken = unique("hooktoken");
  const token = options.token ? unique("apitoken-0123456789") : null;
  const write = (name: string, content: string) =>
    fs.writeFileSync(path.join(s, name), content, { mode: 0o600 });
  write("local.pass", `${localPass}\n`);
  write("cloud.pass", `${cloudPass}\n`);
  write("cloud.url", `rest:http://backup:${urlPassword}@127.0.0.1:1/cloud\n`);
  write("cloud.env", `AWS_ACCESS_KEY_ID=AKIDEXAMPLE\nAWS_SECRET_ACCESS_KEY=${awsSecret}\n`);
  write("hook.url", `https://hooks.example/${hookToken}\n`);
  write("hook.secret", `${hookSecret}\n`);
  if (token) write("server.token", `${token}\n`);
  for (const d of ["home", "etc", "restores"]) fs.mkdirSync(path.join(dir, d));

  const restoreRoot = path.join(dir, "restores");
  const yaml = `version: 1
state_dir: ${dir}/state
host: testhost
repositories:
  local:
    url: ${dir}/repo-local
    password_file: ${s}/local.pass
  cloud:
    url_file: ${s}/cloud.url
    password_file: ${s}/cloud.pass
    env_file: ${s}/cloud.env
    offsite: true
  nas:
    url: sftp:backup@nas.example:/srv/restic
    password_file: ${s}/local.pass
sources:
  home:
    paths: [${dir}/home]
  etc:
    paths: [${dir}/etc]
jobs:
  nightly:
    max_age: 26h
    schedule: "*-*-* 03:00:00"
    steps:
      - { name: hello, type: exec, command: [echo, hello] }
      - { name: home, type: backup, source: home, repos: [local, cloud] }
      - { name: etc, type: backup, source: etc, repos: [local] }
      - { name: offsite, type: copy, from: local, to: [nas], sources: [etc] }
  quick:
    steps:
      - { name: leak, type: exec, command: [cat, ${s}/local.pass, ${s}/cloud.env] }
      - { name: bye, type: exec, command: [echo, bye] }
  slow:
    steps:
      - { name: nap, type: exec, command: [sleep, "3"] }
notifications:
  hook: { type: webhook, url_file: ${s}/hook.url, secret_file: ${s}/hook.secret, events: [failure] }
server:
  restore_root: ${restoreRoot}
${token ? `  token_file: ${s}/server.token\n` : ""}${options.extraYaml ?? ""}`;
  const configFile = writeConfig(dir, yaml);
  const config = loadConfigFile(configFile);
  return {
    dir,
    configFile,
    config,
    restoreRoot,
    // The hook URL is the credential (its path token alone is not known to be secret).
    secrets: [
      localPass,
      cloudPass,
      urlPassword,
      awsSecret,
      hookSecret,
      `https://hooks.example/${hookToken}`,
      ...(token ? [token] : []),
    ],
    token,
  };
}

export interface StepSpec {
  name: string;
  type: string;
  status: StepRecord["status"];
  offsetMs?: number;
  durationMs?: number;
  patch?: StepPatch;
}

/** Writes a finished run the way the engine would (create → step updates → finish). */
export async function recordRun(
  store: RunStore,
  spec: {
    id: string;
    job: string;
    startedAt: Date;
    status: RunRecord["status"];
    steps: StepSpec[];
    trigger?: RunRecord["trigger"];
  },
): Promise<void> {
  await store.createRun({
    id: spec.id,
    job: spec.job,
    host: "testhost",
    trigger: spec.trigger ?? "schedule",
    pid: process.pid,
    started_at: spec.startedAt.toISOString(),
    steps: spec.steps.map((s) => ({ name: s.name, type: s.type })),
  });
  let end = spec.startedAt.getTime();
  for (const [index, step] of spec.steps.entries()) {
    if (step.status === "skipped") {
      // As the engine records it: never started.
      await store.updateStep(spec.id, index, { status: "skipped" });
      continue;
    }
    const start = spec.startedAt.getTime() + (step.offsetMs ?? index * 1000);
    const duration = step.durationMs ?? 900;
    end = Math.max(end, start + duration);
    await store.updateStep(spec.id, index, {
      status: step.status,
      started_at: new Date(start).toISOString(),
      finished_at: new Date(start + duration).toISOString(),
      duration_ms: duration,
      attempts: 1,
      exit_code: step.status === "succeeded" ? 0 : 1,
      ...step.patch,
    });
  }
  await store.finishRun(spec.id, {
    status: spec.status,
    exit_code: spec.status === "succeeded" ? 0 : 1,
    finished_at: new Date(end).toISOString(),
    duration_ms: end - spec.startedAt.getTime(),
  });
}

export const HOUR = 3_600_000;

/**
 * Two nightly runs with backup targets and a copy (one run carries planted secrets in an error
 * message, a summary and a target figure, as if some step had failed to redact), and one real exec
 * run of `quick` that prints the password files.
 */
export async function seedHistory(
  store: RunStore,
  fx: Fixture,
  now: Date,
): Promise<{ nightly: string[]; quick: string }> {
  const [localPass, , urlPassword, awsSecret] = fx.secrets as [string, string, string, string];
  const older = new Date(now.getTime() - 30 * HOUR);
  const newer = new Date(now.getTime() - 5 * HOUR);
  const target = (repo: string, snapshot: string, added: number) => ({
    repo,
    status: "succeeded" as const,
    duration_ms: 800,
    error: null,
    snapshot_id: snapshot,
    files_new: 3,
    data_added: added,
  });
  await recordRun(store, {
    id: "01JSERVERTEST00000000000001",
    job: "nightly",
    startedAt: older,
    status: "succeeded",
    steps: [
      { name: "hello", type: "exec", status: "succeeded" },
      {
        name: "home",
        type: "backup",
        status: "succeeded",
        patch: { targets: [target("local", "aaaaaaaa11", 1000), target("cloud", "bbbbbbbb11", 1000)] },
      },
      {
        name: "etc",
        type: "backup",
        status: "succeeded",
        patch: { targets: [target("local", "cccccccc11", 10)] },
      },
      {
        name: "offsite",
        type: "copy",
        status: "succeeded",
        patch: { targets: [{ repo: "nas", status: "succeeded", duration_ms: 100, error: null }] },
      },
    ],
  });
  await recordRun(store, {
    id: "01JSERVERTEST00000000000002",
    job: "nightly",
    startedAt: newer,
    status: "failed",
    steps: [
      { name: "hello", type: "exec", status: "succeeded" },
      {
        name: "home",
        type: "backup",
        status: "failed",
        patch: {
          error: {
            kind: "network",
            message: `cannot reach rest:http://backup:${urlPassword}@127.0.0.1:1/cloud`,
            hint: `password was ${localPass}`,
          },
          summary: { note: `AWS_SECRET_ACCESS_KEY=${awsSecret}` },
          targets: [
            target("local", "dddddddd22", 2000),
            {
              repo: "cloud",
              status: "failed",
              duration_ms: 5,
              error: { kind: "network", message: `${awsSecret} refused`, hint: null },
              leaked: localPass,
            },
          ],
        },
      },
      { name: "etc", type: "backup", status: "skipped" },
      { name: "offsite", type: "copy", status: "skipped" },
    ],
  });
  // A log file written without redaction, as an older holdfast might have left it.
  const logDir = path.join(fx.config.state_dir, "logs", "01JSERVERTEST00000000000002");
  fs.mkdirSync(logDir, { recursive: true });
  const rawLog = path.join(logDir, "02-home.log");
  fs.writeFileSync(rawLog, `restic said: wrong password ${localPass}\nsecret key ${awsSecret}\n`);
  await store.updateStep("01JSERVERTEST00000000000002", 1, { log_path: rawLog });

  const quick = await runJob(
    { store, now: () => new Date(now.getTime() - HOUR) },
    { config: fx.config, job: "quick", trigger: "manual" },
  );
  return { nightly: ["01JSERVERTEST00000000000001", "01JSERVERTEST00000000000002"], quick: quick.id };
}
