// The dashboard's static files, from the package's web/ directory (no build step, no CDN). A fixed
// list of names, so no request path ever reaches the file system.
import fs from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { PACKAGE_ROOT, type ServerContext } from "../context.js";
import { ApiError } from "../http.js";

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

export function webRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const dir = ctx.deps.webDir ?? path.join(PACKAGE_ROOT, "web");
  for (const [route, { file, type }] of Object.entries(FILES)) {
    app.get(route, async (c) => {
      let body: Buffer;
      try {
        body = await fs.promises.readFile(path.join(dir, file));
      } catch {
        throw new ApiError(
          404,
          "not_found",
          `the dashboard file ${file} is missing`,
          `reinstall holdfast (it looks for ${dir})`,
        );
      }
      return c.body(new Uint8Array(body), 200, { "Content-Type": type, "Cache-Control": "no-cache" });
    });
  }
  return app;
}
