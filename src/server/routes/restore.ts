// POST /api/restore {repo, snapshot?, source?, paths[], target? | to_original + confirm_original,
// dry_run?}: the server restores through its own restic (operations.ts), recorded in the history like
// a run. The target must resolve inside the restore root (S4); that is checked also by a server that
// cannot restore, so a probe learns nothing from the difference. Then (S7) the request takes one of the
// few restore slots (429 when all are taken, 409 while a restore into the same tree runs), and the
// server makes the target directory itself — new, 0700, no symlink followed; an existing target is
// 409 — and checks its identity again just before restic writes into it.
import fs from "node:fs";
import path from "node:path";
import { Hono, type Context } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import {
  RestoreTargetError,
  createRestoreTarget,
  resolveRestoreTarget,
  restoreRootOf,
} from "../restore-target.js";
import { RestoreSlots } from "../restore-slots.js";
import { checkDirIdentity } from "../../util/safe-dir.js";
import { RESTORE_WAIT_MS, type RestoreWhere } from "../operations.js";
import { service } from "./browse.js";
import { snapshotPath } from "../snapshot-service.js";
import type { OperationResponse, RestoreSummary } from "../api-types.js";
import { whoIs } from "../auth.js";
import { own } from "../../util/own.js";

const SNAPSHOT = /^(latest|[0-9a-f]{8,64})$/;

function bad(message: string, hint: string | null = null): ApiError {
  return new ApiError(400, "bad_request", message, hint);
}

interface ServerRestoreBody {
  repo: string;
  snapshot: string;
  source: string | null;
  paths: string[];
  target: string | null;
  toOriginal: boolean;
  dryRun: boolean;
}

const NEW_FIELDS = [
  "repo",
  "snapshot",
  "source",
  "paths",
  "include",
  "target",
  "to_original",
  "confirm_original",
  "dry_run",
];

/** The body of POST /api/restore for a server that restores itself (RestoreRequestBody). */
export function parseServerRestoreBody(body: unknown, ctx: ServerContext): ServerRestoreBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw bad(
      "the body must be a JSON object",
      '{"repo": "local", "snapshot": "latest", "source": "home", "paths": ["/home/sig/notes"]}',
    );
  }
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter((k) => !NEW_FIELDS.includes(k));
  if (unknownKeys.length)
    throw bad(
      `unknown field${unknownKeys.length > 1 ? "s" : ""}: ${unknownKeys.join(", ")}`,
      `fields: ${NEW_FIELDS.join(", ")}`,
    );
  const repositories = Object.keys(ctx.config.repositories);
  if (typeof b.repo !== "string" || !repositories.includes(b.repo)) {
    throw bad(
      "repo must name a repository of the config",
      `repositories: ${repositories.join(", ") || "(none)"}`,
    );
  }
  const snapshot = b.snapshot ?? "latest";
  if (typeof snapshot !== "string" || !SNAPSHOT.test(snapshot))
    throw bad("snapshot must be a snapshot id (8 to 64 hex digits) or `latest`");
  let source: string | null = null;
  if (b.source !== undefined && b.source !== null) {
    if (typeof b.source !== "string" || !own(ctx.config.sources, b.source)) {
      throw bad(
        "source must name a source of the config",
        `sources: ${Object.keys(ctx.config.sources).join(", ") || "(none)"}`,
      );
    }
    source = b.source;
  }
  const list = b.paths ?? b.include ?? [];
  if (b.paths !== undefined && b.include !== undefined) throw bad("give paths or include, not both");
  if (!Array.isArray(list) || list.length > 1000)
    throw bad(
      "paths must be a list (an array) of paths in the snapshot",
      'e.g. "paths": ["/home/sig/a, b.txt"] — each one whole, a comma is part of a name',
    );
  const paths = list.map((p: unknown) => {
    if (typeof p !== "string" || p === "")
      throw bad(
        `paths: ${JSON.stringify(p)} is not a path`,
        "give absolute paths as they are in the snapshot",
      );
    return snapshotPath(p, `paths: ${JSON.stringify(p)}`);
  });
  const toOriginal = b.to_original === true;
  if (b.to_original !== undefined && typeof b.to_original !== "boolean")
    throw bad("to_original must be true or false");
  if (toOriginal && b.confirm_original !== true) {
    throw bad(
      'restoring to the original location overwrites the files there: it needs "confirm_original": true',
      "or leave out to_original to restore into a new directory under the restore root",
    );
  }
  if (toOriginal && b.target !== undefined && b.target !== null)
    throw bad("give target or to_original, not both");
  if (b.target !== undefined && b.target !== null && typeof b.target !== "string")
    throw bad("target must be a directory name under the restore root");
  if (b.dry_run !== undefined && typeof b.dry_run !== "boolean") throw bad("dry_run must be true or false");
  return {
    repo: b.repo,
    snapshot,
    source,
    paths: [...new Set(paths)],
    target: typeof b.target === "string" ? b.target : null,
    toOriginal,
    dryRun: b.dry_run === true,
  };
}

