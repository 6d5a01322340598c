// A mirror whose destination is full (bytes or inodes) or read-only (issue 12 item 15): real rsync into
// a small tmpfs mounted here (as root; skipped with a message where mounting is not allowed). rsync says
// code 11 when a write fails and code 23 when mkstemp fails for lack of inodes — either way most files
// are missing from the mirror, so the step fails with kind `disk_full`, never a `partial` warning.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/tmp.js";
import { runJobWith, yamlString } from "./run-helpers.js";

const mounted: string[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) spawnSync("umount", ["-l", m]);
});

function mountTmpfs(dir: string, options: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
  if (r.status !== 0) return false;
  mounted.push(dir);
  return true;
}

function source(dir: string, files: number, size: number): string {
  const src = path.join(dir, "src");
  fs.mkdirSync(src, { recursive: true });
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), crypto.randomBytes(size));
  return src;
}

const job = (from: string, to: string) => `jobs:
  j:
    steps:
      - name: m
        type: mirror
        from: ${yamlString(`${from}/`)}
        to: ${yamlString(to)}
`;

describe("mirror to a full or read-only destination", () => {
  it("out of space: failed, disk_full, naming rsync's own line", async (ctx) => {
    const dir = makeTempDir("holdfast-mirror-full-");
    const target = path.join(dir, "target");
    if (!mountTmpfs(target, "size=512k")) return ctx.skip();
    const src = source(dir, 50, 50_000);
    const out = await runJobWith(dir, job(src, path.join(target, "m")));
    const { cli } = out;
    const step = (name: string) => out.step(name);
    expect(cli.code).toBe(1);
    const m = step("m");
    expect(m.status).toBe("failed");
    expect(m.error.kind).toBe("disk_full");
    expect(m.error.message).toMatch(/out of space .*No space left on device/);
    expect(m.error.hint).toContain("df -i");
  });

  it("out of inodes: failed, disk_full (rsync says code 23, which used to be a `partial` warning)", async (ctx) => {
    const dir = makeTempDir("holdfast-mirror-inodes-");
    const target = path.join(dir, "target");
    if (!mountTmpfs(target, "size=64m,nr_inodes=12")) return ctx.skip();
    const src = source(dir, 50, 100);
    const out = await runJobWith(dir, job(src, path.join(target, "m")));
    const { cli } = out;
    const step = (name: string) => out.step(name);
    expect(cli.code).toBe(1);
    const m = step("m");
    expect(m.status).toBe("failed");
    expect(m.error.kind).toBe("disk_full");
    expect(m.error.message).toContain("No space left on device");
    // Most of the source is missing from the mirror: that is why this is no warning.
    expect(fs.readdirSync(path.join(target, "m")).length).toBeLessThan(50);
  });

  it("read-only: failed, disk_full, said as read-only", async (ctx) => {
    const dir = makeTempDir("holdfast-mirror-ro-");
    const target = path.join(dir, "target");
    if (!mountTmpfs(target, "size=1m")) return ctx.skip();
    fs.mkdirSync(path.join(target, "m"));
    spawnSync("mount", ["-o", "remount,ro", target]);
    const src = source(dir, 5, 100);
    const out = await runJobWith(dir, job(src, path.join(target, "m")));
    const { cli } = out;
    const step = (name: string) => out.step(name);
    expect(cli.code).toBe(1);
    const m = step("m");
    expect(m.error.kind).toBe("disk_full");
    expect(m.error.message).toMatch(/read-only: .*Read-only file system/);
  });
});
