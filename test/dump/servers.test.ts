// The private database servers of test/helpers start, answer on their socket and 127.0.0.1 port,
// and are gone after stop() (no process, no directory).
import fs from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { startMariadb } from "../helpers/mariadb.js";
import { startPostgres } from "../helpers/postgres.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

describe("test database servers", () => {
  it("PostgreSQL 15 runs as postgres in a temp dir and stops", async () => {
    const pg = await startPostgres();
    try {
      expect(await pg.sql("SELECT current_setting('server_version_num')::int / 10000")).toBe("15");
      expect(await pg.sql("SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()")).toBe(
        "postgres",
      );
      expect(fs.statSync(pg.dir).uid).not.toBe(0);
      expect(await listening(pg.port)).toBe(true);
    } finally {
      await pg.stop();
    }
    expect(alive(pg.pid)).toBe(false);
    expect(fs.existsSync(pg.dir)).toBe(false);
  });

  it("MariaDB 10.11 runs on its own socket and port and stops", async () => {
    const db = await startMariadb();
    try {
      expect(await db.sql("SELECT VERSION()")).toMatch(/^10\.11\./);
      expect(await listening(db.port)).toBe(true);
    } finally {
      await db.stop();
    }
    expect(alive(db.pid)).toBe(false);
    expect(fs.existsSync(db.dir)).toBe(false);
  });
});
