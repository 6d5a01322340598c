// The hub's fleet API (serve --store postgres, docs/fleet.md): the grid and a host's runs, read from
// the fleet database with the viewer role. Mounted only when the server has a fleet reader.
//   GET /api/fleet                          the fleet view (src/fleet/fleet-view.ts), worst first
//   GET /api/fleet/hosts/:host_id/runs      a host's runs, newest first (?limit=1..200, ?before=SEQ)
import { Hono } from "hono";
import { StoreError } from "../../errors.js";
import { hostRuns, type HubReader } from "../../fleet/hub.js";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";

const HOST_ID = /^[a-z0-9-]{1,64}$/;

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

export function fleetRoutes(ctx: ServerContext, fleet: HubReader): Hono {
  const app = new Hono();
  app.get("/api/fleet", async (c) => {
    const view = await fleet.view().catch(unavailable);
    return sendJson(c, ctx.redactor, view);
  });
  app.get("/api/fleet/hosts/:host_id/runs", async (c) => {
    const hostId = c.req.param("host_id");
    if (!HOST_ID.test(hostId))
      throw new ApiError(400, "bad_request", `${hostId} is not a host id`, "take it from GET /api/fleet");
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
