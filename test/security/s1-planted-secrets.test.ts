// S1 across every surface at once: one config that uses every secret channel, each with its own
// random string; a real run (exec + backup to a local and a REST repository + forget + check) with
// `ps` sampled every ~50 ms; then every output holdfast makes is searched for every secret, raw,
// URL-encoded and base64: ps, the state dir (logs gunzipped, the history DB and its WAL as bytes),
// generated units, config show, every --json output, logs, notifications received on 127.0.0.1, the
// metrics exposition and textfile, the dashboard API, the config cache and what a command notifier
// is given. S9: every value of every env file (whatever its name: BORG_PASSPHRASE, MYSQL_PWD, a
// plain LABEL) and every inline `env:` value whose name is not on the harmless list is planted too,
// and the exec step prints its whole environment.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startCli } from "../helpers/cli.js";
import { writeTestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  startRestServer,
  writeSampleTree,
  type RestServer,
} from "../helpers/restic-backends.js";
import { startReceiver, type Receiver } from "../notify/receiver.js";
import { serve } from "../server/serve-helper.js";
import { readMaybeGzip, SecretScanner, walkFiles } from "./scan.js";

const hex = () => crypto.randomBytes(8).toString("hex");
// Secrets read from files carry `+` and `/`, so their URL-encoded form differs from the raw one.
const SECRETS = {
  repoPassword: `s1RepoPass-${hex()}+a/b`,
  commandPassword: `s1CmdPass-${hex()}+c/d`,
  restPassword: `s1RestPass${hex()}`,
  awsKeyId: `AKIAS1${hex().toUpperCase()}`,
  awsSecret: `s1AwsSecret-${hex()}+e/f`,
  webhookSecret: `s1Webhook-${hex()}+g/h`,
  healthchecksToken: `s1hc${hex()}`,
  ntfyToken: `tk_s1ntfy${hex()}`,
  smtpPassword: `s1Smtp-${hex()}+i/j`,
  stepToken: `s1StepToken-${hex()}+k/l`,
  serverToken: `s1ServerToken-${hex()}${hex()}`,
  // S9: env files of the config, the job and the step, under names no pattern used to catch.
  borgPassphrase: `s1Borg-${hex()}+m/n`,
  rcloneConfigPass: `s1Rclone-${hex()}+o/p`,
  mysqlPwd: `s1Mysql-${hex()}+q/r`,
  envFileLabel: `s1Label-${hex()}+s/t`,
  repoEnvFileOther: `s1RepoOther-${hex()}+u/v`,
  // S9: inline `env:` values with names off the harmless list, at every level.
  inlineConfigEnv: `s1InlineTop-${hex()}`,
  inlineJobEnv: `s1InlineJob-${hex()}`,
  inlineStepEnv: `s1InlineStep-${hex()}`,
  inlineRepoEnv: `s1InlineRepo-${hex()}`,
  // A webhook's inline Authorization header (it has nowhere else to live).
  webhookHeader: `s1Header-${hex()}${hex()}`,
  // A webhook URL written inline whose path carries the hook's key (Slack, Discord, n8n style).
  webhookPathToken: `s1HookKey${hex()}`,
};

let root: string;
let rest: RestServer;
let hook: Receiver;
let hc: Receiver;
let ntfy: Receiver;
let smtp: SMTPServer;
let smtpPort = 0;
const mails: Array<{ raw: string; password: string }> = [];

beforeAll(async () => {
  root = makeSharedDir("holdfast-s1-");
  rest = await startRestServer(root, { htpasswd: { user: "s1user", password: SECRETS.restPassword } });
  [hook, hc, ntfy] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
  let lastPassword = "";
  smtp = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      lastPassword = auth.password ?? "";
      callback(null, { user: auth.username });
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({ raw: Buffer.concat(chunks).toString("utf8"), password: lastPassword });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await rest?.stop();
  await Promise.all([hook, hc, ntfy].map((r) => r?.close()));
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  removeDir(root);
});

