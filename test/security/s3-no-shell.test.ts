// S3: no shell unless the config says `shell:`. Every network-free step type runs with PATH starting
// at a directory of fake `sh`, `bash` and `dash` that leave a marker and exit 97, under
// `strace -f -e execve`, so even an absolute /bin/sh anywhere in the process tree would show. Arguments,
// paths, excludes and tags full of shell metacharacters reach the programs literally.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, parseJson } from "../helpers/cli.js";
import { makeSharedDir, removeDir } from "../helpers/restic-backends.js";
import { walkFiles } from "./scan.js";

const SHELLS = ["sh", "bash", "dash", "zsh", "ksh"];
const HAS_STRACE = spawnSync("strace", ["-V"]).status === 0;
// Every one of these would create a `pwned*` file if a shell ever saw it.
const HOSTILE = [
  "$(touch pwned-subst)",
  "; touch pwned-semi",
  "`touch pwned-tick`",
  "a\ntouch pwned-newline",
  "|| touch pwned-or && touch pwned-and",
  "> pwned-redirect",
  "'\"; touch pwned-quote; \"'",
  "${IFS}touch${IFS}pwned-ifs",
];

let root: string;
let fakeBin: string;
let marker: string;
beforeAll(() => {
  root = makeSharedDir("holdfast-s3-");
  fakeBin = path.join(root, "fake-bin");
  fs.mkdirSync(fakeBin);
  marker = path.join(root, "SHELL-WAS-RUN");
  for (const name of SHELLS) {
    const file = path.join(fakeBin, name);
    fs.writeFileSync(
      file,
      `#!${process.execPath}\nrequire("node:fs").appendFileSync(${JSON.stringify(marker)}, JSON.stringify(process.argv) + "\\n");\nprocess.exit(97);\n`,
      { mode: 0o755 },
    );
  }
});
afterAll(() => removeDir(root));

interface Exec {
  path: string;
  argv: string;
  ok: boolean;
}

