// The dashboard's HTTP server as a plain Hono app: everything it needs comes in through deps, so tests
// drive it in-process with app.request(…) and `serve` only adds the listening socket.
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { accessControl } from "./auth.js";
import { createContext, type ServerDeps } from "./context.js";
import { ApiError, sendError } from "./http.js";
import { healthRoutes } from "./routes/health.js";
import { metricsRoutes } from "./routes/metrics.js";
import { infoRoutes } from "./routes/info.js";
import { statusRoutes } from "./routes/status.js";
import { runRoutes } from "./routes/runs.js";
import { configRoutes } from "./routes/config.js";
import { redundancyRoutes } from "./routes/redundancy.js";
import { jobRoutes } from "./routes/jobs.js";
import { restoreRoutes } from "./routes/restore.js";
import { webRoutes } from "./routes/web.js";
import { snapshotRoutes } from "./routes/snapshots.js";
import { browseRoutes } from "./routes/browse.js";
import { downloadRoutes } from "./routes/download.js";
import { eventRoutes } from "./routes/events.js";
import { tokenRoutes } from "./routes/tokens.js";
import { fleetHostRoutes, fleetRoutes, noFleetHostRoutes } from "./routes/fleet.js";

export { PACKAGE_ROOT, packageVersion, type ServerContext, type ServerDeps } from "./context.js";

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
  const ctx = createContext(deps);
  ctx.live?.start();
  const { redactor, logError } = ctx;

  const app = new Hono();
  app.use("*", securityHeaders);
  app.use("*", accessControl(ctx.tokens));
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) =>
        sendError(c, redactor, new ApiError(413, "bad_request", "the request body is larger than 64 KiB")),
    }),
  );

  // Each route module is a Hono sub-app of its own, given the context; none imports this module.
  app.route("/", healthRoutes(ctx));
  app.route("/", metricsRoutes(ctx));
  app.route("/", infoRoutes(ctx));
  // ?host= on the views of the history: another host's rows at the fleet hub (before the local routes).
  app.route("/", deps.fleet ? fleetHostRoutes(ctx, deps.fleet) : noFleetHostRoutes());
  app.route("/", statusRoutes(ctx));
  app.route("/", runRoutes(ctx));
  app.route("/", configRoutes(ctx));
  app.route("/", redundancyRoutes(ctx));
  app.route("/", jobRoutes(ctx));
  app.route("/", restoreRoutes(ctx));
  if (deps.snapshots) app.route("/", snapshotRoutes(ctx, deps.snapshots));
  app.route("/", browseRoutes(ctx));
  app.route("/", downloadRoutes(ctx));
  app.route("/", eventRoutes(ctx));
  app.route("/", tokenRoutes(ctx));
  if (deps.fleet) app.route("/", fleetRoutes(ctx, deps.fleet));
  app.route("/", webRoutes(ctx));

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
