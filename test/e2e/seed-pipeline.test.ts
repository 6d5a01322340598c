// The seed's pipeline end to end: examples/seed.yaml as shipped, run by the built CLI on data that
// scripts/seed-demo.sh plants, against a real REST server (rclone serve restic on 127.0.0.1, in place
// of Backblaze) and a local repository. Every step is checked against the real data: the snapshots
// restic lists, the mirror's bytes, the git inventory and a clone from the bundle, the manifest diff
// of planted additions, removals and changes, the restore drill; then a mass deletion stops the job
// at gen-manifest (kind anomaly) and the backups after it are skipped.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, REPO_ROOT, runCli, type CliResult } from "../helpers/cli.js";
import { expectExit } from "../helpers/holdfast-env.js";
import {
  expectSameTree,
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  startRestServer,
  type DirectRestic,
  type RestServer,
} from "../helpers/restic-backends.js";

const EXAMPLE = path.join(REPO_ROOT, "examples", "seed.yaml");
const SCRIPT = path.join(REPO_ROOT, "scripts", "seed-demo.sh");
const STEPS = [
  "hello",
  "grepped-gitrepos",
  "gen-manifest",
  "backblaze",
  "local",
  "logseq",
  "retention",
  "verify",
];

interface Target extends Record<string, unknown> {
  repo: string;
  status: string;
  snapshot_id?: string | null;
}
interface Step {
  name: string;
  status: string;
  error: { kind: string; message: string } | null;
  summary: Record<string, unknown> | null;
  targets: Target[];
}
interface Run {
  status: string;
  steps: Step[];
}

let root: string;
let demo: string;
let home: string;
let rest: RestServer;
let local: DirectRestic;
let backblaze: DirectRestic;

function run(args: string[]): Promise<CliResult> {
  return runCli(["--config", EXAMPLE, ...args], {
    cwd: root,
    timeoutMs: 180_000,
    env: { HOLDFAST_DEMO: demo, XDG_STATE_HOME: path.join(root, "xdg-state") },
  });
}

function step(r: Run, name: string): Step {
  const s = r.steps.find((x) => x.name === name);
  if (!s) throw new Error(`no step ${name} in ${r.steps.map((x) => x.name).join(", ")}`);
  return s;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
}

function diffLines(file: string): string[] {
  return zlib
    .gunzipSync(fs.readFileSync(file))
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t").slice(0, 2).join(" "));
}

beforeAll(async () => {
  root = makeSharedDir("holdfast-seed-e2e-");
  demo = path.join(root, "demo");
  const planted = spawnSync("bash", [SCRIPT, "--plant-only", demo], { encoding: "utf8" });
  if (planted.status !== 0) throw new Error(`seed-demo.sh --plant-only failed: ${planted.stderr}`);
  home = path.join(demo, "home", "sig");
  rest = await startRestServer(root);
  fs.writeFileSync(path.join(demo, "secrets", "backblaze.url"), `${rest.base}backblaze\n`, { mode: 0o600 });
  local = { repo: path.join(demo, "repos", "local"), passwordFile: path.join(demo, "secrets", "local.pass") };
  backblaze = { repo: `${rest.base}backblaze`, passwordFile: path.join(demo, "secrets", "backblaze.pass") };
  resticInit(local);
  resticInit(backblaze);
});

afterAll(async () => {
  await rest?.stop();
  removeDir(root);
});

