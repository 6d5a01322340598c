// The fleet outbox reads a batch's runs in three SQLite reads (readRunsByIds, rows as arrays)
// instead of getRun per run: the records must be the store's own, field for field — steps with
// their summary, targets and error, notifications in order, a run still going, an id not there.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteStore, readRunsByIds } from "../../src/store/sqlite/sqlite-store.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-outbox-read-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("readRunsByIds", () => {
  it("gives the same records as getRun, with each run's seq", async () => {
    const file = path.join(dir, "history.db");
    const store = createSqliteStore({ path: file });
    const t = (m: number) => new Date(Date.UTC(2026, 11, 4, 3, m)).toISOString();
    for (const [k, status] of (["succeeded", "failed", "running"] as const).entries()) {
      const id = `RUN${k}`;
      await store.createRun({
        id,
        job: "nightly",
        host: "h",
        trigger: "schedule",
        pid: 10 + k,
        started_at: t(k),
        steps: [
          { name: "backup", type: "backup" },
          { name: "check", type: "check" },
        ],
      });
      await store.updateStep(id, 0, { status: "running", started_at: t(k), attempts: 1 });
      if (status === "running") continue;
      await store.updateStep(id, 0, {
        status: status === "failed" ? "failed" : "succeeded",
        finished_at: t(k + 1),
        duration_ms: 60_000,
        exit_code: status === "failed" ? 1 : 0,
        summary: { files_new: 3, data_added: 1234 },
        targets: [
          { repo: "main", status: "succeeded", duration_ms: 5, error: null, snapshot_id: "abcd1234" },
        ],
        ...(status === "failed" ? { error: { kind: "network", message: "down", hint: "retry" } } : {}),
      });
      await store.finishRun(id, {
        status,
        exit_code: status === "failed" ? 1 : 0,
        finished_at: t(k + 1),
        duration_ms: 60_000,
      });
      await store.addNotification(id, {
        notifier: "ops",
        event: status,
        ok: true,
        at: t(k + 2),
        attempts: 1,
        error: null,
      });
      await store.addNotification(id, {
        notifier: "ops2",
        event: status,
        ok: false,
        at: t(k + 3),
        attempts: 3,
        error: "503",
      });
    }
    const db = new Database(file, { readonly: true });
    try {
      const got = readRunsByIds(db, ["RUN0", "RUN1", "RUN2", "NOPE"]);
      expect([...got.keys()].sort()).toEqual(["RUN0", "RUN1", "RUN2"]);
      for (const [i, id] of ["RUN0", "RUN1", "RUN2"].entries()) {
        expect(got.get(id)!.record).toEqual(await store.getRun(id));
        expect(got.get(id)!.seq).toBe(i + 1);
      }
      expect(got.get("RUN1")!.record.notifications.map((n) => n.notifier)).toEqual(["ops", "ops2"]);
      expect(readRunsByIds(db, []).size).toBe(0);
    } finally {
      db.close();
      await store.close();
    }
  });
});
