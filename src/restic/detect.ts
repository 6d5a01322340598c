// Which restic, and which version: `restic version` runs once per binary and PATH in a process, and
// the answer is kept in the state dir while the binary stays the same (a run saves a process start).
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/types.js";
import { stepError, type StepError } from "../errors.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { findOnPath } from "../util/find-on-path.js";
import { runProcess } from "../util/process.js";
import { parseResticVersion, type ResticVersion } from "./version.js";

export interface DetectedRestic {
  binary: string;
  version: ResticVersion | null;
  /** Set when restic could not be run at all. */
  error: StepError | null;
  /** The first line of `restic version`. */
  text: string;
}

const versionCache = new Map<string, Promise<DetectedRestic>>();

/** Runs `restic version` once per binary and PATH, and remembers the answer for this process. */
export function detectRestic(config: Config, env: Record<string, string>): Promise<DetectedRestic> {
  const binary = config.restic.binary;
  const key = `${binary}\0${env.PATH ?? ""}`;
  let cached = versionCache.get(key);
  if (!cached) {
    const remembered = rememberedVersion(config, env);
    if (remembered) {
      cached = Promise.resolve(remembered);
      versionCache.set(key, cached);
      return cached;
    }
    cached = runProcess(binary, ["version"], { env, timeoutMs: 30_000, collectStdout: true }).then(
      (result) => {
        if (result.spawnError) {
          const missing = result.spawnError.code === "ENOENT";
          return {
            binary,
            version: null,
            text: "",
            error: stepError(
              "not_found",
              missing
                ? `restic is not installed (no "${binary}" on PATH)`
                : `cannot run ${binary}: ${result.spawnError.message}`,
              missing
                ? "install restic (Debian/Ubuntu: apt install restic; or a release from https://github.com/restic/restic/releases), or set restic.binary in the config to its path"
                : `make ${binary} executable by the user holdfast runs as`,
            ),
          };
        }
        const text = (result.stdout ?? "").split("\n")[0]?.trim() ?? "";
        const version = parseResticVersion(result.stdout ?? "");
        if (result.exitCode !== 0 || version === null) {
          return {
            binary,
            version: null,
            text,
            error: stepError(
              "exit_code",
              `\`${binary} version\` did not print a restic version (exit ${result.exitCode ?? result.signal ?? "?"}): ${text || result.stderrTail.at(-1) || "no output"}`,
              "check that restic.binary points at restic",
            ),
          };
        }
        rememberVersion(config, env, text);
        return { binary, version, text, error: null };
      },
    );
    versionCache.set(key, cached);
  }
  return cached;
}

// The answer is also kept in the state dir, keyed by the binary's path, size and mtime, so a run does
// not spend a process start on `restic version` while the binary stays the same.
function versionFile(config: Config): string {
  return path.join(config.state_dir, "restic-version.json");
}

function binaryIdentity(config: Config, env: Record<string, string>): string | null {
  const resolved = findOnPath(config.restic.binary, env.PATH);
  if (!resolved) return null;
  try {
    const st = fs.statSync(resolved);
    return `${resolved}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

function rememberedVersion(config: Config, env: Record<string, string>): DetectedRestic | null {
  const id = binaryIdentity(config, env);
  if (!id) return null;
  try {
    const saved = JSON.parse(fs.readFileSync(versionFile(config), "utf8")) as { id?: string; text?: string };
    if (saved.id !== id || typeof saved.text !== "string") return null;
    const version = parseResticVersion(saved.text);
    return version ? { binary: config.restic.binary, version, text: saved.text, error: null } : null;
  } catch {
    return null;
  }
}

function rememberVersion(config: Config, env: Record<string, string>, text: string): void {
  const id = binaryIdentity(config, env);
  if (!id) return;
  try {
    const file = versionFile(config);
    writeFileAtomicSync(file, JSON.stringify({ id, text }), { mode: 0o600, durable: false });
  } catch {
    // The state dir may not exist yet (or be read-only for this command): detect again next time.
  }
}

/** For tests and benchmarks that swap the restic binary within one process. */
export function forgetDetectedVersions(): void {
  versionCache.clear();
}
