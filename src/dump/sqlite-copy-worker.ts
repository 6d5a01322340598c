// The SQLite half of the dump step, on a worker thread: `VACUUM INTO` writes a consistent copy of a
// live database (one read transaction; a writer may go on meanwhile) and `PRAGMA quick_check` reads
// the copy back. better-sqlite3 is synchronous, so this runs off the step's thread (cancel, timers and
// progress keep working); sqlite-copy.ts calls copyDatabase inline where no worker file exists.
import { parentPort, workerData } from "node:worker_threads";
import { copyDatabase } from "./sqlite-copy-core.js";

const { source, target } = workerData as { source: string; target: string };
try {
  parentPort?.postMessage({ ok: true, ...copyDatabase(source, target) });
} catch (err) {
  parentPort?.postMessage({ ok: false, message: (err as Error).message });
}
