// The hub's fleet API (serve --store postgres, docs/fleet.md): the grid and a host's runs, read from
// the fleet database with the viewer role. Mounted only when the server has a fleet reader.
//   GET /api/fleet                          the fleet view (src/fleet/fleet-view.ts), worst first
//   GET /api/fleet/hosts                    the hosts of the view (no cells): the dashboard's host picker
//   GET /api/fleet/hosts/:host_id/runs      a host's runs, newest first (?limit=1..200, ?before=SEQ)
// And the dashboard's own views filtered by host (fleetHostRoutes, mounted before them): with
// ?host=HOST_ID, GET /api/status, /api/runs and /api/runs/:id answer from that host's rows at the hub
// in the same JSON as the local ones; a run's logs stay on its host. Without the fleet, ?host= is
// refused (noFleetHostRoutes) rather than silently answered with the local history.
import { Hono, type Context, type Next } from "hono";
import { StoreError } from "../../errors.js";
import { hostRuns, type HubReader } from "../../fleet/hub.js";
import type { FleetCell, FleetHost, FleetJobState } from "../../fleet/fleet-view.js";
import type { JobSummary, RunStore } from "../../store/types.js";
import { stepsOfSummary } from "../../engine/job-status.js";
import type { Freshness, JobStatus } from "../api-types.js";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import { findRun } from "./runs.js";

const HOST_ID = /^[a-z0-9-]{1,64}$/;
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1_000;

function unavailable(err: unknown): never {
  if (err instanceof StoreError)
    throw new ApiError(
      503,
      "unavailable",
      err.message,
      "the fleet database is not reachable from the hub: check fleet.view_url_file and the server",
    );
  throw err;
}

function checkHostId(hostId: string): string {
  if (!HOST_ID.test(hostId))
    throw new ApiError(400, "bad_request", `${hostId} is not a host id`, "take it from GET /api/fleet");
  return hostId;
}

export function fleetRoutes(ctx: ServerContext, fleet: HubReader): Hono {
  const app = new Hono();
  app.get("/api/fleet", async (c) => {
    const view = await fleet.view().catch(unavailable);
    return sendJson(c, ctx.redactor, view);
  });
  // The hosts alone (the dashboard's host picker): the grid's judgement without its cells.
  app.get("/api/fleet/hosts", async (c) => {
    const view = await fleet.view().catch(unavailable);
    return sendJson(c, ctx.redactor, { hub_now: view.hub_now, hosts: view.hosts });
  });
  app.get("/api/fleet/hosts/:host_id/runs", async (c) => {
    const hostId = checkHostId(c.req.param("host_id"));
    const limitText = c.req.query("limit") ?? "50";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200)
      throw new ApiError(400, "bad_request", `limit=${limitText} is not a number from 1 to 200`);
    const beforeText = c.req.query("before");
    const before = beforeText === undefined ? null : Number(beforeText);
    if (before !== null && (!Number.isInteger(before) || before < 1))
      throw new ApiError(400, "bad_request", `before=${beforeText} is not a run position (next_before)`);
    const page = await hostRuns(fleet.pool, fleet.where, hostId, { limit, beforeSeq: before }).catch(
      unavailable,
    );
    return sendJson(c, ctx.redactor, page);
  });
  return app;
}

/** ?host= of a request to a host-filterable view; undefined (or empty): the hub's own history. */
const hostParam = (c: Context): string | undefined => {
  const host = c.req.query("host");
  return host === undefined || host === "" ? undefined : host;
};

function freshnessOfCell(cell: FleetCell): Freshness {
  switch (cell.state) {
    case "missing":
    case "stale":
      return "overdue";
    case "warning":
      return "ok";
    default:
      return cell.state;
  }
}

/** A job's status as GET /api/status gives it, from the host's grid cell and its latest records. */
function jobStatusOf(host: FleetHost, cell: FleetCell, summary: JobSummary | undefined): JobStatus {
  const last = summary?.last_run ?? null;
  const state: Exclude<FleetJobState, "missing"> = cell.reported_state;
  return {
    name: cell.job,
    state,
    last_run:
      last === null
        ? null
        : {
            id: last.id,
            status: last.status,
            started_at: last.started_at,
            finished_at: last.finished_at,
            duration_ms: last.duration_ms,
            exit_code: last.exit_code,
            trigger: last.trigger,
          },
    // On the hub's clock, as the grid judges it.
    last_success_at: cell.last_success_at,
    last_failure_at: summary?.last_failure_at ?? null,
    next_run_at: cell.next_expected_at,
    schedule: cell.schedule,
    max_age_ms: cell.max_age_ms,
    stale: cell.stale,
    stale_for_ms: cell.stale_for_ms,
    clock_warning: host.clock_warning,
    freshness: freshnessOfCell(cell),
    due_at: null,
    grace_ms: null,
    fleet_state: cell.state,
    host_id: host.host_id,
    steps: stepsOfSummary(summary),
  };
}

