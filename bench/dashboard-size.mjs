// Budget: the dashboard's first load ≤ 150 KB compressed (issue 15). Reads the built web/dist/
// (`npm run build` first), takes what a first visit downloads — index.html, every script, style and
// icon it references, and the modules those import — and compresses each as `holdfast serve` does
// (src/server/routes/web.ts: gzip level 9, brotli quality 11). Prints one JSON object; exits 1 over budget.
//   node bench/dashboard-size.mjs
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const BUDGET = 150 * 1024;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "web", "dist");
if (!fs.existsSync(path.join(dist, "index.html"))) {
  console.error("bench/dashboard-size: web/dist/index.html is missing; run `npm run build` first");
  process.exit(2);
}

const seen = new Set();
const queue = ["/index.html"];
const files = [];
while (queue.length) {
  const url = queue.shift();
  if (seen.has(url)) continue;
  seen.add(url);
  const raw = fs.readFileSync(path.join(dist, url));
  const text = raw.toString("utf8");
  const refs = url.endsWith(".html")
    ? [...text.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1])
    : url.endsWith(".js")
      ? [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{0,2}\/[^"']+\.js)["']/g)].map((m) =>
          path.posix.resolve(path.posix.dirname(url), m[1]),
        )
      : [];
  queue.push(...refs);
  files.push({
    file: url,
    raw: raw.length,
    gzip: zlib.gzipSync(raw, { level: 9 }).length,
    br: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  });
}
const total = (k) => files.reduce((n, f) => n + f[k], 0);
const result = {
  what: "dashboard first load (index.html + what it references), compressed as served",
  files,
  raw_bytes: total("raw"),
  gzip_bytes: total("gzip"),
  brotli_bytes: total("br"),
  budget_bytes: BUDGET,
  met: total("gzip") <= BUDGET,
};
console.log(JSON.stringify(result, null, 2));
process.exit(result.met ? 0 : 1);
