// POST /api/restore {repo, snapshot?, target, include?[]}: starts `holdfast restore …` as a detached
// child. The target must resolve inside the restore root (S4); that is checked whether or not this
// build can restore, so a probe learns nothing from the difference. Then (S7) the request takes one
// of the few restore slots (429 when all are taken, 409 while a restore into the same tree runs), the
// server makes the target directory itself — new, 0700, no symlink followed; an existing target is
// 409 — and the restore command gets that directory with its identity, which it checks again just
// before restic starts.
import fs from "node:fs";
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import {
  RestoreTargetError,
  createRestoreTarget,
  resolveRestoreTarget,
  restoreRootOf,
} from "../restore-target.js";
import { RestoreSlots } from "../restore-slots.js";

interface RestoreBody {
  repo: string;
  snapshot: string | null;
  source: string | null;
  target: string;
  include: string[];
}

const SNAPSHOT = /^(latest|[0-9a-f]{8,64})$/;
const EXIT_USAGE = 2;

function lastLines(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("restoring "));
  return lines.slice(-3).join(" / ") || "no output";
}

function bad(message: string, hint: string | null = null): ApiError {
  return new ApiError(400, "bad_request", message, hint);
}

export function parseRestoreBody(
  body: unknown,
  repositories: readonly string[],
  sources: readonly string[],
): RestoreBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw bad("the body must be a JSON object", '{"repo": "local", "target": "home-2026-11-26"}');
  }
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter(
    (k) => !["repo", "snapshot", "source", "target", "include"].includes(k),
  );
  if (unknownKeys.length)
    throw bad(
      `unknown field${unknownKeys.length > 1 ? "s" : ""}: ${unknownKeys.join(", ")}`,
      "fields: repo, snapshot, source, target, include",
    );
  if (typeof b.repo !== "string" || !repositories.includes(b.repo)) {
    throw bad(
      `repo must name a repository of the config`,
      `repositories: ${repositories.join(", ") || "(none)"}`,
    );
  }
  let snapshot: string | null = null;
  if (b.snapshot !== undefined && b.snapshot !== null) {
    if (typeof b.snapshot !== "string" || !SNAPSHOT.test(b.snapshot)) {
      throw bad("snapshot must be a snapshot id (8 to 64 hex digits) or `latest`");
    }
    snapshot = b.snapshot;
  }
  let source: string | null = null;
  if (b.source !== undefined && b.source !== null) {
    if (typeof b.source !== "string" || !sources.includes(b.source)) {
      throw bad("source must name a source of the config", `sources: ${sources.join(", ") || "(none)"}`);
    }
    source = b.source;
  }
  if (typeof b.target !== "string") throw bad("target is required: the directory to restore into");
  let include: string[] = [];
  if (b.include !== undefined && b.include !== null) {
    if (!Array.isArray(b.include) || b.include.length > 1000) throw bad("include must be a list of paths");
    include = b.include.map((p) => {
      // Never an option: a leading dash would be read as one by the restore command.
      if (typeof p !== "string" || p === "" || p.startsWith("-") || p.includes("\0")) {
        throw bad(
          `include: ${JSON.stringify(p)} is not a path`,
          "give paths as they are in the snapshot, e.g. /home/sig/notes",
        );
      }
      return p;
    });
  }
  return { repo: b.repo, snapshot, source, target: b.target, include };
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
  app.post("/api/restore", async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw bad("the body is not JSON", '{"repo": "local", "target": "home-2026-11-26"}');
    }
    const body = parseRestoreBody(raw, Object.keys(ctx.config.repositories), Object.keys(ctx.config.sources));
    const root = restoreRootOf(ctx.config);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    let target: string;
    try {
      target = resolveRestoreTarget(root, body.target);
    } catch (err) {
      throw targetError(err);
    }
    const restore = ctx.deps.restore;
    if (!restore) {
      throw new ApiError(
        501,
        "not_implemented",
        "restore is not available in this build of holdfast",
        "restore from the command line with restic meanwhile",
      );
    }
    // From here to the launch nothing is awaited: the slot is taken and the directory made before any
    // other request can look.
    const release = slots.reserve(target);
    let started;
    let made: ReturnType<typeof createRestoreTarget> | null = null;
    try {
      made = createRestoreTarget(root, body.target);
      started = await restore({
        repo: body.repo,
        snapshot: body.snapshot,
        source: body.source,
        target: made.path,
        identity: made.identity,
        include: body.include,
      });
    } catch (err) {
      release();
      if (made) removeIfEmpty(made.path);
      throw targetError(err);
    }
    void started.finished.then(release, release);
    if (started.exit_code !== null) release();
    if (started.exit_code === EXIT_USAGE) {
      // The restore command refused the request (which source's latest, …): nothing was restored, so
      // the directory made for it goes, and the same request can be made again once corrected.
      removeIfEmpty(made.path);
      throw new ApiError(
        400,
        "bad_request",
        `holdfast restore refused: ${lastLines(started.output_tail)}`,
        null,
      );
    }
    return sendJson(
      c,
      ctx.redactor,
      {
        repo: body.repo,
        snapshot: body.snapshot ?? "latest",
        source: body.source,
        target: made.path,
        pid: started.pid,
        // null while the restore goes on; set when it already ended within the wait.
        exit_code: started.exit_code,
        state: started.exit_code === null ? "started" : started.exit_code === 0 ? "finished" : "failed",
        output: started.exit_code === null ? null : started.output_tail,
      },
      202,
    );
  });
  return app;
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* not empty, or gone: either way nothing of a restore is removed */
  }
}
