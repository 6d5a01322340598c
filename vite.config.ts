// The dashboard's build (`npm run build` runs it after the CLI bundle): web/src/ (TypeScript, Preact)
// into web/dist/, which `holdfast serve` serves (src/server/routes/web.ts). Everything is bundled: no
// CDN, nothing fetched at run time, no inline script or style (the server's CSP is `script-src 'self';
// style-src 'self'`).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const web = fileURLToPath(new URL("./web/", import.meta.url));

export default defineConfig({
  root: web,
  base: "/",
  publicDir: "public",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The polyfill would be an inline script (refused by the CSP); every browser we support has modulepreload.
    modulePreload: { polyfill: false },
    // Small assets inlined as data: URLs would hit style-src/img-src rules; keep them files.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
