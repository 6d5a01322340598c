// resticprofile's config structure before translation: profiles found (v1: top-level sections; v2:
// under profiles:), mixins applied where `use` names them (v2, config/config_mixins.go: a mixin's
// content is merged over the section that uses it, with ${VAR}/$VAR from its default-vars and the
// use's vars), then `inherit` resolved (parent first, the child merged over it; v1 merges lists by
// index, v2 replaces them and knows `key...`/`key__APPEND` and `...key`/`key__PREPEND`).
import { asList, isRecord, scalarText } from "./model.js";

export type Section = Record<string, unknown>;

const APPEND = /^(.+)__APPEND$|^(.+)\.\.\.$/i;
const PREPEND = /^(.+)__PREPEND$|^\.\.\.(.+)$/i;

/** The child merged over the parent, resticprofile's way for this version of the format. */
export function mergeSections(parent: Section, child: Section, version: 1 | 2): Section {
  const result: Section = { ...parent };
  for (const [key, value] of Object.entries(child)) {
    const append = version === 2 ? APPEND.exec(key) : null;
    const prepend = version === 2 && !append ? PREPEND.exec(key) : null;
    if (append || prepend) {
      const target = (append ?? prepend)!.slice(1).find((k) => k) ?? key;
      const existing = asList(result[target]);
      result[target] = append ? [...existing, ...asList(value)] : [...asList(value), ...existing];
      continue;
    }
    const before = result[key];
    if (isRecord(before) && isRecord(value)) result[key] = mergeSections(before, value, version);
    else if (version === 1 && Array.isArray(before) && Array.isArray(value)) {
      // v1: a list is structure too — the child's items replace the parent's by index.
      const merged: unknown[] = [...(before as unknown[])];
      (value as unknown[]).forEach((v, i) => {
        merged[i] = v;
      });
      result[key] = merged;
    } else result[key] = value;
  }
  return result;
}

export interface MixinProblem {
  where: string;
  why: string;
}

/** The section with every `use` (at any depth) replaced by the mixins it names. */
export function applyMixins(
  section: Section,
  mixins: Record<string, unknown>,
  where: string,
  problems: MixinProblem[],
): Section {
  let result: Section = {};
  for (const [key, value] of Object.entries(section)) {
    if (key === "use") continue;
    result[key] = isRecord(value) ? applyMixins(value, mixins, `${where}.${key}`, problems) : value;
  }
  for (const use of asList(section.use)) {
    const name = typeof use === "string" ? use : isRecord(use) ? scalarText(use.name) : "";
    const mixin = mixins[name.toLowerCase()] ?? mixins[name];
    if (!isRecord(mixin)) {
      problems.push({ where: `${where}.use`, why: `mixin "${name}" is not defined under mixins` });
      continue;
    }
    const vars: Record<string, unknown> = {};
    const defaults = isRecord(mixin["default-vars"]) ? mixin["default-vars"] : {};
    for (const [k, v] of Object.entries(defaults)) vars[k.toUpperCase()] = v;
    if (isRecord(use)) {
      for (const [k, v] of Object.entries(use)) if (k !== "name" && k !== "vars") vars[k.toUpperCase()] = v;
      if (isRecord(use.vars)) for (const [k, v] of Object.entries(use.vars)) vars[k.toUpperCase()] = v;
    }
    const { ["default-vars"]: _defaults, ...content } = mixin;
    result = mergeSections(result, expandMixinVars(content, vars) as Section, 2);
  }
  return result;
}

function expandMixinVars(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    return value.replace(
      /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
      (whole, all: string, braced?: string, bare?: string) => {
        if (all === "$") return "$";
        const name = (braced ?? bare ?? "").toUpperCase();
        const v = vars[name];
        return v === undefined || v === null ? `\${${braced ?? bare ?? ""}}` : scalarText(v);
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => expandMixinVars(v, vars));
  if (isRecord(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandMixinVars(v, vars)]));
  return value;
}

/** Each profile with its `inherit` chain resolved (a cycle or a missing parent is a problem). */
export function resolveInheritance(
  profiles: Record<string, Section>,
  version: 1 | 2,
  problems: MixinProblem[],
): Record<string, Section> {
  const resolved: Record<string, Section> = {};
  const resolve = (name: string, seen: string[]): Section => {
    const done = resolved[name];
    if (done) return done;
    const own = profiles[name] ?? {};
    const parentName = typeof own.inherit === "string" ? own.inherit : undefined;
    let result: Section;
    if (parentName === undefined) result = own;
    else if (seen.includes(parentName)) {
      problems.push({ where: `${name}.inherit`, why: `inherit cycle: ${[...seen, parentName].join(" → ")}` });
      result = own;
    } else if (!profiles[parentName]) {
      problems.push({ where: `${name}.inherit`, why: `profile "${parentName}" does not exist` });
      result = own;
    } else result = mergeSections(resolve(parentName, [...seen, parentName]), own, version);
    const { inherit: _inherit, ...rest } = result;
    resolved[name] = rest;
    return rest;
  };
  for (const name of Object.keys(profiles)) resolve(name, [name]);
  return resolved;
}
