// The composition root of the step kinds: the one place that knows which kinds holdfast is built
// with. The engine runs a step, the loader validates it and the modules that reason about where data
// goes (redundancy matrix, metrics, anomalies, init, retention scope) read its data flow, all through
// the lookups here — none of them names a step type.
import type { DataFlow, DataFlowHow, StepKind } from "./engine/step-kind.js";
import { builtinStepKinds } from "./steps/index.js";

// Each kind has its own options type; the registry holds them side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStepKind = StepKind<any>;

const stepKinds = new Map<string, AnyStepKind>(builtinStepKinds.map((kind) => [kind.type, kind]));

/**
 * Adds a step kind beside the built-in ones (a test's throwaway kind, a kind built elsewhere). Its
 * data flow is read at once by every module that reads flows; register before loading a config.
 */
export function registerStepKind(kind: AnyStepKind): void {
  if (stepKinds.has(kind.type)) throw new Error(`step kind "${kind.type}" is already registered`);
  stepKinds.set(kind.type, kind);
}

/** Removes a kind added by registerStepKind (tests clean up after themselves). */
export function unregisterStepKind(type: string): void {
  if (builtinStepKinds.some((kind) => kind.type === type)) throw new Error(`"${type}" is built in`);
  stepKinds.delete(type);
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
  return flow;
}
