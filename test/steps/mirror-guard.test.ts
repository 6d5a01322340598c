// The mirror guard (issue 12 item 2), through the built CLI with real rsync and a real sshd on
// 127.0.0.1: every way an empty or half-there source reached a 50-file mirror with deletions on —
// a deletion option in rsync_args, a stray empty directory, a remote `from` — is stopped before rsync
// deletes anything, and `max_delete` stops rsync itself (--max-delete, exit 25) as a guard failure.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeSharedDir, removeDir, startSshd, type SshServer } from "../helpers/restic-backends.js";
import { makeTempDir, writeConfig, writeTree } from "../helpers/tmp.js";
import { runJobWith, yamlString } from "./run-helpers.js";

const MIRROR_FILES = 50;

/** A mirror of 50 files (a few in subdirectories), what the runs wiped. */
function plantMirror(dir: string): void {
  const files: Record<string, string> = {};
  for (let i = 0; i < MIRROR_FILES; i++) files[i % 5 === 0 ? `sub/f${i}.txt` : `f${i}.txt`] = `${i}\n`;
  writeTree(dir, files);
}

function countFiles(dir: string): number {
  let n = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (!entry.isDirectory()) n++;
  return n;
}

const mirrorJob = (from: string, to: string, extra = "") => `jobs:
  j:
    steps:
      - name: m
        type: mirror
        from: ${yamlString(from)}
        to: ${yamlString(to)}
${extra}`;

// Every option of rsync 3.5 that makes the receiver delete (rsync --help | grep -i delete).
const DELETE_OPTIONS = [
  "--delete",
  "--del",
  "--delete-before",
  "--delete-during",
  "--delete-delay",
  "--delete-after",
  "--delete-excluded",
];

describe("mirror guard, local source", () => {
  it.each(DELETE_OPTIONS)(
    "rsync_args [%s] with an empty source is guarded like delete: true",
    async (option) => {
      const dir = makeTempDir();
      const src = path.join(dir, "mnt");
      const dst = path.join(dir, "mirror");
      fs.mkdirSync(src);
      plantMirror(dst);
      const out = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, `        rsync_args: [${option}]\n`));
      expect(out.step("m"), JSON.stringify(out.step("m"))).toMatchObject({
        status: "failed",
        error: { kind: "guard" },
      });
      expect(out.cli.code).toBe(1);
      expect(countFiles(dst)).toBe(MIRROR_FILES);
    },
  );

  it("a deletion option given through --remote-option counts too", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "mnt");
    const dst = path.join(dir, "mirror");
    fs.mkdirSync(src);
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${src}/`, `${dst}/`, `        rsync_args: ["--remote-option=--delete"]\n`),
    );
    // A local copy has no remote side; rsync still applies -M options to the receiver it starts.
    expect(out.step("m").error?.kind, JSON.stringify(out.step("m"))).toBe("guard");
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("a source holding only a stray empty directory is empty", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "mnt");
    const dst = path.join(dir, "mirror");
    fs.mkdirSync(path.join(src, "lost+found"), { recursive: true });
    plantMirror(dst);
    const out = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, "        delete: true\n"));
    expect(out.step("m"), JSON.stringify(out.step("m"))).toMatchObject({
      status: "failed",
      error: { kind: "guard" },
    });
    expect(out.step("m").error.message).toContain("holds no files");
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("exists: a missing sentinel stops the mirror, with or without delete", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "mirror");
    writeTree(src, { "a.txt": "a" });
    plantMirror(dst);
    const guard = `        guard: { exists: [${yamlString(path.join(src, ".stfolder"))}] }\n`;
    const out = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, guard));
    expect(out.step("m")).toMatchObject({ status: "failed", error: { kind: "guard" } });
    expect(out.step("m").error.message).toContain(".stfolder");
    expect(fs.existsSync(path.join(dst, "a.txt"))).toBe(false);

    fs.writeFileSync(path.join(src, ".stfolder"), "");
    const ok = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, guard));
    expect(ok.step("m").status, JSON.stringify(ok.step("m"))).toBe("succeeded");
  });

  it("min_files counts files, not directories", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "mirror");
    writeTree(src, { "a/1.txt": "1", "b/2.txt": "2" });
    fs.mkdirSync(path.join(src, "c/d/e"), { recursive: true });
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${src}/`, `${dst}/`, "        delete: true\n        guard: { min_files: 3 }\n"),
    );
    expect(out.step("m")).toMatchObject({ status: "failed", error: { kind: "guard" } });
    expect(out.step("m").error.message).toMatch(/holds 2 files, fewer than min_files 3/);
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("max_delete as a count: rsync stops deleting at the limit (exit 25) and the step fails as guard", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "mirror");
    writeTree(src, { "f1.txt": "1\n", "new.txt": "new\n" });
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${src}/`, `${dst}/`, "        delete: true\n        guard: { max_delete: 5 }\n"),
    );
    const step = out.step("m");
    expect(step, JSON.stringify(step)).toMatchObject({
      status: "failed",
      exit_code: 25,
      error: { kind: "guard" },
    });
    expect(step.error.message).toContain("max_delete 5");
    expect(step.error.message).toMatch(/\d+ more deletions? skipped/);
    expect(step.summary.files_deleted).toBeLessThanOrEqual(5);
    expect(countFiles(dst)).toBeGreaterThanOrEqual(MIRROR_FILES - 5);
    // The copying itself still happened: only deletions stop at the limit.
    expect(fs.readFileSync(path.join(dst, "new.txt"), "utf8")).toBe("new\n");
  });

  it("max_delete as a share of the target: 10% of 50 files and their directory allows 5 deletions", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "mirror");
    // 45 of the 50 files stay; 5 go (within 10%)…
    plantMirror(src);
    plantMirror(dst);
    for (let i = 1; i <= 4; i++) fs.rmSync(path.join(src, `f${i}.txt`));
    fs.rmSync(path.join(src, "sub/f5.txt"));
    const extra = "        delete: true\n        guard: { max_delete: 10% }\n";
    const fine = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, extra));
    expect(fine.step("m").status, JSON.stringify(fine.step("m"))).toBe("succeeded");
    expect(fine.step("m").summary.files_deleted).toBe(5);
    expect(countFiles(dst)).toBe(45);

    // …then half of the rest disappears: stopped at 10% of the 46 entries (45 files + sub), 4 deletions.
    for (let i = 6; i < 30; i++) fs.rmSync(path.join(src, i % 5 === 0 ? `sub/f${i}.txt` : `f${i}.txt`));
    const stopped = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`, extra));
    expect(stopped.step("m"), JSON.stringify(stopped.step("m"))).toMatchObject({
      status: "failed",
      error: { kind: "guard" },
    });
    expect(stopped.step("m").error.message).toContain("max_delete 10% (4 of 46 entries)");
    expect(countFiles(dst)).toBe(41);
  });

  it("without deletions the stray empty directory is no problem (nothing can be lost)", async () => {
    const dir = makeTempDir();
    const src = path.join(dir, "mnt");
    const dst = path.join(dir, "mirror");
    fs.mkdirSync(path.join(src, "empty"), { recursive: true });
    plantMirror(dst);
    const out = await runJobWith(dir, mirrorJob(`${src}/`, `${dst}/`));
    expect(out.step("m").status).toBe("succeeded");
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });
});

