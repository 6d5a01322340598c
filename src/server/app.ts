// The dashboard's HTTP server as a plain Hono app: everything it needs comes in through deps, so tests
// drive it in-process with app.request(…) and `serve` only adds the listening socket.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "../config/schema.js";
import type { RunStore } from "../store/types.js";
import { redactorForConfig } from "../engine/secrets.js";
import type { Redactor } from "../util/redact.js";
import { accessControl } from "./auth.js";
import { ApiError, sendError } from "./http.js";
import type { LaunchResult, RestoreLaunch, RestoreRequest } from "./launcher.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMetricsRoutes } from "./routes/metrics.js";
import { registerInfoRoutes } from "./routes/info.js";
import { registerStatusRoutes } from "./routes/status.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerConfigRoutes } from "./routes/config.js";
import { registerRedundancyRoutes } from "./routes/redundancy.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerRestoreRoutes } from "./routes/restore.js";
import { registerWebRoutes } from "./routes/web.js";
import { registerSnapshotRoutes, type SnapshotList } from "./routes/snapshots.js";

export interface ServerDeps {
  config: Config;
  store: RunStore;
  /** The API token (from server.token_file); null only when serving on loopback. */
  token: string | null;
  now?: () => Date;
  /** Starts `holdfast run JOB --trigger api` (detached); absent → 501. */
  runJob?: (job: string) => Promise<LaunchResult>;
  /** Starts `holdfast restore …`; absent (no restore command in this build) → 501. */
  restore?: (request: RestoreRequest) => Promise<RestoreLaunch>;
  /** Prometheus text exposition; absent → /metrics is 404. */
  renderMetrics?: () => Promise<string>;
  /** Lists a repository's snapshots (restic snapshots); absent → GET /api/snapshots does not exist. */
  snapshots?: (repo: string, filter: { source: string | null }) => Promise<SnapshotList>;
  /** Where index.html, app.js and style.css are (default: the package's web/). */
  webDir?: string;
  /** Default: the config's secrets (redactorForConfig) plus the token. */
  redactor?: Redactor;
  /** Where unexpected errors are written (default: stderr). */
  logError?: (message: string) => void;
}

/** What every route gets. */
export interface ServerContext {
  config: Config;
  store: RunStore;
  redactor: Redactor;
  now: () => Date;
  deps: ServerDeps;
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

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  const h = c.res.headers;
  h.set("Content-Security-Policy", CSP);
  h.set("X-Content-Type-Options", "nosniff");
  h.set("X-Frame-Options", "DENY");
  h.set("Referrer-Policy", "no-referrer");
  h.set("Cross-Origin-Opener-Policy", "same-origin");
  h.set("Cross-Origin-Resource-Policy", "same-origin");
  // History and status change from one second to the next; nothing here should sit in a cache.
  if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
};

export function createApp(deps: ServerDeps): Hono {
  const redactor = deps.redactor ?? redactorForConfig(deps.config);
  if (deps.token !== null) redactor.add(deps.token);
  const ctx: ServerContext = {
    config: deps.config,
    store: deps.store,
    redactor,
    now: deps.now ?? (() => new Date()),
    deps,
  };
  const logError = deps.logError ?? ((m: string) => process.stderr.write(`${m}\n`));

  const app = new Hono();
  app.use("*", securityHeaders);
  app.use("*", accessControl(deps.token));
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) =>
        sendError(c, redactor, new ApiError(413, "bad_request", "the request body is larger than 64 KiB")),
    }),
  );

  registerHealthRoutes(app, ctx);
  registerMetricsRoutes(app, ctx);
  registerInfoRoutes(app, ctx);
  registerStatusRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerConfigRoutes(app, ctx);
  registerRedundancyRoutes(app, ctx);
  registerJobRoutes(app, ctx);
  registerRestoreRoutes(app, ctx);
  if (deps.snapshots) registerSnapshotRoutes(app, ctx, deps.snapshots);
  registerWebRoutes(app, ctx);

  app.notFound((c) =>
    sendError(
      c,
      redactor,
      new ApiError(
        404,
        "not_found",
        `no such endpoint: ${c.req.method} ${new URL(c.req.url).pathname}`,
        "see GET /api/info",
      ),
    ),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) return sendError(c, redactor, err);
    logError(
      redactor.redact(
        `holdfast serve: internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`,
      ),
    );
    return sendError(
      c,
      redactor,
      new ApiError(
        500,
        "internal",
        `internal error: ${err.message}`,
        "the server log has the details; please report it",
      ),
    );
  });
  return app;
}
