// The manifest step through the built CLI, on real trees: exact diffs, the anomaly guard stopping the
// job, generations, hashes, and a full disk (a 64 KiB tmpfs) that must leave the last good manifest.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, writeTree } from "../helpers/tmp.js";
import { runJobWith } from "./run-helpers.js";

function readManifest(file: string): string[] {
  return zlib.gunzipSync(fs.readFileSync(file)).toString("utf8").split("\n").filter(Boolean);
}

function latestOf(output: string): string {
  return path.join(output, fs.readFileSync(path.join(output, "latest"), "utf8").trim());
}

function plant(root: string, dirs = 4, perDir = 10): void {
  const files: Record<string, string> = {};
  for (let d = 0; d < dirs; d++)
    for (let f = 0; f < perDir; f++) files[`d${d}/f${f}.txt`] = `content ${d}/${f}\n`;
  writeTree(root, files);
}

const job = (dataDir: string, output: string, extra = "", after = "") => `jobs:
  j:
    steps:
      - name: gen-manifest
        type: manifest
        paths: [${JSON.stringify(dataDir)}]
        output: ${JSON.stringify(output)}
${extra}${after}`;

describe("manifest", () => {
  it("reports planted additions, removals and changes exactly", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    const output = path.join(dir, "manifests");
    plant(data);
    const first = await runJobWith(dir, job(data, output));
    expect(first.cli.code, first.cli.stderr).toBe(0);
    const s1 = first.step("gen-manifest").summary;
    expect(s1).toMatchObject({
      files: 40,
      dirs: 5,
      entries: 45,
      bytes: 40 * 12,
      previous: null,
      promoted: true,
    });
    const lines = readManifest(s1.manifest);
    expect(lines[0]).toMatch(/^#holdfast-manifest v1\t\{/);
    expect(lines).toHaveLength(46);
    expect(lines).toContain(
      `${data}/d0/f0.txt\tf\t12\t${Math.trunc(fs.statSync(`${data}/d0/f0.txt`).mtimeMs)}\t644\t`,
    );

    // Plant: 3 additions (one in a new directory), 2 removals, 2 changes (content+size, mode).
    writeTree(data, { "d0/new1.txt": "n1", "d9/new2.txt": "new two", "d3/new3.txt": "" });
    fs.rmSync(`${data}/d1/f1.txt`);
    fs.rmSync(`${data}/d2/f2.txt`);
    fs.writeFileSync(`${data}/d3/f3.txt`, "changed content, longer\n");
    fs.chmodSync(`${data}/d0/f5.txt`, 0o600);

    const second = await runJobWith(dir, job(data, output));
    const step = second.step("gen-manifest");
    expect(step.status).toBe("succeeded");
    expect(step.summary).toMatchObject({
      previous: s1.manifest,
      previous_files: 40,
      files_added: 3,
      files_removed: 2,
      files_changed: 2,
      dirs_added: 1,
      dirs_removed: 0,
      bytes_added: 2 + 7 + 0,
      bytes_removed: 12 + 12,
      bytes_changed: 24 + 12,
      promoted: true,
    });
    const diffLines = readManifest(step.summary.diff).map((l) => l.split("\t").slice(0, 2).join(" "));
    expect(diffLines.sort()).toEqual(
      [
        `A ${data}/d0/new1.txt`,
        `A ${data}/d9`,
        `A ${data}/d9/new2.txt`,
        `A ${data}/d3/new3.txt`,
        `R ${data}/d1/f1.txt`,
        `R ${data}/d2/f2.txt`,
        `C ${data}/d3/f3.txt`,
        `C ${data}/d0/f5.txt`,
      ].sort(),
    );
    expect(latestOf(output)).toBe(step.summary.manifest);
  });

  it("fails with kind anomaly when half the tree is deleted, skips the later steps, and keeps comparing with the last good manifest", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    const output = path.join(dir, "manifests");
    plant(data, 4, 25);
    const after = `      - { name: backup-after, type: exec, command: [touch, ${JSON.stringify(path.join(dir, "backup-ran"))}] }\n`;
    const body = job(data, output, "        max_removed: 20%\n        max_changed: 50%\n", after);
    const good = await runJobWith(dir, body);
    expect(good.run.status).toBe("succeeded");
    const goodManifest = good.step("gen-manifest").summary.manifest;
    fs.rmSync(path.join(dir, "backup-ran"));

    fs.rmSync(path.join(data, "d1"), { recursive: true });
    fs.rmSync(path.join(data, "d3"), { recursive: true });
    for (let f = 0; f < 3; f++) fs.rmSync(path.join(data, `d0/f${f}.txt`));
    const bad = await runJobWith(dir, body);
    const step = bad.step("gen-manifest");
    expect(step.status).toBe("failed");
    expect(step.error.kind).toBe("anomaly");
    expect(step.error.message).toContain("53 of 100 files (53.0%) were removed (limit 20.0%)");
    expect(step.error.message).toContain(`most affected: ${data}/d1 (25), ${data}/d3 (25), ${data}/d0 (3)`);
    expect(step.error.hint).toContain("latest");
    expect(step.summary).toMatchObject({ files_removed: 53, promoted: false });
    expect(bad.step("backup-after").status).toBe("skipped");
    expect(fs.existsSync(path.join(dir, "backup-ran"))).toBe(false);
    expect(bad.cli.code).toBe(1);
    // Not promoted: `latest` still names the good manifest, and the anomalous one is kept to look at.
    expect(latestOf(output)).toBe(goodManifest);
    expect(fs.existsSync(step.summary.manifest)).toBe(true);

    // The next run compares with the good one again: still an anomaly, not a new normal.
    const again = await runJobWith(dir, body);
    expect(again.step("gen-manifest")).toMatchObject({ status: "failed", error: { kind: "anomaly" } });
    expect(again.step("gen-manifest").summary.previous).toBe(goodManifest);

    // Accepting the change as the hint says makes the next run pass.
    fs.writeFileSync(
      path.join(output, "latest"),
      `${path.basename(again.step("gen-manifest").summary.manifest)}\n`,
    );
    const accepted = await runJobWith(dir, body);
    expect(accepted.run.status).toBe("succeeded");
    expect(accepted.step("backup-after").status).toBe("succeeded");
  });

  it("fails on mass changes beyond max_changed, and a missing path is not an empty tree", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    const output = path.join(dir, "manifests");
    plant(data, 2, 10);
    const body = job(data, output, "        max_changed: 30%\n");
    expect((await runJobWith(dir, body)).run.status).toBe("succeeded");
    // Ransomware-like: every file rewritten.
    for (let d = 0; d < 2; d++)
      for (let f = 0; f < 10; f++) fs.writeFileSync(`${data}/d${d}/f${f}.txt`, "encrypted!!!!!!!!!!!");
    const bad = await runJobWith(dir, body);
    expect(bad.step("gen-manifest").error.kind).toBe("anomaly");
    expect(bad.step("gen-manifest").error.message).toContain("20 of 20 files (100.0%) changed (limit 30.0%)");

    fs.rmSync(data, { recursive: true });
    const missing = await runJobWith(dir, body);
    expect(missing.step("gen-manifest")).toMatchObject({ status: "failed", error: { kind: "not_found" } });
    expect(missing.step("gen-manifest").error.message).toContain("does not exist");
  });

  it("walks sources with their excludes and hashes with sha256", async () => {
    const dir = makeTempDir();
    const home = path.join(dir, "home");
    writeTree(home, {
      "doc.txt": "abc",
      ".cache/x": "x",
      "p/node_modules/m.js": "m",
      "p/a.js": "a",
      "s/.nobackup": "",
      "s/big": "b",
    });
    const output = path.join(dir, "manifests");
    const body = `sources:
  home:
    paths: [${JSON.stringify(home)}]
    exclude: [${JSON.stringify(`${home}/.cache`)}, "**/node_modules"]
    exclude_if_present: [.nobackup]
jobs:
  j:
    steps:
      - { name: m, type: manifest, sources: [home], output: ${JSON.stringify(output)}, hash: sha256 }
`;
    const out = await runJobWith(dir, body);
    expect(out.step("m").status, JSON.stringify(out.step("m"))).toBe("succeeded");
    const lines = readManifest(out.step("m").summary.manifest).slice(1);
    // As in the snapshot: a tagged directory keeps its tag file and nothing else.
    expect(lines.map((l) => path.relative(home, l.split("\t")[0]!) || ".").sort()).toEqual(
      [".", "doc.txt", "p", "p/a.js", "s", "s/.nobackup"].sort(),
    );
    const doc = lines.find((l) => l.startsWith(`${home}/doc.txt\t`))!;
    expect(doc.split("\t")[5]).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    // Same size and mtime, different content: only the hash sees it.
    const file = `${home}/doc.txt`;
    const { atime, mtime } = fs.statSync(file);
    fs.writeFileSync(file, "xyz");
    fs.utimesSync(file, atime, mtime);
    const again = await runJobWith(dir, body);
    expect(again.step("m").summary).toMatchObject({ files_changed: 1, files_added: 0, files_removed: 0 });
  });

  it("fails as a config error naming a source's missing exclude_file", async () => {
    const dir = makeTempDir();
    const home = path.join(dir, "home");
    writeTree(home, { "doc.txt": "abc" });
    const missing = path.join(dir, "excludes.txt");
    const out = await runJobWith(
      dir,
      `sources:
  home: { paths: [${JSON.stringify(home)}], exclude_file: [${JSON.stringify(missing)}] }
jobs:
  j:
    steps:
      - { name: m, type: manifest, sources: [home], output: ${JSON.stringify(path.join(dir, "manifests"))} }
`,
    );
    expect(out.step("m").status).toBe("failed");
    expect(out.step("m").error).toMatchObject({
      kind: "config",
      message: `source home: exclude_file ${missing} does not exist`,
    });
  });

  it("lists files and directories whose names are not UTF-8, hashed on the worker threads", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    plant(data, 2, 5);
    const latin1Dir = Buffer.concat([Buffer.from(`${data}/Fotos-`), Buffer.from([0xe9, 0x74, 0xe9])]);
    fs.mkdirSync(latin1Dir);
    fs.writeFileSync(Buffer.concat([latin1Dir, Buffer.from("/caf"), Buffer.from([0xe9])]), "latin-1 bytes");
    const output = path.join(dir, "manifests");
    const out = await runJobWith(dir, job(data, output, "        hash: sha256\n"));
    const step = out.step("gen-manifest");
    expect(step.status, JSON.stringify(step)).toBe("succeeded");
    expect(step.summary).toMatchObject({ files: 11, dirs: 4, unreadable: 0, vanished: 0 });
    const sha = createHash("sha256").update("latin-1 bytes").digest("hex");
    expect(readManifest(step.summary.manifest)).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${data}/Fotos-\\\\xe9t\\\\xe9/caf\\\\xe9\\tf\\t13\\t\\d+\\t644\\t${sha}$`),
      ),
    );
  });

  it("warns and starts a new baseline when the previous manifest is damaged", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    const output = path.join(dir, "manifests");
    plant(data, 1, 3);
    const body = job(data, output, "        max_removed: 10%\n");
    expect((await runJobWith(dir, body)).run.status).toBe("succeeded");
    const damaged = latestOf(output);
    fs.truncateSync(damaged, Math.floor(fs.statSync(damaged).size / 2));
    const out = await runJobWith(dir, body);
    expect(out.step("gen-manifest")).toMatchObject({ status: "warning", error: { kind: "partial" } });
    expect(out.step("gen-manifest").error.message).toContain("cannot be read");
    expect(latestOf(output)).toBe(out.step("gen-manifest").summary.manifest);
    expect((await runJobWith(dir, body)).run.status).toBe("succeeded");
  });

  it("keeps `keep` generations and always the one `latest` names", async () => {
    const dir = makeTempDir();
    const data = path.join(dir, "data");
    const output = path.join(dir, "manifests");
    plant(data, 1, 3);
    const body = job(data, output, "        keep: 2\n");
    for (let i = 0; i < 4; i++) {
      writeTree(data, { [`d0/extra${i}.txt`]: String(i) });
      expect((await runJobWith(dir, body)).run.status).toBe("succeeded");
    }
    const names = fs.readdirSync(output).sort();
    expect(names.filter((n) => n.endsWith(".diff.tsv.gz"))).toHaveLength(2);
    expect(names.filter((n) => /^manifest-\d{8}T\d{9}Z\.tsv\.gz$/.test(n))).toHaveLength(2);
    expect(names).toContain("latest");
    expect(fs.existsSync(latestOf(output))).toBe(true);
    expect(names.some((n) => n.includes(".tmp-"))).toBe(false);
  });
});

describe("manifest on a full disk (64 KiB tmpfs)", () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const m of mounts.splice(0)) spawnSync("umount", [m]);
  });

  it("fails with a clear error and leaves the previous good manifest in place", async (ctx) => {
    const dir = makeTempDir();
    const output = path.join(dir, "small-disk");
    fs.mkdirSync(output);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", output]);
    if (mounted.status !== 0) {
      console.warn(`skipping the full-disk test: cannot mount a tmpfs (${mounted.stderr.toString().trim()})`);
      ctx.skip();
      return;
    }
    mounts.push(output);
    const data = path.join(dir, "data");
    plant(data, 2, 5);
    const first = await runJobWith(dir, job(data, output));
    expect(first.step("gen-manifest").status).toBe("succeeded");
    const good = latestOf(output);
    const goodBytes = fs.readFileSync(good);

    // Random names do not compress: this manifest cannot fit in what is left of 64 KiB.
    const many: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) many[`bulk/${randomBytes(24).toString("hex")}`] = "";
    writeTree(data, many);
    const full = await runJobWith(dir, job(data, output));
    const step = full.step("gen-manifest");
    expect(step.status).toBe("failed");
    expect(step.error.message).toContain("no space left");
    expect(step.error.message).toContain(path.basename(good));
    expect(latestOf(output)).toBe(good);
    expect(fs.readFileSync(good).equals(goodBytes)).toBe(true);
    expect(readManifest(good)).toHaveLength(1 + 13);
    const left = fs.readdirSync(output);
    expect(left.filter((n) => n.includes(".tmp-"))).toEqual([]);
    expect(left.filter((n) => n.startsWith("manifest-"))).toEqual([path.basename(good)]);
  });
});
