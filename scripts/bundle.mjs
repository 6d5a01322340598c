// `npm run build`, second half: bundles the CLI (targets.md P2, P2′, P1′). tsc has already written
// dist/ module by module (type-checked; the benchmarks and tools import those modules); this replaces
// the files Node starts from with esbuild bundles, so that starting holdfast reads three files instead
// of ~300 (every module of holdfast, zod, yaml, commander), with source maps:
//
//   dist/cli/main.js            the `bin`: a few lines that answer `--version` and otherwise import
//   dist/cli/program-bundle.js  the whole CLI (src/cli/program.ts and everything it imports, lazily
//                               or not) in one file, without code splitting;
//   dist/steps/tree-walk-worker.js  the manifest walk's worker thread.
//
// One file, not a chunk per lazy import: Node 20's ES module loader costs more per file (resolve,
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

// main.ts's `import("./program.js")` is the whole CLI: the bundle of it, beside main.js.
const programBundle = {
  name: "program-bundle",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (args) =>
      args.importer === path.join(root, "src/cli/main.ts")
        ? { path: "./program-bundle.js", external: true }
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

const results = await Promise.all([
  build({ ...common, plugins: [programBundle], entryPoints: { "cli/main": "src/cli/main.ts" } }),
  build({
    ...common,
    plugins: [zodEnglishOnly, programEntry, lazyBuiltins],
    entryPoints: {
      "cli/program-bundle": "holdfast:program-entry",
      "steps/tree-walk-worker": "src/steps/tree-walk-worker.ts",
    },
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
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"));
const misplaced = outputs.filter((f) => path.relative(dist, path.join(root, f)).split(path.sep).length !== 2);
if (misplaced.length > 0) {
  console.error(
    `bundle: outputs outside dist/<dir>/ (import.meta.url paths would break): ${misplaced.join(", ")}`,
  );
  process.exit(1);
}
