// E-mail through a real SMTP server on 127.0.0.1 (smtp-server) with STARTTLS and a certificate made
// for the test; the CA is given to holdfast as smtp.cacert.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

interface Received {
  raw: string;
  secure: boolean;
  user: unknown;
  from: string;
  to: string[];
}

const servers: SMTPServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

let certDir = "";
beforeAll(() => {
  certDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "holdfast-smtp-cert-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "cert.pem",
      "-days",
      "2",
      "-subj",
      "/CN=holdfast test SMTP",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { cwd: certDir, stdio: "ignore" },
  );
  return () => fs.rmSync(certDir, { recursive: true, force: true });
});

const PASSWORD = "SMTPPASS-9c1e-planted-secret";

async function startSmtp(options: { noStartTls?: boolean } = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    key: fs.readFileSync(path.join(certDir, "key.pem")),
    cert: fs.readFileSync(path.join(certDir, "cert.pem")),
    secure: false,
    // Without STARTTLS the server also takes AUTH in clear, so only requireTLS stands in the way.
    ...(options.noStartTls
      ? { hideSTARTTLS: true, disabledCommands: ["STARTTLS"], allowInsecureAuth: true }
      : { allowInsecureAuth: false }),
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === "backups" && auth.password === PASSWORD) callback(null, { user: "backups" });
      else callback(new Error("invalid credentials"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({
          raw: Buffer.concat(chunks).toString("utf8"),
          secure: session.secure,
          user: session.user,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
        });
        callback();
      });
    },
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return { port, received };
}

/** The text part of a simple message: headers cut off, quoted-printable decoded. */
function bodyText(raw: string): string {
  const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  if (!/Content-Transfer-Encoding: quoted-printable/i.test(raw)) return body;
  const bytes: number[] = [];
  const soft = body.replace(/=\r?\n/g, "");
  for (let i = 0; i < soft.length; i++) {
    const ch = soft[i]!;
    if (ch === "=" && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

function setup(port: number, { cacert = true } = {}) {
  const dir = makeTempDir("holdfast-email-");
  fs.writeFileSync(path.join(dir, "smtp.pass"), `${PASSWORD}\n`, { mode: 0o600 });
  const config = writeConfig(
    dir,
    `version: 1
state_dir: ${dir}/state
jobs:
  nightly:
    notify: [mail]
    steps:
      - { name: hello, type: exec, command: [echo, hello] }
      - { name: upload, type: exec, shell: "echo upload failed: network unreachable >&2; exit 4" }
      - { name: cleanup, type: exec, command: [echo, cleanup] }
notifications:
  mail:
    type: email
    timeout: 5s
    smtp:
      host: 127.0.0.1
      port: ${port}
      starttls: true
      username: backups
      password_file: ${dir}/smtp.pass
      ${cacert ? `cacert: ${path.join(certDir, "cert.pem")}` : ""}
    from: holdfast@example.test
    to: [admin@example.test, oncall@example.test]
`,
  );
  return { dir, config };
}

describe("the email notifier", () => {
  it("delivers over STARTTLS, authenticated, with the step table, and records it on the run", async () => {
    const smtp = await startSmtp();
    const { config } = setup(smtp.port);
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    const run = parseJson(result);
    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.secure).toBe(true);
    expect(mail.user).toBe("backups");
    expect(mail.from).toBe("holdfast@example.test");
    expect(mail.to).toEqual(["admin@example.test", "oncall@example.test"]);
    expect(mail.raw).toMatch(/^Subject: \[holdfast\] nightly FAILED on .*: step upload \(exit_code\)/m);
    expect(mail.raw).toMatch(/^X-Holdfast-Event: failure/m);
    const text = bodyText(mail.raw);
    expect(text).toMatch(/STEP\s+TYPE\s+STATUS\s+DURATION\s+DETAILS/);
    expect(text).toMatch(/^hello\s+exec\s+succeeded\s+\S+/m);
    expect(text).toMatch(
      /^upload\s+exec\s+failed\s+\S+\s+exit_code: exit code 4: upload failed: network unreachable/m,
    );
    expect(text).toMatch(/^cleanup\s+exec\s+skipped\s+-/m);
    expect(text).toMatch(/--- log tail ---[\s\S]*upload failed: network unreachable/);
    expect(mail.raw).not.toContain(PASSWORD);

    const shown = parseJson(await runCli(["--config", config, "show", run.id, "--json"]));
    expect(shown.notifications).toMatchObject([
      { notifier: "mail", event: "failure", ok: true, attempts: 1, error: null },
    ]);
  });

  it("refuses a server whose certificate it cannot verify (no cacert); the run's result is unchanged", async () => {
    const smtp = await startSmtp();
    const { config } = setup(smtp.port, { cacert: false });
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    expect(smtp.received).toHaveLength(0);
    const shown = parseJson(await runCli(["--config", config, "show", parseJson(result).id, "--json"]));
    expect(shown.status).toBe("failed");
    expect(shown.notifications).toHaveLength(2);
    expect(shown.notifications[1]).toMatchObject({ ok: false, attempts: 2 });
    expect(shown.notifications[1].error).toMatch(/certificate/i);
  });

  it("does not send in clear text when the server offers no STARTTLS", async () => {
    const smtp = await startSmtp({ noStartTls: true });
    const { config } = setup(smtp.port);
    const result = await runCli(["--config", config, "run", "--json"]);
    expect(result.code).toBe(1);
    expect(smtp.received).toHaveLength(0);
    const shown = parseJson(await runCli(["--config", config, "show", parseJson(result).id, "--json"]));
    expect(shown.notifications.map((n: { ok: boolean }) => n.ok)).toEqual([false, false]);
    expect(shown.notifications[0].error).toMatch(/STARTTLS/i);
  });
});
