// A consistent copy of a live SQLite database in a private directory, for the dump step to stream
// into restic. SQLite cannot write a consistent copy into a pipe (VACUUM INTO and the backup API
// both write a database file, seeking), so this is the one engine whose dump touches the disk: the
// copy is made 0600 in a fresh 0700 directory and removed once restic has read it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { makePrivateTempDir } from "../util/private-temp.js";
import { copyDatabase, type SqliteCopyResult } from "./sqlite-copy-core.js";

// "../dump/…" resolves from dist/dump/ (tsc) and from dist/cli/program-bundle.cjs (the bundle) alike.
const WORKER_URL = new URL("../dump/sqlite-copy-worker.js", import.meta.url);

export interface SqliteCopy {
  file: string;
  size: number;
  check: string;
  cleanup(): void;
}

export async function copySqlite(source: string, signal: AbortSignal): Promise<SqliteCopy> {
  const dir = makePrivateTempDir("holdfast-sqlite-");
  const file = path.join(dir, "copy.sqlite3");
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const result = fs.existsSync(fileURLToPath(WORKER_URL))
      ? await inWorker(source, file, signal)
      : copyDatabase(source, file);
    fs.chmodSync(file, 0o600);
    return { file, size: fs.statSync(file).size, check: result.check, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

function inWorker(source: string, target: string, signal: AbortSignal): Promise<SqliteCopyResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: { source, target } });
    const onAbort = () => {
      void worker.terminate();
      reject(new Error("the copy was stopped"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    worker.once("message", (m: { ok: boolean; check?: string; message?: string }) => {
      signal.removeEventListener("abort", onAbort);
      void worker.terminate();
      if (m.ok) resolve({ check: m.check ?? "" });
      else reject(new Error(m.message ?? "the copy failed"));
    });
    worker.once("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}