/** Runs the built CLI under strace; returns the result and every execve of the process tree. */
function traced(dir: string, args: string[]) {
  const log = path.join(dir, `strace-${Date.now()}.log`);
  const r = spawnSync(
    "strace",
    ["-f", "-qq", "-s", "4096", "-e", "trace=execve", "-o", log, process.execPath, CLI, ...args],
    {
      cwd: dir,
      encoding: "utf8",
      timeout: 180_000,
      env: {
        ...process.env,
        NO_COLOR: "1",
        HOLDFAST_CONFIG: undefined,
        PATH: `${fakeBin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        XDG_STATE_HOME: path.join(dir, "xdg"),
      },
    },
  );
  const execs: Exec[] = [];
  for (const line of fs.readFileSync(log, "utf8").split("\n")) {
    const m = /execve\("((?:[^"\\]|\\.)*)", \[(.*)\], .*\) = (-?\d+)/.exec(line);
    if (m) execs.push({ path: m[1] ?? "", argv: m[2] ?? "", ok: m[3] === "0" });
  }
  fs.rmSync(log);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, execs };
}

const isShell = (e: Exec) => e.ok && (SHELLS.includes(path.basename(e.path)) || e.path.startsWith(fakeBin));
const pwned = (dir: string) => walkFiles(dir).filter((f) => path.basename(f).startsWith("pwned"));

describe.runIf(HAS_STRACE)("S3: no shell unless `shell:`", () => {
  it("the fake shells are live (so their silence means something)", () => {
    for (const name of SHELLS) {
      const r = spawnSync(name, ["-c", "true"], {
        env: { ...process.env, PATH: `${fakeBin}:/usr/bin:/bin` },
      });
      expect(r.status, name).toBe(97);
    }
    expect(fs.readFileSync(marker, "utf8").split("\n").filter(Boolean)).toHaveLength(SHELLS.length);
    fs.rmSync(marker);
  });

  it("every network-free step type runs without any shell; metacharacters arrive literally", () => {
    const dir = path.join(root, "steps");
    const weird = "dir $(touch pwned-path); `touch pwned-path2` & more";
    const src = path.join(dir, "src", weird);
    fs.mkdirSync(path.join(src, "sub"), { recursive: true });
    fs.writeFileSync(path.join(src, "a.txt"), "alpha\n");
    fs.writeFileSync(path.join(src, "sub", "b.txt"), "beta\n");
    fs.writeFileSync(path.join(src, "skip; touch pwned-excluded"), "x\n");
    // A git repository for the git step (made with the real PATH, before the fakes are in play).
    const gitRoot = path.join(dir, "git roots $(touch pwned-git)");
    const repo = path.join(gitRoot, "proj");
    fs.mkdirSync(repo, { recursive: true });
    const git = (...a: string[]) =>
      execFileSync("git", ["-C", repo, "-c", "user.email=t@t", "-c", "user.name=t", ...a], {
        stdio: "ignore",
      });
    git("init", "-q");
    fs.writeFileSync(path.join(repo, "f"), "1\n");
    git("add", "f");
    git("commit", "-q", "-m", "c1");
    const dump = path.join(dir, "argv-dump.cjs");
    const argvOut = path.join(dir, "argv.json");
    fs.writeFileSync(
      dump,
      `require("node:fs").writeFileSync(process.env.ARGV_OUT, JSON.stringify(process.argv.slice(2)));\n`,
    );
    fs.writeFileSync(path.join(dir, "pass"), "s3-password\n", { mode: 0o600 });
    const config = {
      version: 1,
      state_dir: path.join(dir, "state ; $(touch pwned-state)"),
      host: "testhost",
      repositories: {
        local: { url: path.join(dir, "repo `touch pwned-repo`"), password_file: path.join(dir, "pass") },
      },
      sources: {
        data: { paths: [src], exclude: ["*skip; touch pwned-excluded*", "$(touch pwned-exclude)"] },
      },
      jobs: {
        all: {
          steps: [
            {
              name: "argv",
              type: "exec",
              command: [process.execPath, dump, ...HOSTILE],
              env: { ARGV_OUT: argvOut },
            },
            {
              name: "backup",
              type: "backup",
              source: "data",
              repos: ["local"],
              tags: ["t;$(touch${IFS}pwned-tag)`x`"],
            },
            { name: "forget", type: "forget", repos: ["local"], keep: { last: 2 } },
            { name: "check", type: "check", repos: ["local"] },
            {
              name: "mirror",
              type: "mirror",
              from: `${src}/`,
              to: path.join(dir, "mirror $(touch pwned-mirror)") + "/",
              exclude: ["; touch pwned-mx"],
            },
            {
              name: "git",
              type: "git",
              roots: [gitRoot],
              output: path.join(dir, "git-out; touch pwned-gitout"),
              bundle: "all",
            },
            {
              name: "manifest",
              type: "manifest",
              paths: [src],
              output: path.join(dir, "manifest `touch pwned-man`"),
            },
            { name: "verify", type: "verify", source: "data", repos: ["local"], sample: 2 },
          ],
        },
      },
    };
    const configFile = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    const init = traced(dir, ["--config", configFile, "init", "--json"]);
    expect(init.code, init.stdout + init.stderr).toBe(0);
    const run = traced(dir, ["--config", configFile, "run", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const record = parseJson<{ id: string; steps: Array<{ name: string; status: string }> }>({
      ...run,
      signal: null,
      durationMs: 0,
    });
    expect(record.steps.map((s) => `${s.name}:${s.status}`)).toEqual(
      config.jobs.all.steps.map((s) => `${s.name}:succeeded`),
    );

    // No shell anywhere in the process tree, no fake ever ran, no marker file was made.
    const all = [...init.execs, ...run.execs];
    const programs = new Set(all.filter((e) => e.ok).map((e) => path.basename(e.path)));
    for (const p of ["restic", "rsync", "git"]) expect(programs, [...programs].join(" ")).toContain(p);
    expect(all.filter(isShell).map((e) => `${e.path} ${e.argv}`)).toEqual([]);
    expect(fs.existsSync(marker)).toBe(false);
    expect(pwned(root)).toEqual([]);

    // The literal arguments reached the program, and the literal paths/tags/excludes reached restic.
    expect(JSON.parse(fs.readFileSync(argvOut, "utf8"))).toEqual(HOSTILE);
    const restic = all.filter((e) => e.ok && path.basename(e.path) === "restic").map((e) => e.argv);
    const backupArgv = restic.find((a) => a.includes('"backup"')) ?? "";
    expect(backupArgv).toContain(JSON.stringify(src));
    expect(backupArgv).toContain(JSON.stringify("*skip; touch pwned-excluded*"));
    expect(backupArgv).toContain(JSON.stringify("$(touch pwned-exclude)"));
    expect(backupArgv).toContain('"t;$(touch${IFS}pwned-tag)`x`"');
    // …and did their job literally.
    const ls = traced(dir, ["--config", configFile, "snapshots", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(JSON.stringify(src).slice(1, -1));
    expect(fs.readFileSync(path.join(dir, "mirror $(touch pwned-mirror)", "a.txt"), "utf8")).toBe("alpha\n");
    expect(walkFiles(path.join(dir, "manifest `touch pwned-man`")).length).toBeGreaterThan(0);
    expect(walkFiles(path.join(dir, "git-out; touch pwned-gitout")).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, "state ; $(touch pwned-state)"))).toBe(true);
    expect(pwned(root)).toEqual([]);
    console.log(
      `S3: ${all.length} execve calls traced (${programs.size} programs: ${[...programs].sort().join(", ")}), 0 shells`,
    );
  });

  it("`shell:` runs /bin/sh -c by its absolute path, and is the only way a shell runs", () => {
    const dir = path.join(root, "shell");
    fs.mkdirSync(dir);
    const out = path.join(dir, "out.txt");
    const configFile = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        version: 1,
        state_dir: path.join(dir, "state"),
        jobs: {
          j: {
            steps: [
              { name: "argv", type: "exec", command: ["printf", "%s", "$(touch pwned-argv)"] },
              { name: "sh", type: "exec", shell: `printf '%s' "$HOME" > '${out}'` },
            ],
          },
        },
      }),
    );
    const run = traced(dir, ["--config", configFile, "run", "--json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const shells = run.execs.filter(isShell);
    expect(shells.map((e) => e.path)).toEqual(["/bin/sh"]);
    expect(shells[0]?.argv).toContain('"-c"');
    expect(fs.existsSync(marker)).toBe(false); // the PATH fakes never ran: /bin/sh is absolute
    expect(fs.readFileSync(out, "utf8")).toBe(process.env.HOME ?? "");
    expect(pwned(root)).toEqual([]);
  });
});
