// Which way imports may point (docs/architecture.md, "Dependency direction"), checked by `npm run lint`.
// Runtime imports are what these rules are about: a cycle of them is a ReferenceError waiting for the
// next module-scope constant, and a wrong direction drags runtime code into a module that should load
// light. `import type` edges are erased by tsc and esbuild, so they are allowed everywhere except where
// a rule says otherwise (config/types.ts imports nothing at all).
//
// The layers, top to bottom — a module may import from its own layer's folder and from those below:
//   cli/  (server/ only through cli/commands/serve.ts)
//   server/
//   registry.ts (the composition root: kinds, schema)
//   engine/  scheduler/  metrics/  notify/
//   steps/ (step kinds: definitions, runners)
//   restic/  store/  config/  sources/
//   util/  errors.ts
/** Paths of src/ modules, as dependency-cruiser writes them. */
const SRC = "^src/";
const notTypeOnly = { dependencyTypesNot: ["type-only"] };

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-runtime-cycle",
      severity: "error",
      comment:
        "A cycle of runtime imports: whichever module loads first sees the other half uninitialised (a ReferenceError at import once a constant moves to module scope). Move the shared part into a module both import.",
      from: { path: SRC },
      to: { circular: true, viaOnly: notTypeOnly },
    },
    {
      name: "nothing-imports-cli",
      severity: "error",
      comment:
        "cli/ is the top: parsing and printing. Nothing below may import it (architecture.md, convention 1).",
      from: { path: SRC, pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "server-only-through-serve",
      severity: "error",
      comment:
        "server/ is started by `holdfast serve` alone; any other import would load Hono and every route into the CLI. Only `holdfast serve` and its subcommands (cli/commands/serve.ts, serve-token.ts: it reads the token file, no Hono) import it.",
      from: {
        path: SRC,
        pathNot: ["^src/server/", "^src/cli/commands/serve\\.ts$", "^src/cli/commands/serve-token\\.ts$"],
      },
      to: { path: "^src/server/", ...notTypeOnly },
    },
    {
      name: "config-types-import-nothing",
      severity: "error",
      comment:
        "config/types.ts is the dependency-free description of a loaded config that every layer may import; it imports nothing of ours, not even types.",
      from: { path: "^src/config/types\\.ts$" },
      to: { path: SRC },
    },
    {
      name: "api-types-are-dependency-free",
      severity: "error",
      comment:
        "server/api-types.ts is what the dashboard (web/) compiles against as it is: no Node, no runtime code. It may import types only from modules that import nothing themselves (engine/progress-figures.ts).",
      from: { path: "^src/server/api-types\\.ts$" },
      to: { path: SRC, pathNot: "^src/engine/progress-figures\\.ts$" },
    },
    {
      name: "progress-figures-import-nothing",
      severity: "error",
      comment:
        "engine/progress-figures.ts is the one declaration of the progress figures, shared by the live file and the API types (and so the dashboard); it imports nothing of ours, not even types.",
      from: { path: "^src/engine/progress-figures\\.ts$" },
      to: { path: SRC },
    },
    {
      name: "config-no-runtime-above",
      severity: "error",
      comment:
        "Loading a config must not import runtime code: config/ gets the step and notifier kinds handed in by the composition root (src/registry.ts) and never imports steps/, notify/, engine/, restic/, store/ or the root itself.",
      // The loader (load.ts, and defaults.ts for the embedded config) asks the composition root for the
      // kinds and the schema built from them; the root imports only the kinds' light definitions
      // (runners-load-lazily), so this pulls in no runtime code.
      from: { path: "^src/config/" },
      to: {
        path: "^src/(steps|notify|engine|restic|store|server|cli|metrics|scheduler/(?!calendar\\.ts))|^src/registry\\.ts$",
        pathNot: "^src/registry\\.ts$",
        ...notTypeOnly,
      },
    },
    {
      name: "config-no-runtime-above-root",
      severity: "error",
      comment:
        "Only the loader may ask the composition root for the kinds; schema.ts, values.ts and the rest are handed them.",
      from: { path: "^src/config/", pathNot: "^src/config/(load|defaults)\\.ts$" },
      to: { path: "^src/registry\\.ts$", ...notTypeOnly },
    },
    {
      name: "runners-load-lazily",
      severity: "error",
      comment:
        "A step kind's runner (steps/NAME-run.ts) is imported only by steps/index.ts, with import(), when a step of the kind first runs — so loading a config (definitions only) imports no runtime code. Import what a runner needs from the definition or a helper module, never the runner.",
      // A dynamic import() from the kind's own definition (dump.ts's inline run, until it moves to
      // steps/index.ts) loads lazily too and is allowed; a static one never is.
      from: { pathNot: ["^src/steps/index\\.ts$", "-run\\.ts$"] },
      to: { path: "^src/steps/[^/]+-run\\.ts$", dependencyTypesNot: ["dynamic-import", "type-only"] },
    },
    {
      name: "runners-only-by-import",
      severity: "error",
      comment: "steps/index.ts names each runner as a lazy import(), never a static one.",
      from: { path: "^src/steps/index\\.ts$" },
      to: { path: "^src/steps/[^/]+-run\\.ts$", dependencyTypesNot: ["dynamic-import", "type-only"] },
    },
    {
      name: "engine-not-to-steps",
      severity: "error",
      comment:
        "The engine runs any step kind through the StepKind contract; it finds a kind through the composition root (src/registry.ts), never by importing a step.",
      from: { path: "^src/engine/" },
      to: { path: "^src/(steps|cli|server|notify|metrics|restic)/", ...notTypeOnly },
    },
    {
      name: "restic-is-a-client",
      severity: "error",
      comment:
        "restic/ wraps the restic binary (spawn, detect, locks, parsers, error rules); it knows nothing of jobs, steps, the engine or the CLI. What a step needs from the engine is passed in as plain values.",
      from: { path: "^src/restic/" },
      to: {
        path: "^src/(engine|cli|server|steps|notify|metrics|store|scheduler)/|^src/registry\\.ts$",
        ...notTypeOnly,
      },
    },
    {
      name: "store-is-below",
      severity: "error",
      comment: "The run store keeps records; it does not run, notify or load configs.",
      from: { path: "^src/store/" },
      to: {
        path: "^src/(engine|cli|server|steps|notify|metrics|restic|scheduler|config)/|^src/registry\\.ts$",
        ...notTypeOnly,
      },
    },
    {
      name: "steps-do-not-reach-up",
      severity: "error",
      comment:
        "A step returns an outcome; the engine records and notifies (architecture.md, convention 2). Steps never import the store, notifiers, metrics, the server or the CLI.",
      from: { path: "^src/steps/" },
      to: { path: "^src/(store|notify|metrics|server|cli|scheduler)/", ...notTypeOnly },
    },
    {
      name: "sources-below-steps",
      severity: "error",
      comment:
        "sources/ (what a source selects, with restic's rules) is used by steps and config; it imports neither.",
      from: { path: "^src/sources/" },
      to: {
        path: "^src/(?!sources/|util/)|^src/registry\\.ts$",
        pathNot: "^src/errors\\.ts$",
        ...notTypeOnly,
      },
    },
    {
      name: "util-is-the-bottom",
      severity: "error",
      comment:
        "util/ holds small shared helpers; it imports nothing of ours but util/ and the error base (src/errors.ts, itself a leaf).",
      from: { path: "^src/util/" },
      to: { path: SRC, pathNot: ["^src/util/", "^src/errors\\.ts$"], ...notTypeOnly },
    },
    {
      name: "errors-is-a-leaf",
      severity: "error",
      comment: "src/errors.ts (HoldfastError, step errors) is imported by every layer, so it imports none.",
      from: { path: "^src/errors\\.ts$" },
      to: { path: SRC, ...notTypeOnly },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
