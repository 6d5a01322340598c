// `npm run build`, second half: bundles the CLI (targets.md P2, P2′, P1′). tsc has already written
// dist/ module by module (type-checked; the benchmarks and tools import those modules); this replaces
// the files Node starts from with esbuild bundles, so that starting holdfast reads three files instead
// of ~300 (every module of holdfast, zod, yaml, commander), with source maps:
//
//   dist/cli/main.js             the `bin`: answers `--version`, and otherwise loads the CLI bundle
//                                through V8's code cache (src/cli/load-program.ts);
//   dist/cli/program-bundle.cjs  the whole CLI (src/cli/program.ts and everything it imports, lazily
//                                or not) in one CommonJS file, without code splitting;
//   dist/steps/tree-walk-worker.js  the manifest walk's worker thread.
//
// CommonJS, because Node 20 can hand V8 a code cache only for a script (vm.Script's cachedData), not
// for an ES module: with the cache, the bundle's compile (~40 ms) and most lazy compiles are gone.
// `import.meta.url` is defined as the bundle's own file URL, so the paths code builds from it mean
// what they mean in the ES module they came from.
//
// One file, not a chunk per lazy import: Node 20's module loader costs more per file (resolve,
// read, compile, link, and a promise hop each) than V8 spends pre-parsing code that never runs — the
// run path of a one-step exec job read 67 chunks (1.33 MB); with code splitting it took 270 ms of CPU,
// as one 2.3 MB file 240 ms (bench P2′, medians of 15 interleaved runs). The lazy imports stay lazy in
// what they evaluate: esbuild turns an inlined `import()` into a call of the module's init function,
// so a command's top-level code still runs only when the command does. `--version` stays out of the
// big file (it would pay its parse: 70 → 165 ms of CPU).
//
// Every output sits exactly two levels below the package root (dist/cli/, dist/steps/), like the
// modules tsc writes for src/*/, so paths that code builds from import.meta.url ("../../package.json",
// "../../native/…", "../steps/…") mean the same in a bundle as in the module it came from. The build
// fails if an output lands anywhere else.
//
// Not bundled: better-sqlite3 (a native addon found through `bindings`) and nodemailer (loaded only to
// send email); both are required from node_modules as before.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const chunks = path.join(dist, "chunks");
fs.rmSync(chunks, { recursive: true, force: true });
// The ES module bundle of earlier builds, now program-bundle.cjs.
for (const old of ["program-bundle.js", "program-bundle.js.map"])
  fs.rmSync(path.join(dist, "cli", old), { force: true });

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

// load-program.ts falls back to `import("./program.js")` (tsc's module, beside main.js) when the
// bundle is missing; that import must stay one, not pull the whole CLI into main.js.
const programFallback = {
  name: "program-fallback",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (args) =>
      args.importer === path.join(root, "src/cli/load-program.ts")
        ? { path: "./program.js", external: true }
        : undefined,
    );
  },
};

// The CLI bundle's entry: program.ts, behind its own copy of output.ts's best-effort streams (the
// bundle has its own module instances, so its stdoutClosed() must see its own listener; main.js's
// copy covers `--version` and the moment before the bundle is loaded).
const programEntry = {
  name: "program-entry",
  setup(b) {
    b.onResolve({ filter: /^holdfast:program-entry$/ }, () => ({
      path: "program-entry",
      namespace: "holdfast",
    }));
    b.onLoad({ filter: /.*/, namespace: "holdfast" }, () => ({
      contents:
        'import { makeOutputBestEffort } from "./output.js";\nmakeOutputBestEffort();\nexport * from "./program.js";\n',
      resolveDir: path.join(root, "src/cli"),
      loader: "js",
    }));
  },
};

// Node's built-in modules that are not in its start-up snapshot cost a compile each when loaded
// (http2 alone ~5 ms). An ES module bundle hoists every static import to its top, so the dashboard's
// http/http2, the email's net and the log viewer's readline would load with every command; a
// built-in behind a CommonJS shim is loaded when the module that imports it is initialised instead —
// as late as with the old per-command chunks.
const LAZY_BUILTINS =
  /^(?:node:)?(?:http|http2|https|zlib|readline|readline\/promises|net|tls|dns|worker_threads)$/;
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: LAZY_BUILTINS }, (args) =>
      // The shim's own require() is Node's (the banner's), not another shim.
      args.namespace === "lazy-builtin"
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ""), namespace: "lazy-builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
      loader: "js",
    }));
  },
};

const common = {
  absWorkingDir: root,
  outdir: "dist",
  bundle: true,
  splitting: false,
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
};

// In the CommonJS bundle the two packages left out are required where they are imported, also where
// that is a dynamic `import()`: a vm.Script has no module loader of its own to resolve them with.
const requiredExternals = {
  name: "required-externals",
  setup(b) {
    b.onResolve({ filter: /^(?:better-sqlite3|nodemailer)$/ }, (args) =>
      args.namespace === "required-external"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "required-external" },
    );
    b.onLoad({ filter: /.*/, namespace: "required-external" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

const results = await Promise.all([
  build({ ...common, plugins: [programFallback], entryPoints: { "cli/main": "src/cli/main.ts" } }),
  build({
    ...common,
    format: "cjs",
    // Whitespace and comments out (2.3 → 1.5 MB to read); names kept, for the crash log's trace.
    minifyWhitespace: true,
    minifySyntax: true,
    outExtension: { ".js": ".cjs" },
    // The vm.Script wrapper (load-program.ts) passes require, module and __filename.
    banner: { js: 'var __holdfastImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { "import.meta.url": "__holdfastImportMetaUrl" },
    plugins: [zodEnglishOnly, programEntry, lazyBuiltins, requiredExternals],
    entryPoints: { "cli/program-bundle": "holdfast:program-entry" },
  }),
  build({
    ...common,
    plugins: [zodEnglishOnly],
    entryPoints: { "steps/tree-walk-worker": "src/steps/tree-walk-worker.ts" },
  }),
]);
const result = {
  metafile: {
    inputs: Object.assign({}, ...results.map((r) => r.metafile.inputs)),
    outputs: Object.assign({}, ...results.map((r) => r.metafile.outputs)),
  },
};
if (process.env.HOLDFAST_BUNDLE_METAFILE)
  fs.writeFileSync(process.env.HOLDFAST_BUNDLE_METAFILE, JSON.stringify(result.metafile));
const outputs = Object.keys(result.metafile.outputs).filter((f) => /\.c?js$/.test(f));
const misplaced = outputs.filter((f) => path.relative(dist, path.join(root, f)).split(path.sep).length !== 2);
if (misplaced.length > 0) {
  console.error(
    `bundle: outputs outside dist/<dir>/ (import.meta.url paths would break): ${misplaced.join(", ")}`,
  );
  process.exit(1);
}
