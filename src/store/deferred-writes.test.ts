// The commands' view of the history (store/deferred-writes.ts) against a real SQLite file whose write
// lock another connection holds (BEGIN EXCLUSIVE, as a `sqlite3` shell left in a transaction would):
// a write neither throws nor stalls, reads see it at once, it reaches the database when the lock goes,
// and what is still queued at close is kept and made by the next process that can.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "./sqlite/sqlite-store.js";
import { deferWritesWhileLocked } from "./deferred-writes.js";
import { addPendingRecords, listPendingWrites, pendingDirs } from "./resilient-store.js";

const dirs: string[] = [];
const others: Database.Database[] = [];
afterEach(() => {
  for (const o of others.splice(0)) if (o.open) o.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function lockedHistory() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-deferred-"));
  dirs.push(dir);
  const file = path.join(dir, "history.db");
  await createSqliteStore({ path: file }).close();
  const other = new Database(file);
  others.push(other);
  other.exec("BEGIN EXCLUSIVE");
  const stateOf = (key: string) =>
    (other.prepare("SELECT value FROM state WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  return { dir, file, other, stateOf };
}

const open = (file: string, dir: string, lines: string[], closeWaitMs = 0) =>
  deferWritesWhileLocked(createSqliteStore({ path: file, writeBusyTimeoutMs: 50 }), {
    pendingDirs: pendingDirs(dir),
    pendingFiles: listPendingWrites(dir),
    log: (l) => lines.push(l),
    closeWaitMs,
    retryDelayMs: 20,
  });

describe("writes while another process holds the history's write lock", () => {
  it("are queued (no error, no 5 s stall), read back at once, and made when the lock goes", async () => {
    const { dir, file, other, stateOf } = await lockedHistory();
    const lines: string[] = [];
    const store = open(file, dir, lines);
    const started = Date.now();
    await store.setState("first_seen:j", "2026-12-01T00:00:00.000Z");
    await store.setState("notify:stale:j", "2026-12-01T00:00:01.000Z");
    // Before the fix this threw SQLITE_BUSY after the 5 s busy timeout (and `watch` went stale).
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await store.getState("first_seen:j")).toBe("2026-12-01T00:00:00.000Z");
    expect(store.queuedWrites()).toBe(2);
    expect(lines.join("\n")).toMatch(/locked by another process/);
    other.exec("ROLLBACK");
    const deadline = Date.now() + 5_000;
    while (store.queuedWrites() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(store.queuedWrites()).toBe(0);
    expect(stateOf("first_seen:j")).toBe("2026-12-01T00:00:00.000Z");
    expect(stateOf("notify:stale:j")).toBe("2026-12-01T00:00:01.000Z");
    await store.close();
    expect(listPendingWrites(dir)).toEqual([]);
  });

  it("still queued at close: kept in pending-history/, read as the newest state meanwhile, made by the next process", async () => {
    const { dir, file, other, stateOf } = await lockedHistory();
    const lines: string[] = [];
    const first = open(file, dir, lines);
    await first.setState("notify:stale:j", "2026-12-01T00:00:01.000Z");
    await first.setState("notify:outcome:j", "stale");
    await first.close();
    const kept = listPendingWrites(dir);
    expect(kept).toHaveLength(1);
    expect(lines.join("\n")).toMatch(/2 history writes are kept in .*writes-/);

    // A second process under the same lock sees the open episode (no second `stale` notification).
    const second = open(file, dir, []);
    expect(await second.getState("notify:stale:j")).toBe("2026-12-01T00:00:01.000Z");
    await second.close();

    other.exec("ROLLBACK");
    const next = createSqliteStore({ path: file });
    await addPendingRecords(next, dir);
    await next.close();
    expect(stateOf("notify:stale:j")).toBe("2026-12-01T00:00:01.000Z");
    expect(stateOf("notify:outcome:j")).toBe("stale");
    expect(listPendingWrites(dir)).toEqual([]);
  });

  it("close waits for a lock that goes away within its wait", async () => {
    const { dir, file, other, stateOf } = await lockedHistory();
    const store = open(file, dir, [], 3_000);
    await store.setState("k", "v");
    setTimeout(() => other.exec("ROLLBACK"), 300);
    await store.close();
    expect(stateOf("k")).toBe("v");
    expect(listPendingWrites(dir)).toEqual([]);
  });

  it("every other error is the caller's, as before", async () => {
    const { dir, file, other } = await lockedHistory();
    other.exec("ROLLBACK");
    const store = open(file, dir, []);
    await expect(store.updateStep("no-such-run", 0, { status: "running" })).rejects.toThrow(
      /no run no-such-run/,
    );
    expect(store.queuedWrites()).toBe(0);
    await store.close();
  });
});
