// GET /api/snapshots?repo=&source=: the snapshots of one repository (or of each, without repo=), in
// the JSON of `holdfast snapshots --json`. Registered only when the server was given a way to list them.
import { Hono } from "hono";
import type { ServerContext, SnapshotList } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import { own } from "../../util/own.js";

export type { SnapshotList };

export function snapshotRoutes(
  ctx: ServerContext,
  list: (repo: string, filter: { source: string | null }) => Promise<SnapshotList>,
): Hono {
  const app = new Hono();
  app.get("/api/snapshots", async (c) => {
    const repo = c.req.query("repo");
    const source = c.req.query("source") || null;
    const names = Object.keys(ctx.config.repositories);
    if (repo && !own(ctx.config.repositories, repo)) {
      throw new ApiError(
        400,
        "bad_request",
        `no repository named "${repo}"`,
        `repositories: ${names.join(", ") || "(none)"}`,
      );
    }
    if (source !== null && !own(ctx.config.sources, source)) {
      throw new ApiError(
        400,
        "bad_request",
        `no source named "${source}"`,
        `sources: ${Object.keys(ctx.config.sources).join(", ") || "(none)"}`,
      );
    }
    const repos = repo ? [repo] : names;
    // Side by side: a backend that does not answer (restic.open_timeout) never delays the others'
    // listings; restic still runs one command per repository at a time (exec.ts's mutex).
    const results = await Promise.all(
      repos.map(async (name) => {
        const { snapshots, error } = await list(name, { source });
        return { name, snapshots, error };
      }),
    );
    return sendJson(c, ctx.redactor, { repositories: results });
  });
  return app;
}