describe("the seed pipeline (examples/seed.yaml)", () => {
  it("runs green, and every step did what it says on the real data", async () => {
    expect((fs.statSync(path.join(demo, "secrets", "local.pass")).mode & 0o777).toString(8)).toBe("600");
    const res = await run(["run", "backup-job", "--json"]);
    expectExit(res, 0);
    const r = parseJson<Run>(res);
    expect(r.status).toBe("succeeded");
    expect(r.steps.map((s) => [s.name, s.status])).toEqual(STEPS.map((n) => [n, "succeeded"]));

    // Both repositories have the snapshot that run --json reported; restic itself confirms it.
    for (const [name, target] of [
      ["backblaze", backblaze],
      ["local", local],
    ] as const) {
      const t = step(r, name).targets[0]!;
      expect(t).toMatchObject({ repo: name, status: "succeeded" });
      const snaps = resticSnapshots(target);
      expect(snaps).toHaveLength(1);
      expect(snaps[0]!.id.startsWith(String(t.snapshot_id))).toBe(true);
      expect(snaps[0]!.tags).toEqual(expect.arrayContaining(["holdfast", "source:home", "job:backup-job"]));
      expect(snaps[0]!.hostname).toBe("seed-demo");
      expect(snaps[0]!.paths).toEqual([home]);
    }

    // The mirror equals its source.
    expectSameTree(path.join(demo, "backups", "Logseq"), path.join(home, "Sync", "Logseq"));

    // The inventory lists the planted repositories.
    const inventory = JSON.parse(
      fs.readFileSync(path.join(demo, "backups", "gitrepos", "inventory.json"), "utf8"),
    ) as {
      repositories: Array<{
        path: string;
        head: string;
        unpushed_commits: number;
        remotes: unknown[];
        bundle: string | null;
      }>;
    };
    const byPath = new Map(inventory.repositories.map((x) => [x.path, x]));
    expect([...byPath.keys()].sort()).toEqual(
      ["dotfiles", "notes", "scratch"].map((n) => path.join(home, "src", n)),
    );
    const clean = byPath.get(path.join(home, "src", "dotfiles"))!;
    const notes = byPath.get(path.join(home, "src", "notes"))!;
    const scratch = byPath.get(path.join(home, "src", "scratch"))!;
    expect(clean).toMatchObject({ unpushed_commits: 0, bundle: null });
    expect(notes.unpushed_commits).toBe(1);
    expect(scratch.remotes).toEqual([]);
    expect(scratch.bundle).not.toBeNull();
    expect(step(r, "grepped-gitrepos").summary).toMatchObject({
      repos_found: 3,
      repos_unpushed: 2,
      bundles_written: 2,
    });

    // The bundle holds the planted unpushed commit, and a clone from it recovers it.
    expect(notes.bundle).not.toBeNull();
    const bundle = path.join(demo, "backups", "gitrepos", notes.bundle!);
    const clone = path.join(root, "recovered-notes");
    git(root, "clone", "-q", bundle, clone);
    expect(git(clone, "rev-parse", "HEAD").trim()).toBe(notes.head);
    expect(git(clone, "log", "-1", "--format=%s").trim()).toBe("unpushed idea");
    expect(fs.readFileSync(path.join(clone, "idea.md"), "utf8")).toBe("an idea that exists nowhere else\n");

    // The drill read files back from both repositories and they matched.
    const drill = step(r, "verify");
    for (const t of drill.targets) {
      expect(t).toMatchObject({ status: "succeeded", mismatched: 0, read_errors: 0 });
      expect(t.matched as number).toBeGreaterThan(0);
      expect(t.snapshot_files).toBe(t.source_files);
    }
    expect(drill.targets.map((t) => t.repo).sort()).toEqual(["backblaze", "local"]);
  }, 180_000);

  it("a second run reports planted additions, removals and changes exactly, and the drill passes", async () => {
    const docs = path.join(home, "Documents");
    const added = [path.join(docs, "added-1.txt"), path.join(home, "Pictures", "2025", "new.jpg")];
    const removed = [path.join(docs, "note-3.txt"), path.join(docs, "taxes", "2023.txt")];
    const changed = [path.join(docs, "note-5.txt")];
    fs.writeFileSync(added[0]!, "new document\n");
    fs.writeFileSync(added[1]!, Buffer.alloc(12_345, 7));
    for (const f of removed) fs.rmSync(f);
    fs.appendFileSync(changed[0]!, "an edit\n");

    const res = await run(["run", "backup-job", "--json"]);
    expectExit(res, 0);
    const r = parseJson<Run>(res);
    expect(r.steps.map((s) => [s.name, s.status])).toEqual(STEPS.map((n) => [n, "succeeded"]));
    const manifest = step(r, "gen-manifest").summary!;
    expect(manifest).toMatchObject({ files_added: 2, files_removed: 2, files_changed: 1 });
    const lines = diffLines(String(manifest.diff));
    expect(lines.sort()).toEqual(
      [
        ...added.map((f) => `A ${f}`),
        ...removed.map((f) => `R ${f}`),
        ...changed.map((f) => `C ${f}`),
      ].sort(),
    );

    // A new snapshot in each repository; retention kept both (keep last 3).
    expect(resticSnapshots(local)).toHaveLength(2);
    expect(resticSnapshots(backblaze)).toHaveLength(2);
    const drill = step(r, "verify");
    expect(drill.status).toBe("succeeded");
    for (const t of drill.targets) expect(t).toMatchObject({ status: "succeeded", mismatched: 0 });
    // The drill read the new snapshots.
    expect(drill.targets.find((t) => t.repo === "local")!.snapshot_id).toBe(
      step(r, "local").targets[0]!.snapshot_id,
    );

    const status = await run(["status", "--json"]);
    expectExit(status, 0);
    expect(parseJson<{ jobs: Array<{ name: string; state: string }> }>(status).jobs[0]).toMatchObject({
      name: "backup-job",
      state: "ok",
    });
  }, 180_000);

  it("deleting half of the planted tree: gen-manifest fails with kind anomaly, the backups after it are skipped", async () => {
    const before = { local: resticSnapshots(local).length, backblaze: resticSnapshots(backblaze).length };
    // Two of the git repositories (with their object stores), Documents/ and Pictures/: well over half
    // of the files. (src/ itself stays: it is the git step's root, and that step must still pass.)
    for (const dir of ["src/dotfiles", "src/notes", "Documents", "Pictures"])
      fs.rmSync(path.join(home, dir), { recursive: true });
    const res = await run(["run", "backup-job", "--json"]);
    expectExit(res, 1);
    const r = parseJson<Run>(res);
    expect(r.status).toBe("failed");
    expect(step(r, "hello").status).toBe("succeeded");
    expect(step(r, "grepped-gitrepos").status).toBe("succeeded");
    const manifest = step(r, "gen-manifest");
    expect(manifest.status).toBe("failed");
    expect(manifest.error?.kind).toBe("anomaly");
    expect(Number(manifest.summary?.removed_fraction)).toBeGreaterThan(0.5);
    for (const name of ["backblaze", "local", "logseq", "retention", "verify"]) {
      expect(step(r, name).status).toBe("skipped");
    }
    expect(resticSnapshots(local)).toHaveLength(before.local);
    expect(resticSnapshots(backblaze)).toHaveLength(before.backblaze);
  }, 180_000);

  it("scripts/seed-demo.sh runs the example as it is: its own REST server, both repositories, a green run", () => {
    const dir = path.join(root, "script-demo");
    const res = spawnSync("bash", [SCRIPT, dir], { encoding: "utf8", timeout: 170_000 });
    if (res.status !== 0) throw new Error(`seed-demo.sh exited ${res.status}:\n${res.stdout}\n${res.stderr}`);
    expect(res.stdout).toMatch(/run \S+ succeeded/);
    expect(res.stdout).toMatch(/backup-job\s+ok/);
    // The server it started is gone: the URL it wrote no longer answers.
    const url = fs.readFileSync(path.join(dir, "secrets", "backblaze.url"), "utf8").trim();
    const port = Number(/:(\d+)\//.exec(url)?.[1]);
    const probe = spawnSync("bash", ["-c", `echo > /dev/tcp/127.0.0.1/${port}`], { encoding: "utf8" });
    expect(probe.status).not.toBe(0);
  }, 180_000);
});