function defaultTargetName(
  snapshot: { short_id: string; source: string | null },
  repo: string,
  now: Date,
): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  return `${snapshot.source ?? repo}-${snapshot.short_id}-${stamp}`;
}

/** Each path must be in the snapshot: looked up in its parent directory (cached like the browser). */
async function checkPathsInSnapshot(
  ctx: ServerContext,
  repo: string,
  snapshotId: string,
  paths: string[],
): Promise<void> {
  const missing: string[] = [];
  for (const p of paths) {
    if (p === "/") continue;
    const parent = path.posix.dirname(p);
    let names: string[];
    try {
      const listing = await service(ctx).dir(repo, snapshotId, parent);
      names = (JSON.parse(listing.json) as Array<{ name: string }>).map((e) => e.name);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) names = [];
      else throw err;
    }
    if (!names.includes(path.posix.basename(p))) missing.push(p);
  }
  if (missing.length) {
    throw new ApiError(
      400,
      "bad_request",
      `not in snapshot ${snapshotId.slice(0, 8)}: ${missing.map((m) => JSON.stringify(m)).join(", ")}`,
      "nothing was restored; pick the paths in the snapshot's browser (GET …/ls)",
      { missing },
    );
  }
}

function targetError(err: unknown): unknown {
  if (!(err instanceof RestoreTargetError)) return err;
  return err.reason === "exists"
    ? new ApiError(409, "conflict", err.message, err.hint)
    : new ApiError(400, "bad_request", err.message, err.hint);
}

export function restoreRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const slots = new RestoreSlots();
  app.get("/api/restores/:id", async (c) => {
    const id = c.req.param("id");
    const op = ctx.operations?.get(id);
    if (op) return sendJson(c, ctx.redactor, op.response);
    const run = /^[0-9A-Z]{26}$/.test(id) ? await ctx.store.getRun(id) : null;
    const step = run?.steps[0];
    if (!run || !step || (run.job !== "@restore" && run.job !== "@download")) {
      throw new ApiError(404, "not_found", `no restore or download ${id}`, "see GET /api/runs?job=@restore");
    }
    return sendJson(c, ctx.redactor, {
      id: run.id,
      state:
        run.status === "succeeded"
          ? "succeeded"
          : run.status === "cancelled"
            ? "cancelled"
            : run.status === "running"
              ? "running"
              : "failed",
      started_at: run.started_at,
      finished_at: run.finished_at,
      summary: step.summary as unknown as RestoreSummary,
      error: run.error ?? step.error,
      progress: null,
      status_url: `/api/restores/${run.id}`,
    } satisfies OperationResponse);
  });

  app.post("/api/restore", async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw bad("the body is not JSON", '{"repo": "local", "target": "home-2026-11-26"}');
    }
    if (!ctx.operations) {
      // A server made without restic (the route tests' apps) answers a bad request as any other would.
      const body = parseServerRestoreBody(raw, ctx);
      if (body.target !== null) {
        const root = restoreRootOf(ctx.config);
        fs.mkdirSync(root, { recursive: true, mode: 0o700 });
        try {
          resolveRestoreTarget(root, body.target);
        } catch (err) {
          throw targetError(err);
        }
      }
      throw new ApiError(
        501,
        "not_implemented",
        "this server cannot run restic, so it cannot restore",
        "start it with `holdfast serve`, or restore from the command line: holdfast restore REPO --target DIR",
      );
    }
    return serverRestore(c, ctx, slots, raw);
  });
  return app;
}

