// The run's view of the history (issue 12 items 7, 8) against a real SQLite file: a lock held by
// another connection delays the record, never loses it; an unusable database is named by settle()
// and the record is kept pending, then added by the next store that can take it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "./sqlite/sqlite-store.js";
import { addPendingRecords, createResilientStore, listPendingRecords } from "./resilient-store.js";
import type { NewRun } from "./types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-resilient-"));
  dirs.push(d);
  return d;
}

const newRun = (id: string): NewRun => ({
  id,
  job: "j",
  host: "h",
  trigger: "manual",
  pid: 1,
  started_at: "2026-12-01T03:00:00.000Z",
  steps: [{ name: "a", type: "exec" }],
});

async function recordWholeRun(store: ReturnType<typeof createResilientStore>, id: string) {
  await store.createRun(newRun(id));
  await store.updateStep(id, 0, { status: "running", started_at: "2026-12-01T03:00:01.000Z" });
  await store.updateStep(id, 0, {
    status: "succeeded",
    finished_at: "2026-12-01T03:00:02.000Z",
    duration_ms: 1000,
  });
  await store.finishRun(id, {
    status: "succeeded",
    exit_code: 0,
    finished_at: "2026-12-01T03:00:02.000Z",
    duration_ms: 2000,
  });
}

describe("the resilient run history", () => {
  it("goes on while another connection holds the write lock and writes the whole record after it", async () => {
    const dir = tempDir();
    const file = path.join(dir, "history.db");
    await createSqliteStore({ path: file }).close();
    const other = new Database(file);
    other.exec("BEGIN EXCLUSIVE");
    const lines: string[] = [];
    const store = createResilientStore({
      open: () => createSqliteStore({ path: file, busyTimeoutMs: 10 }),
      stateDir: dir,
      log: (l) => lines.push(l),
      retryDelayMs: 20,
    });
    await recordWholeRun(store, "r1");
    expect((await store.getRun("r1"))?.status).toBe("succeeded");
    expect(lines.join("\n")).toMatch(/locked by another process/);
    other.exec("ROLLBACK");
    other.close();
    expect(await store.settle()).toBeNull();
    await store.close();
    const check = createSqliteStore({ path: file, readonly: true });
    const stored = await check.getRun("r1");
    expect(stored?.status).toBe("succeeded");
    expect(stored?.steps[0]).toMatchObject({ status: "succeeded", duration_ms: 1000 });
    await check.close();
  });

  it("names an unusable database in settle() and keeps the record pending until a usable store adds it", async () => {
    const dir = tempDir();
    const file = path.join(dir, "history.db");
    fs.writeFileSync(file, "this is not a database, it is a text file that replaced it".repeat(100));
    const store = createResilientStore({
      open: () => createSqliteStore({ path: file }),
      stateDir: dir,
      log: () => undefined,
    });
    await recordWholeRun(store, "r2");
    const error = await store.settle();
    expect(error?.kind).toBe("history");
    expect(error?.message).toMatch(/not a holdfast history database/);
    await store.close();
    expect(listPendingRecords(dir).map((f) => path.basename(f))).toEqual(["r2.json"]);

    fs.rmSync(file);
    const fresh = createSqliteStore({ path: file });
    expect(await addPendingRecords(fresh, dir)).toBe(1);
    expect((await fresh.getRun("r2"))?.status).toBe("succeeded");
    expect(listPendingRecords(dir)).toEqual([]);
    await fresh.close();
  });
});
