// The CLI maps every HoldfastError in one place (issue 14 item 2): a user error of a class that
// reportError does not name prints `error:` and its hint, exits with the error's own code and leaves
// no crash file; only a bug (not a HoldfastError, or kind "internal") is printed as an internal error.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXIT, HoldfastError, UsageError } from "../errors.js";
import { parseEnvText } from "../util/env-file.js";
import { InstallConflictError } from "../scheduler/install.js";
import { reportError } from "./program.js";

function crashFiles(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`holdfast-crash-${process.pid}-`));
}

function report(err: unknown): { code: number; stderr: string } {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: reportError(err, undefined), stderr };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  for (const f of crashFiles()) fs.rmSync(path.join(os.tmpdir(), f), { force: true });
});

describe("reportError", () => {
  it("prints an env file mistake (a class the CLI does not name) as a user error with exit 2", () => {
    let thrown: unknown;
    try {
      parseEnvText("NOT A VALID LINE", "/etc/holdfast/restic.env");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HoldfastError);
    const { code, stderr } = report(thrown);
    expect(code).toBe(EXIT.usage);
    expect(stderr).toMatch(/^error: \/etc\/holdfast\/restic\.env:1: /);
    expect(stderr).not.toContain("internal error");
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(crashFiles()).toEqual([]);
  });

  it("uses the error's exit code and hint, whatever its class", () => {
    class UnheardOfError extends HoldfastError {
      constructor() {
        super("the thing is busy", { kind: "busy", hint: "try again later", exitCode: EXIT.busy });
      }
    }
    expect(report(new UnheardOfError())).toEqual({
      code: EXIT.busy,
      stderr: "error: the thing is busy\nhint: try again later\n",
    });
    expect(report(new InstallConflictError(["/etc/systemd/system/x.timer"])).code).toBe(EXIT.failed);
    expect(report(new UsageError("bad flag", "see --help"))).toEqual({
      code: EXIT.usage,
      stderr: "error: bad flag\nhint: see --help\n",
    });
    expect(crashFiles()).toEqual([]);
  });

  it("prints a bug as an internal error with the trace in a file", () => {
    const plain = report(new TypeError("x is undefined"));
    expect(plain.code).toBe(EXIT.failed);
    expect(plain.stderr).toContain("internal error: x is undefined");
    const internal = report(new HoldfastError("parser confused", { kind: "internal" }));
    expect(internal.stderr).toContain("internal error: parser confused");
    expect(crashFiles()).toHaveLength(2);
  });
});
