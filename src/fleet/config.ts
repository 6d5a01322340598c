// The fleet settings of a loaded config: the URL read from fleet.url_file (mode 0600, owned by this
// user, one line), refused with file:line:col when anyone else could read it. The URL carries this
// host's credentials: it is never printed, logged or passed in argv — messages use describePgUrl.
import fs from "node:fs";
import { ConfigError, UsageError, type ConfigIssue } from "../errors.js";
import type { Config } from "../config/schema.js";
import { positionsInConfigFile } from "../config/load.js";

export interface FleetSettings {
  url: string;
  /** The display name; the identity is the host id (host-id.ts). */
  hostName: string;
  syncTimeoutMs: number;
  urlFile: string;
}

export function fleetEnabled(config: Config): boolean {
  return config.fleet !== undefined;
}

function issueAt(
  config: Config,
  message: string,
  hint: string,
  key: "url_file" | "view_url_file" = "url_file",
): ConfigError {
  const file = config.file ?? "(config)";
  const [pos] = config.file ? positionsInConfigFile(config.file, [["fleet", key]]) : [{ line: 0, col: 0 }];
  const issue: ConfigIssue = {
    file,
    line: pos?.line ?? 0,
    col: pos?.col ?? 0,
    path: `fleet.${key}`,
    message,
    hint,
  };
  return new ConfigError([issue]);
}

function requireFleet(config: Config): NonNullable<Config["fleet"]> {
  const fleet = config.fleet;
  if (fleet === undefined)
    throw new ConfigError([
      {
        file: config.file ?? "(config)",
        line: 1,
        col: 1,
        path: "fleet",
        message: "this command needs a `fleet:` section",
        hint: "add fleet: { url_file: /etc/holdfast/fleet.url } (docs/fleet.md)",
      },
    ]);
  return fleet;
}

/** Reads a URL file (0600, this user's, one postgresql:// line); a ConfigError (exit 2) otherwise. */
function readUrlFile(config: Config, file: string, key: "url_file" | "view_url_file"): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    throw issueAt(
      config,
      `cannot read ${file} (${code || String(err)})`,
      "create it with the postgresql:// URL on one line, mode 0600: install -m 600 /dev/null FILE",
      key,
    );
  }
  if (!st.isFile())
    throw issueAt(config, `${file} is not a file`, `point ${key} at a file holding the URL`, key);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw issueAt(
      config,
      `${file} is readable by ${st.mode & 0o007 ? "others" : "its group"} (mode ${mode}); it holds the fleet database credentials`,
      `chmod 600 ${file}`,
      key,
    );
  }
  if (typeof process.getuid === "function" && st.uid !== process.getuid() && process.getuid() !== 0) {
    throw issueAt(
      config,
      `${file} belongs to another user (uid ${st.uid})`,
      `chown it to the user holdfast runs as`,
      key,
    );
  }
  const url = fs.readFileSync(file, "utf8").trim();
  if (!/^postgres(ql)?:\/\//.test(url) || url.includes("\n")) {
    throw issueAt(
      config,
      `${file} does not hold one postgresql:// URL`,
      "write one line: postgresql://USER:PASSWORD@HOST:5432/DATABASE",
      key,
    );
  }
  if (!parses(url))
    throw issueAt(config, `${file} holds a postgresql:// URL that does not parse`, UNPARSABLE_HINT, key);
  return url;
}

const UNPARSABLE_HINT =
  "a port that is not a number, or a character of the password to percent-encode (@ → %40, / → %2F, : → %3A)";

/**
 * The driver (pg-connection-string) parses the URL with WHATWG's parser, retrying a socket URL
 * (user@/db?host=/run/postgresql) with a dummy host: one it refuses is a config problem, not a crash.
 */
function parses(url: string): boolean {
  for (const candidate of [url, url.replace("@/", "@___DUMMY___/")]) {
    try {
      new URL(candidate);
      return true;
    } catch {
      /* the next form */
    }
  }
  return false;
}

/** Reads fleet.url_file; a ConfigError (exit 2) for a missing, shared or malformed file. */
export function readFleetSettings(config: Config): FleetSettings {
  const fleet = requireFleet(config);
  const url = readUrlFile(config, fleet.url_file, "url_file");
  return {
    url,
    hostName: fleet.host_name ?? config.host,
    syncTimeoutMs: fleet.sync_timeout,
    urlFile: fleet.url_file,
  };
}

/** The URL the fleet views read with (fleet.view_url_file, else url_file) — the hub's viewer role. */
export function readFleetViewUrl(config: Config): string {
  const fleet = requireFleet(config);
  return fleet.view_url_file !== undefined
    ? readUrlFile(config, fleet.view_url_file, "view_url_file")
    : readUrlFile(config, fleet.url_file, "url_file");
}

/** A URL file named by a flag (fleet prune --url-file): the same checks, as a usage error (exit 2). */
export function readUrlFileFlag(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new UsageError(
      `cannot read --url-file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (!st.isFile() || (st.mode & 0o077) !== 0)
    throw new UsageError(
      `--url-file ${file} must be a file only its owner can read (it holds credentials)`,
      `chmod 600 ${file}`,
    );
  const url = fs.readFileSync(file, "utf8").trim();
  if (!/^postgres(ql)?:\/\//.test(url) || url.includes("\n"))
    throw new UsageError(
      `--url-file ${file} does not hold one postgresql:// URL`,
      "write one line: postgresql://USER:PASSWORD@HOST:5432/DATABASE",
    );
  if (!parses(url))
    throw new UsageError(`--url-file ${file} holds a postgresql:// URL that does not parse`, UNPARSABLE_HINT);
  return url;
}
