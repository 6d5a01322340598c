// This host's identity in the fleet: a random id generated once and kept in the state dir (0600),
// separate from the display name (which may change). A cloned image copies the file too; the clone
// is recognized by the hub (ingest.ts) — its fingerprint (hostname + machine-id) differs, or it
// records a different run under a position the original already used — and flagged, not merged.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HoldfastError, EXIT } from "../errors.js";

export interface HostIdentity {
  host_id: string;
  /** sha256 of hostname and machine-id at this moment (not stored: a copy shows the new machine's). */
  fingerprint: string;
  created_at: string;
}

export const HOST_ID_FILE = "fleet-host-id";

function machineId(): string {
  for (const file of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      const id = fs.readFileSync(file, "utf8").trim();
      if (id) return id;
    } catch {
      /* next */
    }
  }
  return "";
}

export function hostFingerprint(): string {
  return createHash("sha256").update(`${os.hostname()}\0${machineId()}`).digest("hex").slice(0, 32);
}

/** Reads the host id, creating it (exclusively, 0600) the first time. */
export function loadOrCreateHostId(stateDir: string): HostIdentity {
  const file = path.join(stateDir, HOST_ID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { host_id?: unknown; created_at?: unknown };
      if (typeof parsed.host_id !== "string" || !/^[a-z0-9-]{8,64}$/.test(parsed.host_id))
        throw new Error("no valid host_id in it");
      return {
        host_id: parsed.host_id,
        fingerprint: hostFingerprint(),
        created_at: typeof parsed.created_at === "string" ? parsed.created_at : "",
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new HoldfastError(`the fleet host id file ${file} is unreadable: ${(err as Error).message}`, {
          kind: "config",
          hint: "move it aside to give this host a new identity (the hub then sees a new host)",
          exitCode: EXIT.usage,
        });
      }
    }
    const record = { host_id: `h-${randomBytes(12).toString("hex")}`, created_at: new Date().toISOString() };
    try {
      const fd = fs.openSync(file, "wx", 0o600);
      try {
        fs.writeFileSync(fd, `${JSON.stringify(record)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      // Another process created it first: read theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new Error(`could not create ${file}`);
}

/** Moves the id file aside (kept, renamed): the next use creates a new id, a new host to the hub. */
export function resetHostId(stateDir: string): string | null {
  const file = path.join(stateDir, HOST_ID_FILE);
  if (!fs.existsSync(file)) return null;
  const aside = `${file}.replaced-${new Date().toISOString().replace(/[:.]/g, "")}`;
  fs.renameSync(file, aside);
  return aside;
}