describe("mirror guard at config load", () => {
  const validate = async (extra: string) => {
    const dir = makeTempDir();
    const config = writeConfig(
      dir,
      `version: 1\nstate_dir: ${path.join(dir, "state")}\n` + mirrorJob("/srv/a/", "/srv/b/", extra),
    );
    return runCli(["--config", config, "config", "validate"]);
  };

  it.each([
    ["--remove-source-files", "removes each file from `from`"],
    ["--remove-sent-files", "removes each file from `from`"],
    ["--max-delete=100", "guard.max_delete"],
    ["--ignore-errors", "delete even after errors"],
    ["-e", "ssh_command"],
    ["--rsh=ssh -p 2222", "ssh_command"],
  ])("refuses rsync_args [%s] with a hint", async (arg, hint) => {
    const r = await validate(`        delete: true\n        rsync_args: [${JSON.stringify(arg)}]\n`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/holdfast\.yaml:\d+:\d+ {2}jobs\.j\.steps\[0\]\.rsync_args\[0\]/);
    expect(r.stderr).toContain(hint);
  });

  it("refuses max_delete on a mirror that never deletes", async () => {
    const r = await validate("        guard: { max_delete: 10 }\n");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("max_delete has no effect without delete: true");
  });

  it("refuses a max_delete that is neither a count nor a share", async () => {
    const r = await validate("        delete: true\n        guard: { max_delete: lots }\n");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("neither a count nor a percentage");
  });
});

