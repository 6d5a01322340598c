// Writing a config once (issue 17 item 3): top-level `x-…` keys hold YAML anchors to reuse (the
// docker-compose convention; merge keys `<<: *name` are resolved by the YAML parser), and
// `defaults:` gives every job and step the values it does not set itself. Both are resolved here,
// on the plain data, before the schema sees it — and every value a default put somewhere is
// remembered, so an error in it points at the line in `defaults:` where it was written.
import { closestMatch } from "../util/suggest.js";

/** Keys every step has, whatever its type (the schema's commonStepShape, minus the step's name). */
export const COMMON_STEP_DEFAULT_KEYS = [
  "timeout",
  "retries",
  "retry_delay",
  "on_failure",
  "env",
  "env_file",
];

export interface ReuseProblem {
  path: PropertyKey[];
  message: string;
  hint: string;
  atKey: boolean;
}

export interface ResolvedReuse {
  /** The config without `x-…` keys and `defaults:`, each default filled in where it applies. */
  data: Record<string, unknown>;
  /** Where a defaulted value came from: its path in the config ("jobs.a.steps[0].timeout") → its path in `defaults`. */
  origins: Map<string, PropertyKey[]>;
  problems: ReuseProblem[];
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `format` turns a path into its text form (the loader's formatPath); `stepTypes` are the known step
 * kinds, for `defaults.<type>`.
 */
export function resolveReuse(
  input: Plain,
  stepTypes: readonly string[],
  format: (p: ReadonlyArray<PropertyKey>) => string,
): ResolvedReuse {
  const data: Plain = {};
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith("x-") || key === "defaults") continue;
    data[key] = value;
  }
  const origins = new Map<string, PropertyKey[]>();
  const problems: ReuseProblem[] = [];
  const defaults = input.defaults;
  if (defaults === undefined || defaults === null) return { data, origins, problems };
  if (!isPlain(defaults)) {
    problems.push({
      path: ["defaults"],
      message: "defaults must be a mapping",
      hint: "defaults: { job: {…}, step: {…}, backup: {…} } — values every job, every step, or every step of one type gets",
      atKey: false,
    });
    return { data, origins, problems };
  }
  const allowed = ["job", "step", ...stepTypes];
  for (const key of Object.keys(defaults)) {
    if (allowed.includes(key) && isPlain(defaults[key])) continue;
    const guess = closestMatch(key, allowed);
    problems.push({
      path: ["defaults", key],
      message: allowed.includes(key)
        ? `defaults.${key} must be a mapping`
        : `unknown key "${key}" in defaults`,
      hint: guess && guess !== key ? `did you mean "${guess}"?` : `allowed here: ${allowed.join(", ")}`,
      atKey: !allowed.includes(key),
    });
  }
  const section = (name: string): Plain => (isPlain(defaults[name]) ? defaults[name] : {});
  const jobDefaults = section("job");
  const stepDefaults = section("step");
  for (const key of Object.keys(jobDefaults)) {
    if (key === "steps")
      problems.push({
        path: ["defaults", "job", "steps"],
        message: "defaults.job cannot hold steps",
        hint: "reuse a list of steps with a YAML anchor under an x- key (x-steps: &steps …, then steps: *steps)",
        atKey: true,
      });
  }
  for (const key of Object.keys(stepDefaults)) {
    if (!COMMON_STEP_DEFAULT_KEYS.includes(key))
      problems.push({
        path: ["defaults", "step", key],
        message: `"${key}" cannot be a default of every step`,
        hint: `defaults.step takes ${COMMON_STEP_DEFAULT_KEYS.join(", ")}; options of one step type go under defaults.TYPE (e.g. defaults.backup)`,
        atKey: true,
      });
  }

  if (isPlain(data.jobs)) {
    const jobs: Plain = {};
    for (const [jobName, job] of Object.entries(data.jobs)) {
      if (!isPlain(job)) {
        jobs[jobName] = job;
        continue;
      }
      const jobPath = ["jobs", jobName];
      const filled = fill(job, jobDefaults, jobPath, ["defaults", "job"], ["steps"]);
      if (Array.isArray(filled.steps)) {
        filled.steps = filled.steps.map((step: unknown, index) => {
          if (!isPlain(step)) return step;
          const stepPath = [...jobPath, "steps", index];
          const typed =
            typeof step.type === "string" && stepTypes.includes(step.type)
              ? fill(step, section(step.type), stepPath, ["defaults", step.type], [])
              : step;
          return fill(typed, stepDefaults, stepPath, ["defaults", "step"], ["name", "type"]);
        });
      }
      jobs[jobName] = filled;
    }
    data.jobs = jobs;
  }
  return { data, origins, problems };

  /** target's own values win; an `env` map is merged key by key (the target's keys win). */
  function fill(
    target: Plain,
    from: Plain,
    targetPath: PropertyKey[],
    fromPath: PropertyKey[],
    skip: string[],
  ) {
    const out: Plain = { ...target };
    for (const [key, value] of Object.entries(from)) {
      if (skip.includes(key)) continue;
      if (!(key in target)) {
        out[key] = value;
        origins.set(format([...targetPath, key]), [...fromPath, key]);
      } else if (key === "env" && isPlain(target.env) && isPlain(value)) {
        const env: Plain = { ...target.env };
        for (const [name, v] of Object.entries(value)) {
          if (name in env) continue;
          env[name] = v;
          origins.set(format([...targetPath, "env", name]), [...fromPath, "env", name]);
        }
        out.env = env;
      }
    }
    return out;
  }
}

/** The path in the file an issue at `p` is about: inside `defaults:` when a default put the value there. */
export function originOf(
  p: ReadonlyArray<PropertyKey>,
  origins: ReadonlyMap<string, PropertyKey[]>,
  format: (p: ReadonlyArray<PropertyKey>) => string,
): PropertyKey[] | null {
  for (let n = p.length; n > 0; n--) {
    const from = origins.get(format(p.slice(0, n)));
    if (from) return [...from, ...p.slice(n)];
  }
  return null;
}
