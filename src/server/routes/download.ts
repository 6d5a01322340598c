// Downloads from a snapshot, streamed from `restic dump` with nothing staged on disk:
//   POST /api/downloads {repo, snapshot, path, format?}  → 201 {url, file_name, expires_in_s}
//   GET  /api/downloads/:ticket                          → the bytes (a file, or a folder as tar.gz / zip)
// The POST needs the operator role like a restore (a download is a restore to the browser); its answer
// is a one-time link that needs no Authorization header, so a plain <a download> can use it. Using
// the link records the download in the history (job @download) with who asked, what and the result.
import crypto from "node:crypto";
import path from "node:path";
import { PassThrough, Readable, Transform } from "node:stream";
import { createGzip } from "node:zlib";
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, sendJson } from "../http.js";
import { whoIs } from "../auth.js";
import { runRestic } from "../../restic/exec.js";
import { stepError } from "../../errors.js";
import { snapshotPath } from "../snapshot-service.js";
import { resticApiError } from "../snapshot-service.js";
import type { DownloadFormat, DownloadTicket, RestoreSummary } from "../api-types.js";
import { service } from "./browse.js";
import { own } from "../../util/own.js";

export const TICKET_TTL_S = 60;
const MAX_TICKETS = 100;
const FORMATS: readonly DownloadFormat[] = ["tar.gz", "zip", "raw"];

interface Ticket {
  repo: string;
  snapshotId: string;
  path: string;
  format: DownloadFormat;
  fileName: string;
  who: string;
  expires: number;
}

const bad = (message: string, hint: string | null = null) => new ApiError(400, "bad_request", message, hint);