async function serverRestore(
  c: Context,
  ctx: ServerContext,
  slots: RestoreSlots,
  raw: unknown,
): Promise<Response> {
  const operations = ctx.operations;
  if (!operations) throw new Error("serverRestore without operations");
  const body = parseServerRestoreBody(raw, ctx);
  const root = restoreRootOf(ctx.config);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const asked = Date.now();
  // S7: the slot is taken — and a named target checked and made — before restic is asked anything,
  // so a refused request (429, 409, 400) is answered at once and never waits for the repository. A
  // dry run or a restore to the original location writes no new tree but is a restic all the same.
  const slot = slots.take();
  let placed: RestoreWhereSansSnapshot | null = null;
  const place = (requested: string): RestoreWhereSansSnapshot => {
    try {
      const resolved = resolveRestoreTarget(root, requested);
      if (body.dryRun) return { target: resolved, made: null, check: () => undefined };
      slot.bind(resolved);
      const made = createRestoreTarget(root, requested);
      return { target: made.path, made, check: () => checkDirIdentity(made.path, made.identity) };
    } catch (err) {
      throw targetError(err);
    }
  };
  const undo = () => {
    slot.release();
    if (placed?.made) removeIfEmpty(placed.made.path);
  };
  try {
    if (body.toOriginal) placed = { target: "/", made: null, check: () => undefined };
    else if (body.target !== null) placed = place(body.target);
  } catch (err) {
    undo();
    throw err;
  }
  // Which snapshot, and are the paths in it: restic's answer. Waited for within the request when it
  // comes quickly (a wrong path is a 400 and nothing is recorded); a slow repository gets the restore
  // started and answered 202, and a late refusal ends that restore failed with the reason.
  const where = (async (): Promise<RestoreWhere> => {
    const snap = await service(ctx).resolve(
      body.repo,
      body.snapshot,
      body.source,
      body.snapshot === "latest",
    );
    await checkPathsInSnapshot(ctx, body.repo, snap.id, body.paths);
    placed ??= place(defaultTargetName(snap, body.repo, ctx.now()));
    return {
      snapshotId: snap.id,
      target: placed.target,
      newDirectory: placed.made !== null,
      check: placed.check,
    };
  })();
  where.catch(() => undefined);
  let known: RestoreWhere | null;
  try {
    known = await Promise.race([
      where,
      new Promise<null>((r) => setTimeout(() => r(null), RESTORE_WAIT_MS).unref()),
    ]);
  } catch (err) {
    undo();
    throw err;
  }
  const summary: RestoreSummary = {
    kind: "restore",
    who: whoIs(c),
    repo: body.repo,
    snapshot_id: known?.snapshotId ?? null,
    paths: body.paths,
    target: known?.target ?? placed?.target ?? root,
    dry_run: body.dryRun,
    files_restored: null,
    bytes_restored: null,
    files_skipped: null,
    message: known
      ? body.dryRun
        ? "dry run running"
        : "restoring"
      : `waiting for ${body.repo} to say which snapshot ${body.snapshot} is`,
  };
  let op;
  try {
    op = await operations.begin("restore", summary);
  } catch (err) {
    // The restore is not started, so a directory made for it later must not stay either.
    void where.then(undo, undo);
    throw err;
  }
  operations.startRestore(op, { repo: body.repo, paths: body.paths, dryRun: body.dryRun, where });
  void op.done.finally(() => {
    slot.release();
    // A restore that wrote nothing leaves no empty directory behind.
    if (placed?.made && !(op.response.summary.files_restored ?? 0)) removeIfEmpty(placed.made.path);
  });
  const left = Math.max(0, RESTORE_WAIT_MS - (Date.now() - asked));
  const ended = await Promise.race([
    op.done.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), left).unref()),
  ]);
  return sendJson(c, ctx.redactor, op.response, ended ? 200 : 202);
}

interface RestoreWhereSansSnapshot {
  target: string;
  made: ReturnType<typeof createRestoreTarget> | null;
  check: () => void;
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* not empty, or gone: either way nothing of a restore is removed */
  }
}
