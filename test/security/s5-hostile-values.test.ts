// S5: a corpus of hostile config values. Each is rejected by `config validate` with exit 2, the field's
// path and a hint — or accepted and then handled literally and safely by the commands that use it.
// Never a crash, a stack trace or an "internal error", and never slow (alias bombs are refused fast).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { walkFiles } from "./scan.js";

let root: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-s5-");
  fs.mkdirSync(path.join(root, "src"));
  fs.writeFileSync(path.join(root, "src", "f.txt"), "f\n");
  fs.writeFileSync(path.join(root, "pass"), "s5-password\n", { mode: 0o600 });
});
afterAll(() => removeDir(root));

type Cfg = Record<string, any>;
function base(): Cfg {
  return {
    version: 1,
    state_dir: path.join(root, "state"),
    host: "testhost",
    repositories: { local: { url: path.join(root, "repo"), password_file: path.join(root, "pass") } },
    sources: { s: { paths: [path.join(root, "src")] } },
    jobs: { j: { steps: [{ name: "e", type: "exec", command: ["true"] }] } },
  };
}
const step0 = (c: Cfg) => c.jobs.j.steps[0] as Cfg;

let n = 0;
function writeCfg(content: string | Cfg): string {
  const file = path.join(root, `c${n++}.yaml`);
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

function expectNoCrash(r: CliResult, what: string) {
  const out = r.stdout + r.stderr;
  expect(r.signal, what).toBeNull();
  expect(out, what).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(out, what).not.toMatch(/internal error|holdfast bug|TimeoutOverflowWarning|please report it/i);
}

const cli = (file: string, args: string[], timeoutMs = 60_000) =>
  runCli(["--config", file, ...args], {
    cwd: root,
    timeoutMs,
    env: { XDG_STATE_HOME: path.join(root, "xdg") },
  });

// Rejected: exit 2 from `config validate`, naming the field (a substring of the printed path) and a hint.
const REJECTED: Array<[string, (c: Cfg) => void, string]> = [
  ["job name with shell metacharacters", (c) => (c.jobs["j; rm -rf /"] = c.jobs.j), "jobs"],
  ["step name $(…)", (c) => (step0(c).name = "$(touch pwned)"), "name"],
  ["repository name with backticks", (c) => (c.repositories["`id`"] = c.repositories.local), "repositories"],
  ["source name with a space and ..", (c) => (c.sources["../x y"] = c.sources.s), "sources"],
  [
    "notification name with a newline",
    (c) => (c.notifications = { "a\nb": { type: "ntfy", url: "http://127.0.0.1:9/t" } }),
    "notifications",
  ],
  ["a 1 MB job name", (c) => (c.jobs["a".repeat(1 << 20)] = c.jobs.j), "jobs"],
  ["a 65-character step name", (c) => (step0(c).name = "s".repeat(65)), "name"],
  ["retries: 1e12", (c) => (step0(c).retries = 1e12), "retries"],
  ["retries: -1", (c) => (step0(c).retries = -1), "retries"],
  ["retries: 1.5", (c) => (step0(c).retries = 1.5), "retries"],
  [
    "keep.last: 1e9",
    (c) => c.jobs.j.steps.push({ name: "f", type: "forget", repos: ["local"], keep: { last: 1e9 } }),
    "keep.last",
  ],
  [
    "max_depth: 1e6",
    (c) =>
      c.jobs.j.steps.push({
        name: "g",
        type: "git",
        roots: [root],
        output: path.join(root, "g"),
        max_depth: 1e6,
      }),
    "max_depth",
  ],
  [
    "smtp port 99999",
    (c) =>
      (c.notifications = {
        m: { type: "email", smtp: { host: "127.0.0.1", port: 99999 }, from: "a@b.c", to: ["x@y.z"] },
      }),
    "port",
  ],
  [
    "smtp port 0",
    (c) =>
      (c.notifications = {
        m: { type: "email", smtp: { host: "127.0.0.1", port: 0 }, from: "a@b.c", to: ["x@y.z"] },
      }),
    "port",
  ],
  ["warning_codes: [1e12]", (c) => (step0(c).warning_codes = [1e12]), "warning_codes"],
  ["a bare-number timeout", (c) => (step0(c).timeout = 99999999999), "timeout"],
  ["a NUL byte in an argument", (c) => (step0(c).command = ["true", "a\u0000b"]), "command"],
  ["a NUL byte in state_dir", (c) => (c.state_dir = path.join(root, "st\u0000ate")), "state_dir"],
  ["a NUL byte in a source path", (c) => (c.sources.s.paths = ["/tmp/a\u0000b"]), "paths"],
  ["an inline password", (c) => (c.repositories.local.password = "hunter2"), "password"],
  [
    "credentials in a URL",
    (c) =>
      (c.repositories.local = {
        url: "rest:http://u:pw@127.0.0.1:1/r",
        password_file: path.join(root, "pass"),
      }),
    "url",
  ],
  ["a host name with ;", (c) => (c.host = "h; reboot"), "host"],
  [
    "a tag with a space",
    (c) => c.jobs.j.steps.push({ name: "b", type: "backup", source: "s", repos: ["local"], tags: ["a b"] }),
    "tags",
  ],
];

describe("S5: hostile config values", () => {
  it.each(REJECTED)("rejects %s (exit 2, the field, a hint)", async (_what, mutate, field) => {
    const c = base();
    mutate(c);
    const r = await cli(writeCfg(c), ["config", "validate"]);
    expectNoCrash(r, _what);
    expect(r.code, (r.stdout + r.stderr).slice(0, 2000)).toBe(2);
    expect(r.stderr).toContain(field);
    expect(r.stderr).toMatch(/\(.+\)/); // the hint, in parentheses after the message
  });

  it("rejects YAML text no JSON can hold: retries: 1e400, an alias bomb, deep nesting, garbage — quickly", async () => {
    const yaml = (extra: string) =>
      `version: 1\nstate_dir: ${JSON.stringify(path.join(root, "state"))}\njobs:\n  j:\n    steps:\n      - { name: e, type: exec, command: ["true"] }\n${extra}`;
    const laughs = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (const [i, name] of [..."bcdefghi"].entries()) {
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`);
    }
    const cases: Array<[string, string]> = [
      ["retries: 1e400", yaml("").replace("command:", "retries: 1e400, command:")],
      ["billion laughs", `${laughs.join("\n")}\n${yaml("")}`],
      [
        "laughs under a real key",
        yaml(`env:\n  X: *i\n`).replace(/^/, `${laughs.join("\n").replace(/^(\w):/gm, "x_$1:")}\n`),
      ],
      ["100,000 nested lists", `${yaml("")}x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`],
      ["10,000 nested maps", `${yaml("")}x: ${"{a: ".repeat(10_000)}1${"}".repeat(10_000)}\n`],
      ["binary garbage", "\u0000\u0001\u0002\u00ff\ufffe{{{:::\n"],
      [
        "a YAML tag that would run code",
        `${yaml("")}x: !!js/function "function () { require('fs').writeFileSync('pwned', '') }"\n`,
      ],
      ["0 bytes", ""],
      ["a list, not a map", "- a\n- b\n"],
    ];
    const times: string[] = [];
    for (const [what, text] of cases) {
      const file = writeCfg(text);
      const r = await cli(file, ["config", "validate"], 30_000);
      expectNoCrash(r, what);
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.durationMs, what).toBeLessThan(15_000);
      times.push(`${what} ${r.durationMs} ms`);
      // `run` must refuse the same way, before anything happens.
      const run = await cli(file, ["run"], 30_000);
      expectNoCrash(run, `run with ${what}`);
      expect(run.code, what).toBe(2);
    }
    expect(fs.existsSync(path.join(root, "pwned"))).toBe(false);
    console.log(`S5 YAML: ${times.join("; ")}`);
  });

  it("refuses a config path that is a directory, missing, or unreadable (exit 2)", async () => {
    const asDir = path.join(root, "dir.yaml");
    fs.mkdirSync(asDir);
    const unreadable = writeCfg(base());
    fs.chmodSync(unreadable, 0o000);
    const isRoot = process.getuid?.() === 0;
    for (const [what, file] of [
      ["a directory", asDir],
      ["missing", path.join(root, "nope", "holdfast.yaml")],
      ...(isRoot ? [] : [["unreadable", unreadable]]),
    ] as const) {
      for (const args of [["config", "validate"], ["run"], ["status", "--json"]]) {
        const r = await cli(file, args);
        expectNoCrash(r, what);
        expect(r.code, `${what} ${args.join(" ")}: ${r.stderr}`).toBe(2);
      }
    }
  });

  it("handles `..`, unicode, metacharacters and huge durations literally in a real run", async () => {
    const dir = path.join(root, "literal");
    const uni = path.join(dir, "ünïcødé 日本語 🎒 $(touch pwned) ;x");
    fs.mkdirSync(uni, { recursive: true });
    fs.writeFileSync(path.join(uni, "ファイル.txt"), "データ\n");
    const argvOut = path.join(dir, "argv.json");
    const c = base();
    // `..` inside paths the user wrote: resolved to what they name, never used to reach elsewhere.
    c.state_dir = path.join(dir, "a", "..", "state");
    c.repositories.local.url = path.join(dir, "b", "..", "repo");
    c.sources.s.paths = [uni];
    c.jobs.j = {
      max_age: "99999999999d",
      schedule: "daily",
      randomized_delay: "99999999999d",
      steps: [
        {
          name: "argv",
          type: "exec",
          timeout: "99999999999d",
          retry_delay: "99999999999d",
          command: [
            process.execPath,
            "-e",
            "require('fs').writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))",
            argvOut,
            "../../etc/passwd",
            "$(touch pwned)",
            "日本語",
            "-rf",
          ],
        },
        { name: "backup", type: "backup", source: "s", repos: ["local"], timeout: "99999999999d" },
        { name: "manifest", type: "manifest", paths: [uni], output: path.join(dir, "c", "..", "manifests") },
        { name: "retention", type: "forget", repos: ["local"], keep: { last: 100000 } },
        { name: "verify", type: "verify", source: "s", repos: ["local"], sample: 1e12 },
      ],
    };
    // Not kill_grace: restic steps get (timeout − kill_grace − a margin) before holdfast stops them, so a
    // kill_grace as long as the timeout leaves restic ~1 s (reported as a bug; see the suite's notes).
    const file = writeCfg(c);
    expectNoCrash(await cli(file, ["config", "validate"]), "validate");
    const init = await cli(file, ["init"], 120_000);
    expectNoCrash(init, "init");
    expect(init.code, init.stdout + init.stderr).toBe(0);
    const run = await cli(file, ["run", "--json"], 180_000);
    expectNoCrash(run, "run");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const record = JSON.parse(run.stdout) as { steps: Array<{ status: string }> };
    expect(record.steps.every((s) => s.status === "succeeded")).toBe(true);

    expect(JSON.parse(fs.readFileSync(argvOut, "utf8"))).toEqual([
      "../../etc/passwd",
      "$(touch pwned)",
      "日本語",
      "-rf",
    ]);
    expect(fs.existsSync(path.join(dir, "state"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "repo", "config"))).toBe(true);
    expect(walkFiles(path.join(dir, "manifests")).length).toBeGreaterThan(0);
    for (const never of ["a", "b", "c"]) expect(fs.existsSync(path.join(dir, never)), never).toBe(false);
    expect(walkFiles(root).filter((f) => path.basename(f).startsWith("pwned"))).toEqual([]);

    const show = await cli(file, ["config", "show", "--json"]);
    expect((JSON.parse(show.stdout) as { state_dir: string }).state_dir).toBe(path.join(dir, "state"));
    const snaps = await cli(file, ["snapshots", "--json"]);
    expect(snaps.code, snaps.stderr).toBe(0);
    expect(snaps.stdout).toContain("ünïcødé 日本語 🎒");
    for (const args of [
      ["status", "--json"],
      ["watch", "--json"],
      ["schedule", "list", "--json"],
      ["history", "--json"],
      ["metrics"],
    ]) {
      const r = await cli(file, args);
      expectNoCrash(r, args.join(" "));
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    }
  });

  it("refuses a listen port out of range (exit 2, a hint) instead of crashing", async () => {
    for (const listen of [
      "127.0.0.1:99999",
      "127.0.0.1:-1",
      "127.0.0.1:1e3",
      `127.0.0.1:${"9".repeat(400)}`,
    ]) {
      const r = await cli(writeCfg(base()), ["serve", "--listen", listen], 20_000);
      expectNoCrash(r, listen);
      expect(r.code, `${listen}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/hint|e\.g\./);
    }
  });
});
