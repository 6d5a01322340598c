// The dashboard: the files `npm run build` wrote to web/dist/ (vite; web/src/ is the source). The
// file names are read from that directory once and served from memory, gzip- or brotli-compressed
// when the browser takes it, so no request path ever reaches the file system. Every view's URL
// (/jobs/x, /runs/x, /repos/x, …) answers index.html: the front end routes by the URL itself.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { Hono, type Context } from "hono";
import { PACKAGE_ROOT, type ServerContext } from "../context.js";
import { ApiError } from "../http.js";

interface WebFile {
  type: string;
  raw: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer> | null;
  br: Uint8Array<ArrayBuffer> | null;
  /** Hashed names (assets/) never change; the rest is revalidated. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg"]);

/** The view URLs of the front end (web/src/router.ts); each answers index.html. */
export const VIEW_ROUTES = [
  "/jobs/:job",
  "/runs/:id",
  "/repos/:repo",
  "/repos/:repo/snapshots/:id",
  "/repos/:repo/snapshots/:id/restore",
  "/fleet",
  "/fleet/hosts/:id",
  "/fleet/hosts/:id/jobs/:job",
  "/fleet/hosts/:id/runs/:run",
] as const;

function loadFiles(dir: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  const add = (rel: string, immutable: boolean) => {
    const ext = path.extname(rel);
    const type = TYPES[ext];
    if (!type) return;
    const raw = new Uint8Array(fs.readFileSync(path.join(dir, rel)));
    const compress = COMPRESSIBLE.has(ext) && raw.length > 512;
    files.set(`/${rel}`, {
      type,
      raw,
      gzip: compress ? new Uint8Array(zlib.gzipSync(raw, { level: 9 })) : null,
      br: compress
        ? new Uint8Array(
            zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }),
          )
        : null,
      immutable,
    });
  };
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) add(entry.name, false);
  }
  const assets = path.join(dir, "assets");
  if (fs.existsSync(assets)) {
    for (const entry of fs.readdirSync(assets, { withFileTypes: true })) {
      if (entry.isFile()) add(`assets/${entry.name}`, true);
    }
  }
  return files;
}

function send(c: Context, file: WebFile): Response {
  const accept = c.req.header("Accept-Encoding") ?? "";
  const headers: Record<string, string> = {
    "Content-Type": file.type,
    "Cache-Control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    Vary: "Accept-Encoding",
  };
  let body = file.raw;
  if (file.br && /\bbr\b/.test(accept)) {
    body = file.br;
    headers["Content-Encoding"] = "br";
  } else if (file.gzip && /\bgzip\b/.test(accept)) {
    body = file.gzip;
    headers["Content-Encoding"] = "gzip";
  }
  return c.body(body, 200, headers);
}

export function webRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const dir = ctx.deps.webDir ?? path.join(PACKAGE_ROOT, "web", "dist");
  let files: Map<string, WebFile> | null = null;
  const lookup = (name: string): WebFile => {
    try {
      files ??= loadFiles(dir);
    } catch {
      files = null;
    }
    const file = files?.get(name);
    if (!file) {
      throw new ApiError(
        404,
        "not_found",
        files ? `no dashboard file ${name}` : `the dashboard is not built (no ${dir})`,
        files ? "open the dashboard at /" : "run `npm run build`, or reinstall holdfast",
      );
    }
    return file;
  };
  const index = (c: Context) => send(c, lookup("/index.html"));
  app.get("/", index);
  app.get("/index.html", index);
  for (const route of VIEW_ROUTES) app.get(route, index);
  app.get("/assets/:file", (c) => send(c, lookup(`/assets/${c.req.param("file")}`)));
  for (const name of ["/favicon.svg", "/favicon-alert.svg"]) app.get(name, (c) => send(c, lookup(name)));
  return app;
}