describe("S1: every planted secret, every surface", () => {
  it("appears nowhere", async () => {
    const dir = path.join(root, "w");
    const secretsDir = path.join(dir, "secrets");
    fs.mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    const src = path.join(dir, "src");
    writeSampleTree(src);
    const write = (name: string, text: string, mode = 0o600) => {
      const file = path.join(secretsDir, name);
      fs.writeFileSync(file, text, { mode });
      return file;
    };
    const repoPassFile = write("local.pass", `${SECRETS.repoPassword}\n`);
    const passScript = write("pass.sh", `#!/bin/sh\nprintf '%s\\n' '${SECRETS.commandPassword}'\n`, 0o700);
    const textfile = path.join(dir, "metrics", "holdfast.prom");
    const notifierDump = path.join(dir, "command-notifier.txt");
    // The config cache of the read-only commands, where the test can find it.
    const cacheEnv = { XDG_CACHE_HOME: path.join(dir, "xdg-cache") };
    fs.mkdirSync(path.dirname(textfile));
    // The step tries to leak: its own *_TOKEN, its whole environment and a repository password file,
    // to stdout and stderr.
    const leakScript = [
      "const fs = require('node:fs');",
      "console.log('env=' + JSON.stringify(process.env));",
      "console.error('env on stderr: ' + Object.values(process.env).join(' '));",
      "console.log('token=' + process.env.LEAK_TOKEN);",
      "console.error('token on stderr: ' + process.env.LEAK_TOKEN);",
      `console.log('password=' + fs.readFileSync(${JSON.stringify(repoPassFile)}, 'utf8'));`,
      `console.error(fs.readFileSync(${JSON.stringify(repoPassFile)}, 'utf8'));`,
    ].join("\n");
    const cfg = writeTestConfig(dir, {
      repositories: {
        local: {
          url: path.join(dir, "repo-local"),
          password_file: repoPassFile,
          env_file: write(
            "local.env",
            `AWS_ACCESS_KEY_ID=${SECRETS.awsKeyId}\nAWS_SECRET_ACCESS_KEY=${SECRETS.awsSecret}\nS1_REPO_NOTE=${SECRETS.repoEnvFileOther}\n`,
          ),
          env: { S1_REPO_SETTING: SECRETS.inlineRepoEnv },
        },
        remote: {
          url_file: write("remote.url", `${rest.base}s1repo\n`),
          password_command: [passScript],
        },
      },
      sources: { data: { paths: [src] } },
      env_file: write("config.env", `MYSQL_PWD=${SECRETS.mysqlPwd}\n`),
      env: { DB_HOST: SECRETS.inlineConfigEnv, TZ: "UTC" },
      jobs: {
        nightly: {
          env_file: write("job.env", `RCLONE_CONFIG_PASS='${SECRETS.rcloneConfigPass}'\n`),
          env: { NOTE_TEXT: SECRETS.inlineJobEnv },
          schedule: "*-*-* 03:00:00",
          max_age: "26h",
          notify: ["hook", "hc", "push", "mail", "program"],
          steps: [
            {
              name: "leak",
              type: "exec",
              command: [process.execPath, "-e", leakScript],
              env_file: write(
                "step.env",
                `LEAK_TOKEN=${SECRETS.stepToken}\nexport BORG_PASSPHRASE="${SECRETS.borgPassphrase}"\nLABEL=${SECRETS.envFileLabel}\n`,
              ),
              env: { KEYBOARD_LAYOUT: SECRETS.inlineStepEnv, LC_ALL: "C.UTF-8" },
            },
            { name: "backup", type: "backup", source: "data", repos: ["local", "remote"] },
            { name: "retention", type: "forget", repos: ["local", "remote"], keep: { last: 1 }, prune: true },
            { name: "integrity", type: "check", repos: ["local", "remote"] },
          ],
        },
      },
      notifications: {
        hook: {
          type: "webhook",
          url: `${hook.url}/hook/${SECRETS.webhookPathToken}`,
          secret_file: write("hook.secret", `${SECRETS.webhookSecret}\n`),
          headers: { Authorization: `Bearer ${SECRETS.webhookHeader}` },
          events: ["start", "success", "warning", "failure"],
        },
        hc: {
          type: "healthchecks",
          url_file: write("hc.url", `${hc.url}/ping/${SECRETS.healthchecksToken}\n`),
          events: ["start", "success", "warning", "failure"],
        },
        push: {
          type: "ntfy",
          url: `${ntfy.url}/topic`,
          token_file: write("ntfy.token", `${SECRETS.ntfyToken}\n`),
          events: ["start", "success", "warning", "failure"],
        },
        mail: {
          type: "email",
          smtp: {
            host: "127.0.0.1",
            port: smtpPort,
            starttls: false,
            username: "s1mailer",
            password_file: write("smtp.pass", `${SECRETS.smtpPassword}\n`),
          },
          from: "holdfast@example.org",
          to: ["ops@example.org"],
          events: ["success", "warning", "failure"],
        },
        // What a command notifier is given: its environment, its stdin.
        program: {
          type: "command",
          command: [
            process.execPath,
            "-e",
            `const fs = require('node:fs'); fs.appendFileSync(${JSON.stringify(notifierDump)}, JSON.stringify(process.env) + fs.readFileSync(0, 'utf8') + '\\n');`,
          ],
          events: ["start", "success", "warning", "failure"],
        },
      },
      metrics: { textfile },
      server: { token_file: write("server.token", `${SECRETS.serverToken}\n`) },
    });
    const configText = fs.readFileSync(cfg.file, "utf8");
    // Only the inline ones are written in the config (they must still go nowhere else).
    const inline = [
      "inlineConfigEnv",
      "inlineJobEnv",
      "inlineStepEnv",
      "inlineRepoEnv",
      "webhookHeader",
      "webhookPathToken",
    ];
    for (const [name, secret] of Object.entries(SECRETS))
      if (inline.includes(name)) expect(configText).toContain(secret);
      else expect(configText).not.toContain(secret);

    const scan = new SecretScanner(SECRETS);
    const init = await cfg.run(["init", "--json"]);
    expect(init.code, init.stdout + init.stderr).toBe(0);
    scan.scan("init --json", init.stdout + init.stderr);

    // The run, with the process table sampled every ~50 ms.
    const child = startCli(["--config", cfg.file, "run", "--json"], { cwd: dir, env: cacheEnv });
    const done = collect(child, { timeoutMs: 180_000 });
    let finished = false;
    void done.then(() => (finished = true));
    let psSamples = 0;
    let resticSeen = 0;
    const psHits = new Set<string>();
    while (!finished) {
      const ps = spawnSync("ps", ["-eo", "args", "-ww"], { encoding: "utf8" }).stdout;
      psSamples++;
      if (/\brestic\b/.test(ps)) resticSeen++;
      const before = scan.hits.length;
      scan.scan(`ps sample ${psSamples}`, ps);
      for (const h of scan.hits.splice(before)) psHits.add(h.replace(/sample \d+/, "sample"));
      await new Promise((r) => setTimeout(r, 50));
    }
    scan.hits.push(...psHits);
    const run = await done;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    scan.scan("run --json", run.stdout + run.stderr);
    const record = JSON.parse(run.stdout) as { id: string; steps: Array<{ status: string }> };
    expect(record.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(psSamples).toBeGreaterThan(10);
    expect(resticSeen).toBeGreaterThan(0);

    // The CLI's outputs.
    const unitsRoot = path.join(dir, "units-root");
    const commands = [
      ["config", "show"],
      ["config", "show", "--json"],
      ["status", "--json"],
      ["status"],
      ["history", "--json"],
      ["history"],
      ["show", record.id, "--json"],
      ["show", record.id],
      ["logs", record.id],
      ["snapshots", "--json"],
      ["schedule", "list", "--json"],
      ["schedule", "install", "--root", unitsRoot],
      ["watch", "--json"],
      ["metrics"],
      ["metrics", "--write"],
      ["run", "--dry-run", "--json"],
      ["doctor", "--json"],
    ];
    let logsText = "";
    for (const args of commands) {
      const r = await cfg.run(args, { env: cacheEnv });
      scan.scan(args.join(" "), r.stdout + r.stderr);
      if (args[0] === "logs") logsText = r.stdout;
    }
    // Not vacuous: the step did print, and the log shows the mask where the token was.
    expect(logsText).toContain("token=");
    expect(logsText).toContain("***");
    // The step did get every variable (masked in its log), and harmless ones stay readable.
    expect(logsText).toMatch(/"BORG_PASSPHRASE":"\*\*\*"/);
    expect(logsText).toMatch(/"KEYBOARD_LAYOUT":"\*\*\*"/);
    expect(logsText).toContain('"LC_ALL":"C.UTF-8"');

    // The config cache the read-only commands wrote.
    const cacheFiles = walkFiles(cacheEnv.XDG_CACHE_HOME);
    expect(cacheFiles.length).toBeGreaterThan(0);
    for (const f of cacheFiles) scan.scan(`config cache ${path.basename(f)}`, fs.readFileSync(f));
    // Generated units, the metrics textfile, every file in the state dir.
    const unitFiles = walkFiles(unitsRoot);
    expect(unitFiles.length).toBeGreaterThan(0);
    for (const f of unitFiles) scan.scan(`unit ${path.relative(unitsRoot, f)}`, fs.readFileSync(f));
    scan.scan("metrics textfile", fs.readFileSync(textfile));
    const stateFiles = walkFiles(cfg.stateDir).filter((f) => !f.includes("restic-cache"));
    expect(stateFiles.some((f) => /\.(db|sqlite)(-wal)?$/.test(f))).toBe(true);
    for (const f of stateFiles) scan.scan(`state ${path.relative(cfg.stateDir, f)}`, readMaybeGzip(f));

    // The dashboard: every GET route, with the token (and a few without it).
    const s = await serve(cfg.file, "127.0.0.1:0");
    const auth = { Authorization: `Bearer ${SECRETS.serverToken}` };
    const routes = [
      "/",
      "/healthz",
      "/api/info",
      "/api/status",
      "/api/runs",
      `/api/runs/${record.id}`,
      `/api/runs/${record.id}/logs`,
      "/api/config",
      "/api/snapshots",
      "/api/redundancy",
      "/metrics",
      "/api/nope",
    ];
    for (const route of routes) {
      for (const headers of [auth, {}]) {
        const res = await fetch(`${s.base}${route}`, { headers });
        const body = await res.text();
        scan.scan(`GET ${route}${"Authorization" in headers ? "" : " (no token)"}`, body);
        scan.scan(`GET ${route} headers`, JSON.stringify([...res.headers]));
      }
    }
    const post = await fetch(`${s.base}/api/restore`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ repo: "remote", target: "../../etc" }),
    });
    scan.scan("POST /api/restore", await post.text());
    s.child.kill("SIGTERM");
    const served = await s.done;
    scan.scan("serve output", served.stdout + served.stderr);

    // Notifications, as the receivers got them.
    await hook.waitFor(2);
    await hc.waitFor(2);
    await ntfy.waitFor(2);
    for (const [name, receiver] of [
      ["webhook", hook],
      ["healthchecks", hc],
      ["ntfy", ntfy],
    ] as const) {
      for (const [i, req] of receiver.requests.entries()) {
        const headers = { ...req.headers };
        if (name === "ntfy") {
          expect(headers.authorization).toBe(`Bearer ${SECRETS.ntfyToken}`);
          delete headers.authorization;
        }
        if (name === "webhook") {
          expect(headers.authorization).toBe(`Bearer ${SECRETS.webhookHeader}`);
          delete headers.authorization;
        }
        if (name === "healthchecks") expect(req.url).toContain(`/ping/${SECRETS.healthchecksToken}`);
        else if (name === "webhook") expect(req.url).toBe(`/hook/${SECRETS.webhookPathToken}`);
        else scan.scan(`${name} request ${i} url`, req.url);
        scan.scan(`${name} request ${i} headers`, JSON.stringify(headers));
        scan.scan(`${name} request ${i} body`, req.body);
      }
    }
    const dumped = fs.readFileSync(notifierDump, "utf8");
    expect(dumped).toContain('"HOLDFAST_EVENT":"success"');
    scan.scan("command notifier env and stdin", dumped);
    expect(mails.length).toBeGreaterThan(0);
    for (const [i, mail] of mails.entries()) {
      expect(mail.password).toBe(SECRETS.smtpPassword);
      scan.scan(`email ${i}`, mail.raw);
    }

    console.log(
      `S1: ${Object.keys(SECRETS).length} secrets × ${scan.surfaces} surfaces scanned ` +
        `(${psSamples} ps samples, ${stateFiles.length} state files, ${unitFiles.length} units, ` +
        `${hook.requests.length + hc.requests.length + ntfy.requests.length} HTTP notifications, ${mails.length} mails): ` +
        `${scan.hits.length} hits`,
    );
    expect(scan.hits).toEqual([]);
  });
});

describe("the secret scanner", () => {
  it("finds a secret raw, URL-encoded, JSON-escaped and in base64 at every alignment", () => {
    const secret = `probe-${hex()}+x/"y`;
    for (const text of [
      `a ${secret} b`,
      `u=${encodeURIComponent(secret)}&`,
      JSON.stringify({ v: secret }),
      Buffer.from(`user:${secret}`).toString("base64"),
      Buffer.from(`u:${secret}`).toString("base64"),
      Buffer.from(`${secret}`).toString("base64"),
    ]) {
      const scan = new SecretScanner({ probe: secret });
      scan.scan("probe", text);
      expect(scan.hits, text).toHaveLength(1);
    }
  });
});