/** A file name for Content-Disposition: the last component, made safe, with the format's extension. */
function fileNameFor(p: string, format: DownloadFormat, shortId: string): string {
  const base = (p === "/" ? `snapshot-${shortId}` : path.posix.basename(p))
    .replace(/[/\\"]/g, "_")
    .replace(/\p{Cc}/gu, "_");
  return format === "raw" ? base : `${base}.${format}`;
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/[%;]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const CONTENT_TYPES: Record<DownloadFormat, string> = {
  "tar.gz": "application/gzip",
  zip: "application/zip",
  raw: "application/octet-stream",
};

export function downloadRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const tickets = new Map<string, Ticket>();

  app.post("/api/downloads", async (c) => {
    const operations = ctx.operations;
    if (!operations) throw new ApiError(501, "not_implemented", "this server cannot read repositories");
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw bad(
        "the body is not JSON",
        '{"repo": "local", "snapshot": "1a2b3c4d", "path": "/home/sig/notes"}',
      );
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw))
      throw bad("the body must be a JSON object");
    const b = raw as Record<string, unknown>;
    const unknownKeys = Object.keys(b).filter((k) => !["repo", "snapshot", "path", "format"].includes(k));
    if (unknownKeys.length)
      throw bad(`unknown fields: ${unknownKeys.join(", ")}`, "fields: repo, snapshot, path, format");
    if (typeof b.repo !== "string" || !own(ctx.config.repositories, b.repo))
      throw bad("repo must name a repository of the config");
    if (typeof b.snapshot !== "string") throw bad("snapshot is required (an id, or latest)");
    if (typeof b.path !== "string") throw bad("path is required: a file or directory in the snapshot");
    if (b.format !== undefined && !FORMATS.includes(b.format as DownloadFormat)) {
      throw bad(`format must be one of ${FORMATS.join(", ")}`);
    }
    const p = snapshotPath(b.path);
    const svc = service(ctx);
    // `latest` read anew: a snapshot made since the listing was cached (20 s) is the latest one.
    const snap = await svc.resolve(b.repo, b.snapshot, null, b.snapshot === "latest");
    let type = "dir";
    if (p !== "/") {
      const listing = await svc.dir(b.repo, snap.id, path.posix.dirname(p)).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      });
      const entry = listing
        ? (JSON.parse(listing.json) as Array<{ name: string; type: string }>).find(
            (e) => e.name === path.posix.basename(p),
          )
        : undefined;
      if (!entry)
        throw new ApiError(
          404,
          "not_found",
          `${p} is not in snapshot ${snap.short_id}`,
          "pick it in the snapshot's browser",
        );
      type = entry.type;
    }
    const format = (b.format as DownloadFormat | undefined) ?? (type === "dir" ? "tar.gz" : "raw");
    if (format === "raw" && type !== "file") throw bad(`${p} is a ${type}: download it as tar.gz or zip`);
    for (const [k, t] of tickets) if (t.expires < Date.now()) tickets.delete(k);
    if (tickets.size >= MAX_TICKETS)
      throw new ApiError(
        429,
        "busy",
        "too many downloads waiting to be fetched",
        "use or let expire the links you have",
      );
    const ticket = crypto.randomBytes(24).toString("hex");
    const fileName = fileNameFor(p, format, snap.short_id);
    tickets.set(ticket, {
      repo: b.repo,
      snapshotId: snap.id,
      path: p,
      format,
      fileName,
      who: whoIs(c),
      expires: Date.now() + TICKET_TTL_S * 1000,
    });
    return sendJson(
      c,
      ctx.redactor,
      {
        url: `/api/downloads/${ticket}`,
        file_name: fileName,
        expires_in_s: TICKET_TTL_S,
      } satisfies DownloadTicket,
      201,
    );
  });

  app.get("/api/downloads/:ticket", async (c) => {
    const key = c.req.param("ticket");
    const t = tickets.get(key);
    tickets.delete(key);
    const operations = ctx.operations;
    if (!t || t.expires < Date.now() || !operations) {
      throw new ApiError(
        404,
        "not_found",
        "this download link is unknown, used or expired",
        "start the download again (links work once, for a minute)",
      );
    }
    const repo = ctx.config.repositories[t.repo];
    if (!repo) throw new ApiError(404, "not_found", `no repository ${t.repo}`);
    const summary: RestoreSummary = {
      kind: "download",
      who: t.who,
      repo: t.repo,
      snapshot_id: t.snapshotId,
      paths: [t.path],
      target: t.fileName,
      dry_run: false,
      format: t.format,
      files_restored: null,
      bytes_restored: 0,
      files_skipped: null,
      message: "downloading",
    };
    const op = await operations.begin("download", summary);
    // restic's stdout → `inner` (ended by the pipe when restic's stdout closes) → [gzip] → `out`.
    // `out` ends only when restic succeeded; a failure destroys it, so the client sees a broken
    // download rather than a complete-looking short file.
    const inner = new PassThrough();
    const gzip = t.format === "tar.gz" ? createGzip({ level: 6 }) : null;
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        done(null, chunk);
      },
    });
    const middle = gzip ?? new PassThrough();
    inner.pipe(middle, { end: false });
    middle.pipe(counter);
    const args =
      t.format === "raw"
        ? ["dump", t.snapshotId, t.path]
        : ["dump", "--archive", t.format === "zip" ? "zip" : "tar", t.snapshotId, t.path];
    const host = ctx.deps.resticHost?.({ signal: op.cancel.signal, stdoutSink: inner });
    if (!host) throw new ApiError(501, "not_implemented", "this server cannot read repositories");
    let innerEnded = false;
    let outcomeOk: boolean | null = null;
    let failure: ApiError | null = null;
    const settle = () => {
      if (outcomeOk === true && innerEnded) middle.end();
      else if (outcomeOk === false) middle.destroy(failure ?? new Error("restic dump failed"));
    };
    inner.on("end", () => {
      innerEnded = true;
      settle();
    });
    const resticDone = runRestic(host, {
      repo,
      args,
      command: "dump",
      noLock: true,
      stopBeforeDeadline: false,
    }).then(async (outcome) => {
      outcomeOk = outcome.ok;
      if (!outcome.ok) failure = resticApiError(outcome, ctx.redactor, "dump");
      settle();
      summary.bytes_restored = sent;
      if (outcome.ok) {
        await new Promise<void>((resolve) => {
          if (counter.readableEnded) resolve();
          else counter.once("end", () => resolve()).once("close", () => resolve());
        });
        summary.bytes_restored = sent;
        summary.message = `sent ${sent} bytes (${t.fileName})`;
        await operations.end(op, "succeeded", null);
      } else {
        summary.message = `download failed: ${failure?.message ?? "restic dump failed"}`;
        await operations.end(
          op,
          outcome.cancelled ? "cancelled" : "failed",
          outcome.error ?? stepError("exit_code", "restic dump failed"),
        );
      }
      return outcome;
    });
    // Wait for the first bytes (or the end): a dump that fails at once is an error answer, not a download.
    const first = await Promise.race([
      new Promise<"data">((resolve) => counter.once("readable", () => resolve("data"))),
      resticDone.then(() => "done" as const),
    ]);
    if (first === "done" && outcomeOk === false && counter.readableLength === 0) {
      throw failure ?? new ApiError(502, "unavailable", "restic dump failed");
    }
    // The client went away: stop restic.
    counter.once("close", () => {
      if (!counter.readableEnded) op.cancel.abort();
    });
    const body = Readable.toWeb(counter) as unknown as ReadableStream<Uint8Array>;
    return new Response(body, {
      status: 200,
      headers: {
        "Content-Type": CONTENT_TYPES[t.format],
        "Content-Disposition": contentDisposition(t.fileName),
        "X-Holdfast-Download": op.response.id,
      },
    });
  });

  return app;
}