export function fleetHostRoutes(ctx: ServerContext, fleet: HubReader): Hono {
  const app = new Hono();
  /** The host's part of the fleet view; 404 for a host id the fleet does not know. */
  const hostView = async (hostId: string) => {
    const view = await fleet.view(checkHostId(hostId)).catch(unavailable);
    const host = view.hosts[0];
    if (host === undefined)
      throw new ApiError(
        404,
        "not_found",
        `no host ${hostId} in the fleet`,
        "the host ids are in GET /api/fleet",
      );
    return { view, host };
  };
  const read = <T>(fn: (store: RunStore) => Promise<T>, hostId: string): Promise<T> =>
    fn(fleet.storeFor(hostId)).catch(unavailable);

  app.get("/api/status", async (c: Context, next: Next) => {
    const hostId = hostParam(c);
    if (hostId === undefined) return next();
    const { view, host } = await hostView(hostId);
    const summaries = await read((s) => s.jobSummaries(view.cells.map((x) => x.job)), hostId);
    const byJob = new Map(summaries.map((s) => [s.job, s]));
    const jobs = view.cells
      .slice()
      .sort((a, b) => (a.job < b.job ? -1 : a.job > b.job ? 1 : 0))
      .map((cell) => jobStatusOf(host, cell, byJob.get(cell.job)));
    return sendJson(c, ctx.redactor, { jobs, host: { ...host, hub_now: view.hub_now } });
  });

  app.get("/api/runs", async (c: Context, next: Next) => {
    const hostId = hostParam(c);
    if (hostId === undefined) return next();
    await hostView(hostId);
    const job = c.req.query("job");
    const limitText = c.req.query("limit");
    const limit = limitText === undefined || limitText === "" ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new ApiError(400, "bad_request", `limit=${limitText} is not a number from 1 to ${MAX_LIMIT}`);
    const beforeRun = c.req.query("before_run");
    const runs = await read(async (store) => {
      if (beforeRun !== undefined && beforeRun !== "" && (await store.getRun(beforeRun)) === null)
        throw new ApiError(
          400,
          "bad_request",
          `before_run=${beforeRun} is no run of host ${hostId} at the hub`,
          "use next_before_run of the previous page",
        );
      return store.listRuns({
        limit,
        ...(job !== undefined && job !== "" ? { job } : {}),
        ...(beforeRun !== undefined && beforeRun !== "" ? { before_run: beforeRun } : {}),
      });
    }, hostId);
    const last = runs.at(-1);
    const more = runs.length === limit && last !== undefined;
    return sendJson(c, ctx.redactor, {
      runs,
      next_before: more ? last.started_at : null,
      next_before_run: more ? last.id : null,
    });
  });

  app.get("/api/runs/:id", async (c: Context, next: Next) => {
    const hostId = hostParam(c);
    if (hostId === undefined) return next();
    await hostView(hostId);
    const run = await read((store) => findRun(store, c.req.param("id") ?? ""), hostId);
    return sendJson(c, ctx.redactor, run);
  });

  app.get("/api/runs/:id/logs", async (c: Context, next: Next) => {
    const hostId = hostParam(c);
    if (hostId === undefined) return next();
    const { host } = await hostView(hostId);
    const run = await read((store) => findRun(store, c.req.param("id") ?? ""), hostId);
    throw new ApiError(
      404,
      "not_found",
      `the logs of run ${run.id} stay on its host ${host.host}: the fleet database holds its records, not its output`,
      `on ${host.host}: holdfast logs ${run.id}`,
    );
  });
  return app;
}

/** A server without the fleet: ?host= on the host-filterable views is refused, never ignored. */
export function noFleetHostRoutes(): Hono {
  const app = new Hono();
  const refuse = (c: Context, next: Next) => {
    const hostId = hostParam(c);
    if (hostId === undefined) return next();
    throw new ApiError(
      400,
      "bad_request",
      `host=${hostId}: this server shows only its own history`,
      "the views of other hosts are on the fleet hub: holdfast serve --store postgres (docs/fleet.md)",
    );
  };
  for (const route of ["/api/status", "/api/runs", "/api/runs/:id", "/api/runs/:id/logs"])
    app.get(route, refuse);
  return app;
}
