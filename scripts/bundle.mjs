// `npm run build`, second half: bundles the CLI (targets.md P2, P2′, P1′). tsc has already written
// dist/ module by module (type-checked; the benchmarks and tools import those modules); this replaces
// the two files Node starts from — dist/cli/main.js (the `bin`) and dist/steps/tree-walk-worker.js (the
// manifest walk's worker thread) — with esbuild bundles, so that starting holdfast reads a handful
// of files instead of ~300 (every module of holdfast, zod, yaml, commander), with source maps.
//
// Code splitting keeps the dynamic imports lazy: each command, step kind runtime and notifier is a
// chunk in dist/chunks/, loaded when it runs. Every output sits exactly two levels below the package
// root (dist/cli/, dist/steps/, dist/chunks/), like the modules tsc writes for src/*/, so paths that
// code builds from import.meta.url ("../../package.json", "../../native/…", "../steps/…") mean the
// same in a chunk as in the module it came from. The build fails if an output lands anywhere else.
//
// Not bundled: better-sqlite3 (a native addon found through `bindings`) and nodemailer (loaded only to
// send email); both are imported from node_modules as before.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const chunks = path.join(dist, "chunks");
fs.rmSync(chunks, { recursive: true, force: true });

let build;
try {
  ({ build } = await import("esbuild"));
} catch {
  // A node_modules installed before esbuild became a devDependency: tsc's dist/ works as it is, only
  // slower to start. `npm ci` (scripts/setup.sh) installs esbuild.
  console.error(
    "bundle: esbuild is not installed (run `npm ci`); dist/ stays unbundled, which works but starts slower",
  );
  process.exit(0);
}

// zod re-exports every message locale (`z.locales`, ~370 KB of the ~770 KB zod bundles) through a
// namespace that esbuild cannot tree-shake; holdfast uses only English, which zod sets itself
// (classic/schemas.js imports locales/en.js directly). The index is replaced by English alone, so
// every command that loads a config compiles half as much zod (bench P2′).
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](?:classic|core)$/.test(args.resolveDir)
        ? { path: path.join(args.resolveDir, "../locales/en.js"), namespace: "zod-locales" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: path.dirname(args.path),
      loader: "js",
    }));
  },
};

const result = await build({
  plugins: [zodEnglishOnly],
  absWorkingDir: root,
  entryPoints: {
    "cli/main": "src/cli/main.ts",
    "steps/tree-walk-worker": "src/steps/tree-walk-worker.ts",
  },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  sourcemap: "linked",
  sourcesContent: false,
  external: ["better-sqlite3", "nodemailer"],
  // Bundled CommonJS packages (commander, yaml) require Node's built-ins; in an ES module that needs
  // a real `require`.
  banner: {
    js: 'import { createRequire as __holdfastCreateRequire } from "node:module"; const require = __holdfastCreateRequire(import.meta.url);',
  },
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

if (process.env.HOLDFAST_BUNDLE_METAFILE)
  fs.writeFileSync(process.env.HOLDFAST_BUNDLE_METAFILE, JSON.stringify(result.metafile));
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"));
const misplaced = outputs.filter((f) => path.relative(dist, path.join(root, f)).split(path.sep).length !== 2);
if (misplaced.length > 0) {
  console.error(
    `bundle: outputs outside dist/<dir>/ (import.meta.url paths would break): ${misplaced.join(", ")}`,
  );
  process.exit(1);
}
