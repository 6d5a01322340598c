// Issue 12 item 4 through the CLI: a mirror target inside its own source (and the reverse), a local
// repository inside a source it backs up (and the reverse) are refused at load with exit 2 at their
// line — judged by the paths the kernel resolves (a symlink to the source is the source) — while an
// exclude that covers the inner path, or one_file_system with the repository on another device, is fine.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeTempDir, writeConfig } from "../helpers/tmp.js";

async function validate(dir: string, body: string) {
  const config = writeConfig(dir, `version: 1\nstate_dir: ${path.join(dir, "state")}\n${body}`);
  const r = await runCli(["--config", config, "config", "validate"]);
  return { ...r, config };
}

const mirror = (from: string, to: string, extra = "") => `jobs:
  j:
    steps:
      - name: m
        type: mirror
        from: ${JSON.stringify(from)}
        to: ${JSON.stringify(to)}
${extra}`;

const backup = (repo: string, paths: string[], sourceExtra = "") => `repositories:
  local: { url: ${JSON.stringify(repo)}, password_file: /tmp/p }
sources:
  data:
    paths: ${JSON.stringify(paths)}
${sourceExtra}jobs:
  j:
    steps:
      - { name: b, type: backup, source: data, repos: [local] }
`;

describe("paths inside each other", () => {
  it("refuses a mirror into its own source reached through a symlink, at the `to` line", async () => {
    const dir = makeTempDir();
    fs.mkdirSync(path.join(dir, "photos"));
    fs.symlinkSync(path.join(dir, "photos"), path.join(dir, "link"));
    const r = await validate(dir, mirror(`${dir}/link/`, `${dir}/photos/.mirror/`));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${r.config}:9:13  jobs.j.steps[0].to`);
    expect(r.stderr).toContain("every run would copy the previous mirror into the next one");
    expect(r.stderr).toContain('exclude: ["/.mirror/"]');
  });

  it("accepts the same mirror when its exclude covers the target", async () => {
    const dir = makeTempDir();
    fs.mkdirSync(path.join(dir, "photos"));
    const r = await validate(
      dir,
      mirror(`${dir}/photos/`, `${dir}/photos/.mirror/`, '        exclude: ["/.mirror/"]\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    // Without the trailing slash rsync copies the directory itself: its name leads the pattern.
    const named = await validate(
      dir,
      mirror(`${dir}/photos`, `${dir}/photos/m/`, '        exclude: ["/photos/m"]\n'),
    );
    expect(named.code, named.stderr).toBe(0);
  });

  it("refuses a mirror whose target holds its source, and one onto itself", async () => {
    const dir = makeTempDir();
    const inside = await validate(dir, mirror(`${dir}/disk/photos/`, `${dir}/disk`));
    expect(inside.code, inside.stderr).toBe(2);
    expect(inside.stderr).toContain("delete the source itself");
    const same = await validate(dir, mirror(`${dir}/a/`, `${dir}/a/`));
    expect(same.code, same.stderr).toBe(2);
    expect(same.stderr).toContain("is its own source");
  });

  it("refuses a local repository inside the source it backs up (relative and symlinked paths resolved)", async () => {
    const dir = makeTempDir();
    fs.mkdirSync(path.join(dir, "home/sig"), { recursive: true });
    fs.symlinkSync(path.join(dir, "home/sig"), path.join(dir, "sig"));
    const r = await validate(dir, backup("./sig/backups/restic", [`${dir}/home/sig`]));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/holdfast\.yaml:\d+:\d+ {2}jobs\.j\.steps\[0\]\.repos\[0\] {2}repository local/);
    expect(r.stderr).toContain("grows every run");
    expect(r.stderr).toContain("sources.data.exclude");
  });

  it("accepts it when the source excludes it, marks it with exclude_if_present, or stays on its own device", async () => {
    const dir = makeTempDir();
    const home = path.join(dir, "home");
    fs.mkdirSync(path.join(home, "backups/restic"), { recursive: true });
    const repo = path.join(home, "backups/restic");
    const byPattern = await validate(dir, backup(repo, [home], '    exclude: ["backups"]\n'));
    expect(byPattern.code, byPattern.stderr).toBe(0);
    const byAbsolute = await validate(dir, backup(repo, [home], `    exclude: [${JSON.stringify(repo)}]\n`));
    expect(byAbsolute.code, byAbsolute.stderr).toBe(0);

    const unmarked = await validate(dir, backup(repo, [home], "    exclude_if_present: [.nobackup]\n"));
    expect(unmarked.code, unmarked.stderr).toBe(2);
    fs.writeFileSync(path.join(home, "backups/.nobackup"), "");
    const marked = await validate(dir, backup(repo, [home], "    exclude_if_present: [.nobackup]\n"));
    expect(marked.code, marked.stderr).toBe(0);
  });

  it("one_file_system: a repository on another device is not in the backup", async (ctx) => {
    const other = "/dev/shm";
    if (!fs.existsSync(other) || fs.statSync(other).dev === fs.statSync("/tmp").dev)
      return ctx.skip("needs /dev/shm on a device of its own");
    const dir = makeTempDir();
    const repo = fs.mkdtempSync(path.join(other, "holdfast-repo-"));
    try {
      const same = await validate(dir, backup(repo, ["/"]));
      expect(same.code, same.stderr).toBe(2);
      const ofs = await validate(dir, backup(repo, ["/"], "    one_file_system: true\n"));
      expect(ofs.code, ofs.stderr).toBe(0);
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  it("refuses a source inside the repository, and leaves remote repositories alone", async () => {
    const dir = makeTempDir();
    const r = await validate(dir, backup(`${dir}/restic`, [`${dir}/restic/data`]));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("use a copy step");
    const rest = await validate(dir, backup("rest:http://127.0.0.1:1/data", [`${dir}`]));
    expect(rest.code, rest.stderr).toBe(0);
  });
});
