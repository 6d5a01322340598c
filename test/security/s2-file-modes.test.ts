// S2: the modes of every file holdfast creates — after `init --dir`, a run, `schedule install --root`,
// `serve` and `metrics --write` — under a umask of 000, so nothing is left to the umask: files under
// the state dir and the secrets dir are 0600, their directories 0700; the metrics textfile and the
// units are public by design (0644). And `doctor` warns (exit 1, naming file and mode) about every
// kind of secret file that group or others can read.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { serve } from "../server/serve-helper.js";
import { walkFiles } from "./scan.js";

let root: string;
let oldUmask = 0o022;
beforeAll(() => {
  root = makeSharedDir("holdfast-s2-");
  oldUmask = process.umask(0o000);
});
afterAll(() => {
  process.umask(oldUmask);
  removeDir(root);
});

const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;
const octal = (m: number) => `0${m.toString(8)}`;

/** Every dir and file under dir (dir included), with its mode, except the subtrees `skip` names. */
function modes(dir: string, skip: (p: string) => boolean = () => false): Array<[string, number, boolean]> {
  const out: Array<[string, number, boolean]> = [[dir, mode(dir), true]];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (skip(full)) continue;
      out.push([full, mode(full), e.isDirectory()]);
      if (e.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

function expectOk(r: CliResult, what: string) {
  expect(r.code, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
}

describe("S2: file modes", () => {
  it("state, secrets and config are 0600/0700 even under umask 000; textfile and units 0644", async () => {
    expect(process.umask()).toBe(0);
    const dir = path.join(root, "modes");
    fs.mkdirSync(dir, { mode: 0o755 });
    const home = path.join(dir, "home");
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, "notes.txt"), "hello\n");
    const env = {
      HOME: home,
      XDG_STATE_HOME: path.join(dir, "xdg-state"),
      XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
    };
    const cfgDir = path.join(dir, "cfg");
    const init = await runCli(["init", "--yes", "--dir", cfgDir], { cwd: dir, env });
    expectOk(init, "init");
    const configFile = path.join(cfgDir, "holdfast.yaml");
    const textfile = path.join(dir, "prom", "holdfast.prom");
    fs.mkdirSync(path.dirname(textfile), { mode: 0o755 });
    fs.appendFileSync(configFile, `\nmetrics:\n  textfile: ${JSON.stringify(textfile)}\n`);
    const cli = (args: string[]) =>
      runCli(["--config", configFile, ...args], { cwd: dir, env, timeoutMs: 180_000 });

    expectOk(await cli(["run", "--json"]), "run");
    const unitsRoot = path.join(dir, "units");
    expectOk(await cli(["schedule", "install", "--root", unitsRoot]), "schedule install");
    expectOk(await cli(["metrics", "--write"]), "metrics --write");
    const s = await serve(configFile, "127.0.0.1:0");
    expect((await fetch(`${s.base}/api/status`)).status).toBe(200);
    expect((await fetch(`${s.base}/metrics`)).status).toBe(200);
    s.child.kill("SIGTERM");
    await s.done;

    const stateDir = path.join(env.XDG_STATE_HOME, "holdfast");
    const repoDir = path.join(stateDir, "repos", "local");
    expect(fs.existsSync(path.join(repoDir, "config"))).toBe(true);
    // Inside the repository and restic's cache the files are restic's (0400 packs, a 0644 CACHEDIR.TAG):
    // their directories, which holdfast creates, are 0700, so nothing inside is reachable by others.
    const cacheDir = path.join(stateDir, "restic-cache");
    const isRepoInside = (p: string) => p.startsWith(repoDir + path.sep) || p.startsWith(cacheDir + path.sep);
    const bad: string[] = [];
    let checked = 0;
    for (const base of [stateDir, cfgDir]) {
      for (const [p, m, isDir] of modes(base, isRepoInside)) {
        checked++;
        const want = isDir ? 0o700 : 0o600;
        if (m !== want) bad.push(`${p}: ${octal(m)}, want ${octal(want)}`);
      }
    }
    for (const p of walkFiles(repoDir))
      if (mode(p) & 0o077) bad.push(`${p}: ${octal(mode(p))} (restic repo)`);
    expect(bad).toEqual([]);
    if (fs.existsSync(cacheDir)) expect(octal(mode(cacheDir))).toBe("0700");
    expect(octal(mode(repoDir))).toBe("0700");
    expect(checked).toBeGreaterThan(6);
    // The history DB, a run log and the password file are among them.
    const stateFiles = walkFiles(stateDir).filter((p) => !isRepoInside(p));
    expect(stateFiles.some((p) => /\.(db|sqlite)$/.test(p))).toBe(true);
    expect(stateFiles.some((p) => /log/.test(p))).toBe(true);
    expect(mode(path.join(cfgDir, "secrets", "local.pass"))).toBe(0o600);

    // Public by design: the textfile (node_exporter reads it) and the units (systemd reads them).
    expect(octal(mode(textfile))).toBe("0644");
    const units = walkFiles(unitsRoot).filter((u) => /\.(service|timer|conf)$/.test(u));
    expect(units.length).toBeGreaterThan(0);
    for (const u of units) expect(`${path.basename(u)} ${octal(mode(u))}`).toBe(`${path.basename(u)} 0644`);
    // Everything else there (its env file, its record of what it installed) is private.
    for (const f of walkFiles(unitsRoot).filter((u) => !units.includes(u)))
      expect(`${path.basename(f)} ${octal(mode(f))}`).toBe(`${path.basename(f)} 0600`);
    console.log(`S2: ${checked} private paths checked, ${units.length} units and 1 textfile at 0644`);
  });

  it("doctor warns about every group/other-readable secret file, and is quiet once they are 0600", async () => {
    const dir = path.join(root, "doctor");
    const secrets = path.join(dir, "secrets");
    fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
    const src = path.join(dir, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "a"), "a");
    const files = {
      password_file: path.join(secrets, "repo.pass"),
      repo_env_file: path.join(secrets, "repo.env"),
      step_env_file: path.join(secrets, "step.env"),
      secret_file: path.join(secrets, "hook.secret"),
      token_file: path.join(secrets, "server.token"),
      db_password_file: path.join(secrets, "db.pass"),
    };
    const loose: Record<keyof typeof files, number> = {
      password_file: 0o644,
      repo_env_file: 0o640,
      step_env_file: 0o604,
      secret_file: 0o644,
      token_file: 0o640,
      db_password_file: 0o644,
    };
    fs.writeFileSync(files.password_file, "correct horse battery staple\n");
    fs.writeFileSync(files.repo_env_file, "AWS_ACCESS_KEY_ID=x\n");
    fs.writeFileSync(files.step_env_file, "API_TOKEN=y\n");
    fs.writeFileSync(files.secret_file, "hmac-key\n");
    fs.writeFileSync(files.token_file, "0123456789abcdef0123456789abcdef\n");
    fs.writeFileSync(files.db_password_file, "db-password\n");
    const configFile = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        version: 1,
        state_dir: path.join(dir, "state"),
        repositories: {
          local: {
            url: path.join(dir, "repo"),
            password_file: files.password_file,
            env_file: files.repo_env_file,
          },
        },
        sources: { s: { paths: [src] } },
        jobs: {
          j: {
            steps: [
              { name: "e", type: "exec", command: ["true"], env_file: files.step_env_file },
              {
                name: "db",
                type: "dump",
                engine: "postgresql",
                databases: ["shop"],
                password_file: files.db_password_file,
                repos: ["local"],
              },
            ],
            notify: ["hook"],
          },
        },
        notifications: {
          hook: { type: "webhook", url: "http://127.0.0.1:9/", secret_file: files.secret_file },
        },
        server: { token_file: files.token_file },
      }),
    );
    const env = { XDG_STATE_HOME: path.join(dir, "xdg") };
    const doctor = () => runCli(["--config", configFile, "doctor"], { cwd: dir, env, timeoutMs: 60_000 });

    for (const [key, file] of Object.entries(files)) fs.chmodSync(file, loose[key as keyof typeof files]);
    const warned = await doctor();
    expect(warned.code, warned.stdout + warned.stderr).toBe(1);
    const out = warned.stdout + warned.stderr;
    const missing = Object.entries(files)
      .filter(([key, file]) => {
        const line = out.split("\n").find((l) => l.includes(file));
        return !line || !line.includes(octal(loose[key as keyof typeof files]).padStart(4, "0"));
      })
      .map(([key]) => key);
    expect(missing, out).toEqual([]);
    expect(out).toMatch(/chmod 600/);

    for (const file of Object.values(files)) fs.chmodSync(file, 0o600);
    const quiet = await doctor();
    const quietOut = quiet.stdout + quiet.stderr;
    for (const file of Object.values(files)) expect(quietOut).not.toContain(`${file} is readable`);
  });
});