describe("mirror guard, remote side over ssh (sshd on 127.0.0.1)", () => {
  let shared = "";
  let ssh: SshServer | null = null;
  let skipReason = "";

  beforeAll(async () => {
    shared = makeSharedDir("holdfast-mirror-guard-");
    try {
      if (process.getuid?.() !== 0) throw new Error("sshd tests need root (a private sshd on a free port)");
      ssh = await startSshd(shared);
    } catch (err) {
      skipReason = (err as Error).message;
    }
  });
  afterAll(async () => {
    await ssh?.stop();
    removeDir(shared);
  });

  const sshLine = () => `        ssh_command: ${JSON.stringify(ssh?.sshCommand)}\n`;

  it("an empty remote source (from: host:path) does not wipe the local mirror", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const src = path.join(dir, "remote-mnt");
    const dst = path.join(dir, "mirror");
    fs.mkdirSync(path.join(src, "stray"), { recursive: true });
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${ssh.login}:${src}/`, `${dst}/`, `        delete: true\n${sshLine()}`),
    );
    expect(out.step("m"), JSON.stringify(out.step("m"))).toMatchObject({
      status: "failed",
      error: { kind: "guard" },
    });
    expect(out.step("m").error.message).toContain("holds no files");
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("a remote source that is missing fails as not_found before rsync runs", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const dst = path.join(dir, "mirror");
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${ssh.login}:${path.join(dir, "nope")}/`, `${dst}/`, `        delete: true\n${sshLine()}`),
    );
    expect(out.step("m")).toMatchObject({ status: "failed", error: { kind: "not_found" } });
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("an empty local source does not wipe a remote mirror (to: host:path)", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const src = path.join(dir, "mnt");
    const dst = path.join(dir, "remote-mirror");
    fs.mkdirSync(src);
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(`${src}/`, `${ssh.login}:${dst}/`, `        rsync_args: [--delete-after]\n${sshLine()}`),
    );
    expect(out.step("m"), JSON.stringify(out.step("m"))).toMatchObject({
      status: "failed",
      error: { kind: "guard" },
    });
    expect(countFiles(dst)).toBe(MIRROR_FILES);
  });

  it("remote sentinel, min_files and max_delete (share of the remote target) go through the same ssh", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const src = path.join(dir, "remote src");
    const dst = path.join(dir, "mirror");
    writeTree(src, { "keep.txt": "k\n", "b.txt": "b\n" });
    plantMirror(dst);
    const from = `${ssh.login}:${src}/`;
    const sentinel = path.join(src, ".stfolder");

    const noSentinel = await runJobWith(
      dir,
      mirrorJob(
        from,
        `${dst}/`,
        `        delete: true\n        guard: { exists: [${yamlString(sentinel)}] }\n${sshLine()}`,
      ),
    );
    expect(noSentinel.step("m")).toMatchObject({ status: "failed", error: { kind: "guard" } });
    expect(noSentinel.step("m").error.message).toContain(`${ssh.login}:${sentinel}`);

    fs.writeFileSync(sentinel, "");
    const tooFew = await runJobWith(
      dir,
      mirrorJob(from, `${dst}/`, `        delete: true\n        guard: { min_files: 4 }\n${sshLine()}`),
    );
    expect(tooFew.step("m")).toMatchObject({ status: "failed", error: { kind: "guard" } });
    expect(tooFew.step("m").error.message).toMatch(/holds 3 files, fewer than min_files 4/);

    const share = await runJobWith(
      dir,
      mirrorJob(
        from,
        `${dst}/`,
        `        delete: true\n        guard: { exists: [${yamlString(sentinel)}], min_files: 3, max_delete: 20% }\n${sshLine()}`,
      ),
    );
    expect(share.step("m"), JSON.stringify(share.step("m"))).toMatchObject({
      status: "failed",
      exit_code: 25,
      error: { kind: "guard" },
    });
    // 20% of the mirror's 51 entries (50 files and sub/).
    expect(share.step("m").error.message).toContain("max_delete 20% (10 of 51 entries)");
    expect(countFiles(dst)).toBeGreaterThanOrEqual(MIRROR_FILES - 10);
  });

  it("a remote target's share is counted over ssh too", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const src = path.join(dir, "src");
    const dst = path.join(dir, "remote mirror");
    writeTree(src, { "only.txt": "o\n" });
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(
        `${src}/`,
        `${ssh.login}:${dst}/`,
        `        delete: true\n        guard: { max_delete: 10% }\n${sshLine()}`,
      ),
    );
    expect(out.step("m"), JSON.stringify(out.step("m"))).toMatchObject({
      status: "failed",
      exit_code: 25,
      error: { kind: "guard" },
    });
    expect(out.step("m").error.message).toContain("max_delete 10% (5 of 51 entries)");
    expect(countFiles(dst)).toBeGreaterThanOrEqual(MIRROR_FILES - 5);
  });

  it("hands the remote path and sentinels to the remote sh as arguments, never as code", async (ctx) => {
    if (!ssh) return ctx.skip(skipReason);
    const dir = makeTempDir();
    const src = path.join(dir, "it's $(touch pwned-src) `touch pwned-tick`");
    const sentinel = path.join(src, "; touch pwned-sentinel");
    writeTree(src, { "a.txt": "a\n", "b.txt": "b\n" });
    fs.writeFileSync(sentinel, "");
    const dst = path.join(dir, "mirror");
    plantMirror(dst);
    const out = await runJobWith(
      dir,
      mirrorJob(
        `${ssh.login}:${src}/`,
        `${dst}/`,
        `        delete: true\n        guard: { exists: [${yamlString(sentinel)}], min_files: 4 }\n${sshLine()}`,
      ),
    );
    expect(out.step("m").error?.message, JSON.stringify(out.step("m"))).toMatch(
      /holds 3 files, fewer than min_files 4/,
    );
    // The remote sh runs in the login's home directory; a marker there or beside the test would be a shell.
    for (const where of [process.env.HOME ?? "/root", dir, "/"])
      for (const marker of ["pwned-src", "pwned-tick", "pwned-sentinel"])
        expect(fs.existsSync(path.join(where, marker)), `${where}/${marker}`).toBe(false);
  });
});
