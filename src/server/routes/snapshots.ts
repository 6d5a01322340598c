// GET /api/snapshots?repo=&source=: the snapshots of one repository (or of each, without repo=), as
// restic reports them. Registered only when the server was given a way to list them.
import type { Hono } from "hono";
import type { ServerContext } from "../app.js";
import { ApiError, sendJson } from "../http.js";

export interface SnapshotList {
  ok: boolean;
  error: { kind: string; message: string; hint: string | null } | null;
  /** snake_case snapshot objects: id, short_id, time, paths, hostname, username, tags, … */
  snapshots: Array<Record<string, unknown>>;
}

export function registerSnapshotRoutes(
  app: Hono,
  ctx: ServerContext,
  list: (repo: string, filter: { source: string | null }) => Promise<SnapshotList>,
): void {
  app.get("/api/snapshots", async (c) => {
    const repo = c.req.query("repo");
    const source = c.req.query("source") || null;
    const names = Object.keys(ctx.config.repositories);
    if (repo && !ctx.config.repositories[repo]) {
      throw new ApiError(
        400,
        "bad_request",
        `no repository named "${repo}"`,
        `repositories: ${names.join(", ") || "(none)"}`,
      );
    }
    if (source !== null && !ctx.config.sources[source]) {
      throw new ApiError(
        400,
        "bad_request",
        `no source named "${source}"`,
        `sources: ${Object.keys(ctx.config.sources).join(", ") || "(none)"}`,
      );
    }
    const repos = repo ? [repo] : names;
    const results = [];
    // One after the other: restic on one repository at a time keeps a slow backend from piling up.
    for (const name of repos) results.push({ repo: name, ...(await list(name, { source })) });
    return sendJson(c, ctx.redactor, { repositories: results });
  });
}
