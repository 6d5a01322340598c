// What every route needs, in one place: the routes import this module (and http.ts), never app.ts,
// so the app and its route modules have no import cycle (app.ts → routes/* → context.ts).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/types.js";
import type { RunStore } from "../store/types.js";
import { redactorForConfig } from "../engine/secrets.js";
import type { Redactor } from "../util/redact.js";
import type { LaunchResult } from "./launcher.js";
import type { ServerResticHost } from "./restic-host.js";
import type { HubReader } from "../fleet/hub.js";
import { SnapshotService } from "./snapshot-service.js";
import { EventBus } from "./events.js";
import { Operations } from "./operations.js";
import { LiveRuns } from "./live-runs.js";
import { TokenRegistry } from "./tokens.js";

export interface SnapshotList {
  /** The snapshot objects of `snapshots --json`: id, short_id, time, hostname, paths, tags, source, job, … */
  snapshots: unknown[];
  /** Why the repository could not be listed (null when it could). */
  error: { kind: string; message: string; hint: string | null } | null;
}

export interface ServerDeps {
  config: Config;
  store: RunStore;
  /** The API token (from server.token_file, an operator's); null when there is none. */
  token: string | null;
  /** The named viewer/operator tokens (STATE/server-tokens.json, server/tokens.ts); absent: none. */
  tokensFile?: string | null;
  now?: () => Date;
  /** Starts `holdfast run JOB --trigger api` (detached); absent → 501. */
  runJob?: (job: string, steps?: readonly string[]) => Promise<LaunchResult>;
  /** Prometheus text exposition; absent → /metrics is 404. */
  renderMetrics?: () => Promise<string>;
  /** Lists a repository's snapshots (restic snapshots); absent → GET /api/snapshots does not exist. */
  snapshots?: (repo: string, filter: { source: string | null }) => Promise<SnapshotList>;
  /** Runs restic for the server (browse, restore, download); absent → those endpoints are 501. */
  resticHost?: ServerResticHost;
  /** Where the built dashboard is (default: the package's web/dist/, from `npm run build`). */
  webDir?: string;
  /** Default: the config's secrets (redactorForConfig) plus the token. */
  redactor?: Redactor;
  /** Follow the runs going on through STATE/live/ (server/live-runs.ts); `serve` sets it. */
  watchRuns?: boolean;
  /** Where unexpected errors are written (default: stderr). */
  logError?: (message: string) => void;
  /** The fleet database (serve --store postgres): mounts /api/fleet (routes/fleet.ts). */
  fleet?: HubReader;
}

/** What every route gets. */
export interface ServerContext {
  config: Config;
  store: RunStore;
  redactor: Redactor;
  now: () => Date;
  logError: (message: string) => void;
  /** Snapshot listings and directory trees (null without resticHost). */
  snapshots: SnapshotService | null;
  /** Restores and downloads run by the server (null without resticHost). */
  operations: Operations | null;
  /** The live events of GET /api/events. */
  events: EventBus;
  /** The runs going on, from their live files (null unless deps.watchRuns). */
  live: LiveRuns | null;
  /** Who a bearer token is. */
  tokens: TokenRegistry;
  deps: ServerDeps;
}

export function createContext(deps: ServerDeps): ServerContext {
  const redactor = deps.redactor ?? redactorForConfig(deps.config);
  if (deps.token !== null) redactor.add(deps.token);
  const events = new EventBus();
  const logError = deps.logError ?? ((m: string) => process.stderr.write(`${m}\n`));
  return {
    config: deps.config,
    store: deps.store,
    redactor,
    now: deps.now ?? (() => new Date()),
    logError,
    snapshots: deps.resticHost
      ? new SnapshotService({ config: deps.config, store: deps.store, redactor, resticHost: deps.resticHost })
      : null,
    operations: deps.resticHost
      ? new Operations({
          config: deps.config,
          store: deps.store,
          redactor,
          events,
          resticHost: deps.resticHost,
          logError,
        })
      : null,
    events,
    tokens: new TokenRegistry(deps.tokensFile ?? null, deps.token, logError),
    live: deps.watchRuns
      ? new LiveRuns({ stateDir: deps.config.state_dir, events, store: deps.store, logError })
      : null,
    deps,
  };
}

/** The package root, from this module's place in src/server/ or dist/server/. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
