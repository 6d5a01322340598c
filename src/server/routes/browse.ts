// Repositories, their snapshots (paged, filterable) and a snapshot's directories, for the file browser:
//   GET /api/repositories
//   GET /api/repositories/:repo/snapshots?source=&host=&tag=&path=&q=&limit=&offset=&refresh=1
//   GET /api/repositories/:repo/snapshots/:id
//   GET /api/repositories/:repo/snapshots/:id/ls?path=/dir
import { Hono, type Context } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, redactedJson, sendJson } from "../http.js";
import { backendOf } from "../redundancy.js";
import { snapshotPath, type SnapshotService } from "../snapshot-service.js";
import type { ApiSnapshot, RepositoriesResponse, SnapshotsPage } from "../api-types.js";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1_000;

function intParam(c: Context, name: string, fallback: number, max: number): number {
  const text = c.req.query(name);
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new ApiError(400, "bad_request", `${name}=${text} is not a whole number from 0 to ${max}`);
  }
  return n;
}

export function service(ctx: ServerContext): SnapshotService {
  if (!ctx.snapshots) {
    throw new ApiError(
      501,
      "not_implemented",
      "this server cannot read repositories",
      "use `holdfast snapshots` on the host",
    );
  }
  return ctx.snapshots;
}

const uniqueSorted = (values: Iterable<string>) => [...new Set(values)].sort();

export function browseRoutes(ctx: ServerContext): Hono {
  const app = new Hono();

  app.get("/api/repositories", (c) =>
    sendJson(c, ctx.redactor, {
      repositories: Object.values(ctx.config.repositories).map((r) => ({
        name: r.name,
        backend: backendOf(r),
        offsite: r.offsite,
      })),
    } satisfies RepositoriesResponse),
  );

  app.get("/api/repositories/:repo/snapshots", async (c) => {
    const repo = c.req.param("repo");
    const limit = intParam(c, "limit", DEFAULT_LIMIT, MAX_LIMIT) || DEFAULT_LIMIT;
    const offset = intParam(c, "offset", 0, Number.MAX_SAFE_INTEGER);
    const source = c.req.query("source") || null;
    const host = c.req.query("host") || null;
    const tags = c.req.queries("tag")?.filter((t) => t !== "") ?? [];
    const pathFilter = c.req.query("path") || null;
    const q = (c.req.query("q") ?? "").trim().toLowerCase();
    const { snapshots, listedAt } = await service(ctx).list(repo, c.req.query("refresh") === "1");
    const match = (s: ApiSnapshot) =>
      (source === null || s.source === source) &&
      (host === null || s.hostname === host) &&
      tags.every((t) => s.tags.includes(t)) &&
      (pathFilter === null || s.paths.includes(pathFilter)) &&
      (q === "" ||
        s.id.startsWith(q) ||
        s.hostname.toLowerCase().includes(q) ||
        s.paths.some((p) => p.toLowerCase().includes(q)) ||
        s.tags.some((t) => t.toLowerCase().includes(q)));
    const matching = snapshots.filter(match);
    return sendJson(c, ctx.redactor, {
      repo,
      total: matching.length,
      offset,
      limit,
      snapshots: matching.slice(offset, offset + limit),
      facets: {
        sources: uniqueSorted(snapshots.flatMap((s) => (s.source !== null ? [s.source] : []))),
        hosts: uniqueSorted(snapshots.map((s) => s.hostname)),
        tags: uniqueSorted(snapshots.flatMap((s) => s.tags)),
      },
      listed_at: new Date(listedAt).toISOString(),
    } satisfies SnapshotsPage);
  });

  app.get("/api/repositories/:repo/snapshots/:id", async (c) =>
    sendJson(
      c,
      ctx.redactor,
      await service(ctx).resolve(c.req.param("repo"), c.req.param("id"), c.req.query("source") || null),
    ),
  );

  app.get("/api/repositories/:repo/snapshots/:id/ls", async (c) => {
    const repo = c.req.param("repo");
    const svc = service(ctx);
    const dir = snapshotPath(c.req.query("path"));
    const snap = await svc.resolve(repo, c.req.param("id"), c.req.query("source") || null);
    const listing = await svc.dir(repo, snap.id, dir);
    // The entries are JSON text already (cached as sent); the rest is put around them.
    const head = redactedJson(
      { repo, snapshot_id: snap.id, path: dir, cached: listing.cached, count: listing.count },
      ctx.redactor,
    );
    return c.body(`${head.slice(0, -1)},"entries":${listing.json}}\n`, 200, {
      "Content-Type": "application/json; charset=utf-8",
    });
  });

  return app;
}
