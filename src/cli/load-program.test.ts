import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { commandOf, readTrustedCache } from "./load-program.js";

describe("commandOf: which command's bytecode to load", () => {
  it("skips global flags and the value of --config", () => {
    expect(commandOf(["run", "-q"])).toBe("run");
    expect(commandOf(["--config", "my-config", "run", "-q"])).toBe("run");
    expect(commandOf(["-c", "status", "history"])).toBe("history");
    expect(commandOf(["--json", "status"])).toBe("status");
  });

  it("names no command for help, odd words or nothing", () => {
    expect(commandOf([])).toBeNull();
    expect(commandOf(["--help"])).toBeNull();
    expect(commandOf(["../../etc/passwd"])).toBeNull();
    expect(commandOf(["Run"])).toBeNull();
    expect(commandOf(["--", "run"])).toBeNull();
  });
});

describe("readTrustedCache: bytecode is read only from this user's private files", () => {
  function cacheIn(dirMode: number, fileMode: number): string {
    const dir = path.join(makeTempDir(), "v8");
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chmodSync(dir, dirMode);
    const file = path.join(dir, "build-run.bin");
    fs.writeFileSync(file, "bytecode");
    fs.chmodSync(file, fileMode);
    return file;
  }

  it("reads a 0600 file in a 0700 directory", () => {
    expect(readTrustedCache(cacheIn(0o700, 0o600))?.toString()).toBe("bytecode");
  });

  it("refuses a directory others may write, a file others may read or write, and a link", () => {
    expect(readTrustedCache(cacheIn(0o777, 0o600))).toBeUndefined();
    expect(readTrustedCache(cacheIn(0o700, 0o644))).toBeUndefined();
    expect(readTrustedCache(cacheIn(0o700, 0o666))).toBeUndefined();
    const target = cacheIn(0o700, 0o600);
    const link = path.join(path.dirname(target), "link-run.bin");
    fs.symlinkSync(target, link);
    expect(readTrustedCache(link)).toBeUndefined();
  });

  it("is undefined for a missing file", () => {
    expect(readTrustedCache(path.join(makeTempDir(), "v8", "none.bin"))).toBeUndefined();
  });
});
