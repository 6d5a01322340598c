// The composition root of the kinds: the one place that knows which step and notifier kinds holdfast
// is built with, and hands them to the config schema (config/schema.ts imports none). The engine runs
// a step, the loader validates it and the modules that reason about where data goes (redundancy
// matrix, metrics, anomalies, init, retention scope) read its data flow, all through the lookups here
// — none of them names a step type.
//
// Only the kinds' light definitions are imported here; a kind's runner (restic, rsync, git, the tree
// walk) is loaded by loadStepRunner the first time a step of that kind runs, so that loading a config
// (status, validate, the daemon's plan) imports no runtime code.
import type { DataFlow, DataFlowHow, StepKind, StepRunner } from "./engine/step-kind.js";
import { buildConfigSchema, configJsonSchema as jsonSchemaOf, type ConfigSchemas } from "./config/schema.js";
import { notifierKinds } from "./notify/index.js";
import { builtinStepKinds, builtinStepRunners } from "./steps/index.js";

// Each kind has its own options type; the registry holds them side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStepKind = StepKind<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStepRunner = StepRunner<any>;

const stepKinds = new Map<string, AnyStepKind>(builtinStepKinds.map((kind) => [kind.type, kind]));
const runnerLoads = new Map<string, Promise<AnyStepRunner>>();
let schemas: ConfigSchemas | null = null;

/** The config schema of the registered kinds (built on first use, again after a kind is added). */
export function configSchemas(): ConfigSchemas {
  schemas ??= buildConfigSchema({ steps: allStepKinds(), notifiers: notifierKinds });
  return schemas;
}

/** The JSON Schema of the config file with the registered kinds (`holdfast config schema`). */
export function configJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(configSchemas().configSchema);
}

/**
 * The runner of a step type: the kind's own inline `run`, or its runner module (steps/index.ts), imported
 * once. Rejects for a type that is not registered.
 */
export function loadStepRunner(type: string): Promise<AnyStepRunner> {
  const kind = stepKinds.get(type);
  if (!kind) return Promise.reject(new Error(`unknown step type "${type}"`));
  const inline = kind.run?.bind(kind);
  if (inline) return Promise.resolve({ type, run: inline });
  let load = runnerLoads.get(type);
  if (!load) {
    const importRunner = builtinStepRunners[type];
    load = importRunner
      ? importRunner().then((runner) => {
          if (runner.type !== type) throw new Error(`the runner of "${type}" is for "${runner.type}"`);
          return runner;
        })
      : Promise.reject(new Error(`step type "${type}" has no runner`));
    runnerLoads.set(type, load);
  }
  return load;
}

/**
 * Adds a step kind beside the built-in ones (a test's throwaway kind, a kind built elsewhere). Its
 * data flow is read at once by every module that reads flows; register before loading a config.
 */
export function registerStepKind(kind: AnyStepKind): void {
  if (stepKinds.has(kind.type)) throw new Error(`step kind "${kind.type}" is already registered`);
  if (!kind.run) throw new Error(`step kind "${kind.type}" has no run`);
  stepKinds.set(kind.type, kind);
  schemas = null;
}

/** Removes a kind added by registerStepKind (tests clean up after themselves). */
export function unregisterStepKind(type: string): void {
  if (builtinStepKinds.some((kind) => kind.type === type)) throw new Error(`"${type}" is built in`);
  stepKinds.delete(type);
  schemas = null;
}

export function findStepKind(type: string): AnyStepKind | undefined {
  return stepKinds.get(type);
}

export function allStepKinds(): AnyStepKind[] {
  return [...stepKinds.values()];
}

/** How a step type moves data (null: it moves none, or the type is unknown) — for history records. */
export function dataFlowHow(type: string): DataFlowHow | null {
  return stepKinds.get(type)?.dataFlow?.how ?? null;
}

/**
 * The data flow of one configured step (its options are the step's own fields). Null when the kind
 * declares none, or the step is not a validated step of a known kind.
 */
export function dataFlowOf(step: { type: string }): DataFlow | null {
  const declaration = stepKinds.get(step.type)?.dataFlow;
  if (!declaration) return null;
  let flow: DataFlow;
  try {
    flow = { how: declaration.how, ...declaration.of(step) };
  } catch {
    return null;
  }
  // A step object that did not come through the schema (options missing): no flow to report.
  const names = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (!names(flow.repos) || (flow.sources !== undefined && !names(flow.sources))) return null;
  for (const field of ["source", "from", "host"] as const)
    if (flow[field] !== undefined && typeof flow[field] !== "string") return null;
  const isDatabase = (d: unknown) => {
    const o = d as Partial<Record<"name" | "what" | "file", unknown>> | null;
    return (
      typeof o?.name === "string" &&
      typeof o.what === "string" &&
      (o.file === undefined || typeof o.file === "string")
    );
  };
  if (flow.databases !== undefined && !(Array.isArray(flow.databases) && flow.databases.every(isDatabase)))
    return null;
  return flow;
}
