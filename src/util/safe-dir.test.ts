import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkDirIdentity, makeDirBelow, UnsafeDirError, type UnsafeDirReason } from "./safe-dir.js";

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function base(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-safe-dir-")));
  made.push(d);
  return d;
}
function reason(fn: () => unknown): UnsafeDirReason | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof UnsafeDirError) return err.reason;
    throw err;
  }
}

describe("makeDirBelow", () => {
  it("makes every missing component 0700, whatever the umask, and returns the last one's identity", () => {
    const b = base();
    const old = process.umask(0);
    try {
      const { path: p, identity } = makeDirBelow(b, ["x", "y", "z"]);
      expect(p).toBe(path.join(b, "x", "y", "z"));
      for (const d of ["x", "x/y", "x/y/z"]) expect(fs.statSync(path.join(b, d)).mode & 0o777).toBe(0o700);
      const st = fs.lstatSync(p);
      expect(identity).toEqual({ dev: st.dev, ino: st.ino });
    } finally {
      process.umask(old);
    }
  });

  it("refuses a symlink anywhere, a file on the way, an existing target and directories others may write in", () => {
    const b = base();
    const elsewhere = base();
    fs.mkdirSync(path.join(b, "dir"));
    fs.symlinkSync(elsewhere, path.join(b, "link"));
    fs.symlinkSync(path.join(b, "dir"), path.join(b, "inner-link"));
    fs.writeFileSync(path.join(b, "file"), "");
    fs.mkdirSync(path.join(b, "open"), { mode: 0o777 });
    fs.chmodSync(path.join(b, "open"), 0o1777);
    expect(reason(() => makeDirBelow(b, ["link"]))).toBe("exists");
    expect(reason(() => makeDirBelow(b, ["link", "x"]))).toBe("symlink");
    expect(reason(() => makeDirBelow(b, ["inner-link", "x"]))).toBe("symlink");
    expect(reason(() => makeDirBelow(b, ["file", "x"]))).toBe("not_directory");
    expect(reason(() => makeDirBelow(b, ["dir"]))).toBe("exists");
    expect(reason(() => makeDirBelow(b, ["open", "x"]))).toBe("untrusted");
    expect(reason(() => makeDirBelow(path.join(b, "open"), ["x"]))).toBe("untrusted");
    expect(reason(() => makeDirBelow(b, [".."]))).toBe("io");
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.readdirSync(path.join(b, "dir"))).toEqual([]);
    // An existing, private directory on the way is fine.
    expect(reason(() => makeDirBelow(b, ["dir", "new"]))).toBeNull();
  });
});

describe("checkDirIdentity", () => {
  it("accepts the directory made, and refuses it replaced, swapped for a symlink, or filled", () => {
    const b = base();
    const elsewhere = base();
    const { path: p, identity } = makeDirBelow(b, ["a", "t"]);
    expect(() => checkDirIdentity(p, identity)).not.toThrow();

    fs.writeFileSync(path.join(p, "planted"), "");
    expect(reason(() => checkDirIdentity(p, identity))).toBe("changed");
    expect(() => checkDirIdentity(p, identity, { empty: false })).not.toThrow();
    fs.rmSync(path.join(p, "planted"));

    fs.renameSync(p, path.join(b, "moved"));
    fs.mkdirSync(p);
    expect(reason(() => checkDirIdentity(p, identity))).toBe("changed");

    fs.rmSync(path.join(b, "a"), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(b, "a"));
    fs.mkdirSync(path.join(elsewhere, "t"));
    expect(reason(() => checkDirIdentity(p, identity))).toBe("changed");
  });
});
