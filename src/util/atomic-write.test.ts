import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import {
  isAtomicTempName,
  isDiskFullError,
  removeStaleTempFiles,
  tempPathFor,
  writeFileAtomic,
  writeStreamAtomic,
} from "./atomic-write.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-atomic-"));
  dirs.push(d);
  return d;
};

describe("atomic writes", () => {
  it("replaces the target whole, with the given mode, leaving no temp file", async () => {
    const d = tmp();
    const target = path.join(d, "latest");
    fs.writeFileSync(target, "old");
    await writeFileAtomic(target, "new\n", { mode: 0o600 });
    expect(fs.readFileSync(target, "utf8")).toBe("new\n");
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(d)).toEqual(["latest"]);
  });

  it("streams chunks through a transform", async () => {
    const d = tmp();
    const target = path.join(d, "out");
    const upper = new Transform({
      transform: (chunk: Buffer, _e, cb) => cb(null, chunk.toString().toUpperCase()),
    });
    await writeStreamAtomic(
      target,
      (async function* () {
        await Promise.resolve();
        yield "ab";
        yield "cd";
      })(),
      { transform: upper },
    );
    expect(fs.readFileSync(target, "utf8")).toBe("ABCD");
  });

  it("keeps the old file and removes the temp file when the source fails midway", async () => {
    const d = tmp();
    const target = path.join(d, "manifest");
    fs.writeFileSync(target, "good");
    const failing = (function* () {
      yield "partial";
      throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    })();
    const err = await writeStreamAtomic(target, failing).catch((e: unknown) => e);
    expect(isDiskFullError(err)).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toBe("good");
    expect(fs.readdirSync(d)).toEqual(["manifest"]);
  });

  it("names temp files so a later run can find the ones a dead process left", async () => {
    const d = tmp();
    const temp = tempPathFor(path.join(d, "manifest-1.tsv.gz"));
    expect(isAtomicTempName(path.basename(temp))).toBe(true);
    // A temp file of this (live) process is kept; one of a dead pid is removed.
    fs.writeFileSync(temp, "in flight");
    const dead = path.join(d, ".manifest-2.tsv.gz.tmp-999999999-abcd");
    fs.writeFileSync(dead, "left by a crash");
    expect(await removeStaleTempFiles(d, "manifest-")).toBe(1);
    expect(fs.existsSync(temp)).toBe(true);
    expect(fs.existsSync(dead)).toBe(false);
  });
});
