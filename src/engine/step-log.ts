// A step's captured output: one plain file while the step runs (so `holdfast logs --follow` can tail
// it), gzipped when the step ends. Every line passes the redactor before it is written.
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

export interface StepLogFile {
  readonly path: string;
  write(line: string): void;
  /** Flushes, compresses, and returns the final path (…log.gz). */
  close(): Promise<string>;
}

export function stepLogPath(stateDir: string, runId: string, index: number, name: string): string {
  return path.join(stateDir, "logs", runId, `${String(index + 1).padStart(2, "0")}-${name}.log`);
}

export function openStepLog(file: string, redact: (text: string) => string): StepLogFile {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const stream = fs.createWriteStream(file, { flags: "a", mode: 0o600 });
  let failed: Error | null = null;
  // A full disk must not crash the run (R7): the error is reported when the log is closed.
  stream.on("error", (err) => {
    failed = err;
  });
  return {
    path: file,
    write(line: string) {
      if (failed) return;
      stream.write(`${redact(line)}\n`);
    },
    async close() {
      await new Promise<void>((resolve) => stream.end(resolve));
      if (failed) throw failed;
      const gz = `${file}.gz`;
      await pipeline(fs.createReadStream(file), createGzip(), fs.createWriteStream(gz, { mode: 0o600 }));
      await fs.promises.rm(file, { force: true });
      return gz;
    },
  };
}

/** Reads a step log whether it is still plain (running) or already compressed. */
export function findStepLog(logPath: string): string | null {
  const candidates = logPath.endsWith(".gz") ? [logPath, logPath.slice(0, -3)] : [logPath, `${logPath}.gz`];
  return candidates.find((p) => fs.existsSync(p)) ?? null;
}
