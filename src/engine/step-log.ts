// A step's captured output: one plain file while the step runs (so `holdfast logs --follow` can tail
// it), gzipped when the step ends. Every line passes the redactor before it is written.
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { NO_FOLLOW, openFlags } from "../util/trusted-dir.js";
import { HoldfastError } from "../errors.js";

export interface StepLogFile {
  readonly path: string;
  write(line: string): void;
  /** Flushes, compresses, and returns the final path (…log.gz). */
  close(): Promise<string>;
}

export function stepLogPath(stateDir: string, runId: string, index: number, name: string): string {
  return path.join(stateDir, "logs", runId, `${String(index + 1).padStart(2, "0")}-${name}.log`);
}

// What stays of a log that ran into a full disk: enough to see what the step was doing, small
// enough that the history database can still record the run (the record matters more than the log).
const KEEP_ON_FULL_DISK = 64 * 1024;

export function openStepLog(file: string, redact: (text: string) => string): StepLogFile {
  let failed: Error | null = null;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    // A read-only or full state dir: the step runs all the same (its output still reaches the
    // terminal or journal); the missing log is reported when the step ends.
    failed = err as Error;
  }
  // Never through a symlink planted where the log goes (the state dir is checked; this is the last line).
  const stream = failed
    ? null
    : fs.createWriteStream(file, {
        flags: openFlags(fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | NO_FOLLOW),
        mode: 0o600,
      });
  // A full disk must not crash the run (R7): stop writing, give the space back, report it at close.
  stream?.on("error", (err) => {
    if (failed) return;
    failed = err;
    stream.destroy();
    try {
      if (fs.statSync(file).size > KEEP_ON_FULL_DISK) fs.truncateSync(file, KEEP_ON_FULL_DISK);
      fs.appendFileSync(file, `\nholdfast: log cut here: ${err.message}\n`);
    } catch {
      /* nothing more can be done for the log; the error is reported at close */
    }
  });
  return {
    path: file,
    write(line: string) {
      if (failed || !stream) return;
      stream.write(`${redact(line)}\n`);
    },
    async close() {
      if (!failed && stream) await new Promise<void>((resolve) => stream.end(resolve));
      if (failed) throw new StepLogError(file, failed);
      const gz = `${file}.gz`;
      try {
        await pipeline(
          fs.createReadStream(file, { flags: openFlags(fs.constants.O_RDONLY | NO_FOLLOW) }),
          createGzip(),
          fs.createWriteStream(gz, {
            flags: openFlags(fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | NO_FOLLOW),
            mode: 0o600,
          }),
        );
      } catch (err) {
        // Compression needs space too; the plain log is still there and complete.
        await fs.promises.rm(gz, { force: true });
        throw new StepLogError(file, err as Error);
      }
      await fs.promises.rm(file, { force: true });
      return gz;
    },
  };
}

/** The step's log could not be written in full; `path` holds what was kept. */
export class StepLogError extends HoldfastError {
  readonly path: string;
  constructor(file: string, cause: Error) {
    super(`cannot write the step log ${file}: ${cause.message}`, { kind: "permission", cause });
    this.name = "StepLogError";
    this.path = file;
  }
}

/**
 * Why a recorded log path must not be read, or null. Log paths come from the history database, and
 * only files holdfast wrote are read back: STATE/logs/RUN/NN-step.log[.gz], with no symlink for
 * logs/ or RUN/ (the file itself is opened with O_NOFOLLOW by the readers).
 */
export function stepLogRefusal(stateDir: string, logPath: string): string | null {
  const logsDir = path.resolve(stateDir, "logs");
  const rel = path.relative(logsDir, path.resolve(logPath));
  const parts = rel.split(path.sep);
  if (
    rel.startsWith("..") ||
    path.isAbsolute(rel) ||
    parts.length !== 2 ||
    !/^\d{2}-[^/]+\.log(\.gz)?$/.test(parts[1] as string)
  )
    return `the recorded log path ${logPath} is not a step log under ${logsDir}: not read`;
  for (const dir of [logsDir, path.join(logsDir, parts[0] as string)]) {
    try {
      if (!fs.lstatSync(dir).isDirectory())
        return `${dir} is not a directory: the log ${logPath} is not read`;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * The file to read for a step log, whether it is still plain (running) or already compressed; null
 * when there is none, or when the recorded path is not one holdfast reads (stepLogRefusal).
 */
export function findStepLog(stateDir: string, logPath: string): string | null {
  if (stepLogRefusal(stateDir, logPath) !== null) return null;
  const candidates = logPath.endsWith(".gz") ? [logPath, logPath.slice(0, -3)] : [logPath, `${logPath}.gz`];
  return (
    candidates.find((p) => {
      try {
        return fs.lstatSync(p).isFile();
      } catch {
        return false;
      }
    }) ?? null
  );
}
