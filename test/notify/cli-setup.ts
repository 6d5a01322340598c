// A config with every HTTP notifier pointed at receivers on 127.0.0.1, a command notifier that
// records what it gets, planted secrets (S1), and exec steps that succeed, warn and fail.
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { makeTempDir } from "../helpers/tmp.js";
import { runCli, parseJson, type CliResult } from "../helpers/cli.js";
import { startReceiver, type Receiver } from "./receiver.js";

export interface Secrets {
  hcUrl: string;
  hookSecret: string;
  ntfyToken: string;
  repoPassword: string;
}

export interface NotifyWorld {
  dir: string;
  config: string;
  hc: Receiver;
  hook: Receiver;
  ntfy: Receiver;
  secrets: Secrets;
  cmdOut: string;
  /** Every CLI output so far, for the S1 sweep. */
  outputs: string[];
  cli(args: string[]): Promise<CliResult>;
  show(runId: string): Promise<any>;
  close(): Promise<void>;
}

export interface WorldOptions {
  hookMode?: Receiver["mode"];
  ntfyMode?: Receiver["mode"];
  timeout?: string;
  maxAge?: string;
  extraNotifications?: string;
  extraNotify?: string[];
}

export async function createNotifyWorld(options: WorldOptions = {}): Promise<NotifyWorld> {
  const dir = makeTempDir("holdfast-notify-");
  const [hc, hook, ntfy] = await Promise.all([
    startReceiver(),
    startReceiver(options.hookMode),
    startReceiver(options.ntfyMode),
  ]);
  const tag = randomUUID().slice(0, 8);
  const secrets: Secrets = {
    hcUrl: `${hc.url}/ping/HCSECRET-${tag}-ping-uuid`,
    hookSecret: `HOOKSECRET-${tag}-hmac-key`,
    ntfyToken: `NTFYTOKEN-${tag}-tk_access`,
    repoPassword: `REPOPASS-${tag}-correct-horse`,
  };
  const write = (name: string, content: string, mode = 0o600) => {
    fs.writeFileSync(path.join(dir, name), content, { mode });
    return path.join(dir, name);
  };
  write("hc.url", `${secrets.hcUrl}\n`);
  write("hook.secret", `${secrets.hookSecret}\n`);
  write("ntfy.token", `${secrets.ntfyToken}\n`);
  write("repo.pass", `${secrets.repoPassword}\n`);
  const cmdOut = path.join(dir, "cmd-out");
  fs.mkdirSync(cmdOut);
  write(
    "notify.sh",
    [
      "#!/bin/sh",
      'n="$(date +%s%N)-$$"',
      'env | grep "^HOLDFAST_" | sort > "$1/$HOLDFAST_EVENT-$n.env"',
      'cat > "$1/$HOLDFAST_EVENT-$n.json"',
      "",
    ].join("\n"),
    0o700,
  );
  const timeout = options.timeout ?? "10s";
  const notify = ["hc", "hook", "ntfy", "cmd", ...(options.extraNotify ?? [])].join(", ");
  const config = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(
    config,
    `version: 1
state_dir: ${dir}/state
repositories:
  local: { url: ${dir}/repo, password_file: ${dir}/repo.pass }
jobs:
  ok-job:
    ${options.maxAge ? `max_age: ${options.maxAge}` : ""}
    notify: [${notify}]
    steps:
      - { name: hello, type: exec, shell: "echo hello; cat ${dir}/repo.pass; cat ${dir}/hc.url; cat ${dir}/ntfy.token" }
  warn-job:
    notify: [${notify}]
    steps:
      - { name: partial, type: exec, shell: "echo some files were unreadable >&2; exit 3", warning_codes: [3] }
  fail-job:
    notify: [${notify}]
    steps:
      - { name: boom, type: exec, shell: "test -f ${dir}/fixed && exit 0; echo it broke >&2; cat ${dir}/repo.pass >&2; cat ${dir}/hook.secret >&2; exit 7" }
      - { name: after, type: exec, command: [echo, after] }
notifications:
  hc: { type: healthchecks, url_file: ${dir}/hc.url, timeout: ${timeout} }
  hook:
    type: webhook
    url: ${hook.url}/hook
    secret_file: ${dir}/hook.secret
    headers: { X-Team: backups }
    events: [start, success, warning, failure, stale, recovered]
    timeout: ${timeout}
  ntfy: { type: ntfy, url: "${ntfy.url}/holdfast-topic", token_file: ${dir}/ntfy.token, events: [success, warning, failure, stale, recovered], timeout: ${timeout} }
  cmd: { type: command, command: [${dir}/notify.sh, ${cmdOut}], events: [warning, failure, stale, recovered], timeout: ${timeout} }
${options.extraNotifications ?? ""}
metrics:
  textfile: ${dir}/textfile/holdfast.prom
`,
  );
  const outputs: string[] = [];
  const cli = async (args: string[]) => {
    const result = await runCli(["--config", config, ...args], { timeoutMs: 60_000 });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  return {
    dir,
    config,
    hc,
    hook,
    ntfy,
    secrets,
    cmdOut,
    outputs,
    cli,
    async show(runId: string) {
      return parseJson(await cli(["show", runId, "--json"]));
    },
    async close() {
      await Promise.all([hc.close(), hook.close(), ntfy.close()]);
    },
  };
}

/** The command notifier's recorded calls: { event, env, json } in the order they ran. */
export function readCommandCalls(
  cmdOut: string,
): Array<{ event: string; env: Record<string, string>; json: any; raw: string }> {
  const files = fs.readdirSync(cmdOut).filter((f) => f.endsWith(".env"));
  return files
    .map((f) => {
      const base = f.slice(0, -4);
      const envText = fs.readFileSync(path.join(cmdOut, f), "utf8");
      const jsonText = fs.readFileSync(path.join(cmdOut, `${base}.json`), "utf8");
      const env = Object.fromEntries(
        envText
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      return {
        event: env.HOLDFAST_EVENT ?? "",
        env,
        json: JSON.parse(jsonText),
        raw: envText + jsonText,
        order: base.split("-")[1] ?? "",
      };
    })
    .sort((a, b) => (a.order < b.order ? -1 : 1));
}
