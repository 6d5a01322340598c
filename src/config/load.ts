// Loads the config file: YAML with source positions → typed Config, or a ConfigError carrying every
// problem at once, each with file:line:col, the YAML path, a message and a hint.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
} from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "../errors.js";
// The loader asks the composition root for the kinds (and the schema built from them); the rest of
// config/ is handed them and imports no kind.
import { allStepKinds, configSchemas, findStepKind } from "../registry.js";
import { originOf, resolveReuse } from "./reuse.js";
import type { Config, RawConfig } from "./types.js";
import { withPathBase } from "./values.js";
import { findSecretProblems } from "./secrets.js";
import { closestMatch } from "../util/suggest.js";
import { CalendarError, parseSchedule } from "../scheduler/calendar.js";
import { defaultStateDir } from "./locate.js";

export { defaultStateDir };

export { findConfigFile, type LoadOptions } from "./locate.js";

/** Reads and validates a config file. Throws ConfigError (exit 2) for anything wrong with it. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file,
        line: 0,
        col: 0,
        path: "",
        message:
          code === "ENOENT" ? "config file not found" : `cannot read config file (${code ?? String(err)})`,
        hint:
          code === "ENOENT"
            ? "create one with `holdfast init`, or pass --config PATH"
            : "check the file's permissions (holdfast needs to read it)",
      },
    ]);
  }
  return parseConfigText(text, file, env);
}

/** Validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter();
  // merge: YAML merge keys (`<<: *common`), the usual way to reuse a block (issue 17 item 3).
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    merge: true,
  });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: 1, col: 1 };
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };

  const syntaxIssues: ConfigIssue[] = doc.errors.map((e) => ({
    file,
    ...at(e.pos[0]),
    path: "",
    message: `YAML syntax error: ${e.message.split("\n")[0] ?? e.code}`,
    hint: yamlHint(e.code),
  }));
  if (syntaxIssues.length > 0) throw new ConfigError(syntaxIssues);

  keepArgvLiteral(doc);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb ("billion laughs") or nesting too deep to convert: a config problem, not a crash.
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: `the YAML cannot be expanded: ${err instanceof Error ? err.message : String(err)}`,
        hint: "write the values out instead of nesting aliases (*name) of aliases",
      },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: "the config must be a YAML mapping (key: value lines)",
        hint: "start from `holdfast init`, or see docs/config.md for an example",
      },
    ]);
  }

  // x- keys and defaults: resolved on the plain data; a value a default filled in is reported where
  // the default is written.
  const reuse = resolveReuse(
    data as Record<string, unknown>,
    allStepKinds().map((k) => k.type),
    formatPath,
  );
  data = reuse.data;
  const locate = (p: ReadonlyArray<PropertyKey>, wantKey = false) => at(offsetOf(doc, p, wantKey));
  const issues: ConfigIssue[] = [];
  const push = (p: ReadonlyArray<PropertyKey>, message: string, hint: string | null, wantKey = false) => {
    const origin = originOf(p, reuse.origins, formatPath);
    issues.push({
      file,
      ...locate(origin ?? p, wantKey),
      path: formatPath(p),
      message: origin ? `${message} (set by ${formatPath(origin)})` : message,
      hint,
    });
  };
  for (const problem of reuse.problems) push(problem.path, problem.message, problem.hint, problem.atKey);

  // Inline secrets first: their message ("use password_file") is better than "unknown key password".
  const secretProblems = findSecretProblems(data as Record<string, unknown>);
  const secretPaths = new Set(secretProblems.map((s) => formatPath(s.path)));
  for (const s of secretProblems) push(s.path, s.message, s.hint, s.atKey);

  const dir = path.dirname(file);
  const parsed = withPathBase(dir, env, () => configSchemas().configSchema.safeParse(data));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const described of describeIssue(issue, data)) {
        if (secretPaths.has(formatPath(described.path))) continue;
        push(described.path, described.message, described.hint, described.atKey);
      }
    }
  }

  for (const issue of issues)
    issue.hint ??= "see `holdfast config schema` or docs/config.md for what this field accepts";
  for (const ref of findReferenceProblems(data as Record<string, unknown>))
    push(ref.path, ref.message, ref.hint);

  // Only for a config that is otherwise valid: the checks read the parsed (resolved) paths.
  if (parsed.success && issues.length === 0) {
    const config = parsed.data;
    for (const [jobName, job] of Object.entries(config.jobs))
      job.steps.forEach((step, i) => {
        for (const problem of findStepKind(step.type)?.checkWithConfig?.(step, config) ?? [])
          push(["jobs", jobName, "steps", i, ...problem.path], problem.message, problem.hint ?? null);
      });
  }

  if (issues.length > 0) {
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(dedupe(issues));
  }
  return finishConfig(parsed.data as RawConfig, file, env);
}

/** Fills in names and defaults that depend on the machine (state dir, host). */
export function finishConfig(
  raw: RawConfig,
  file: string | null,
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const withNames = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).map(([name, value]) => [name, { ...value, name }]));
  return {
    ...raw,
    file,
    state_dir: raw.state_dir ?? defaultStateDir(env),
    host: raw.host ?? os.hostname(),
    repositories: withNames(raw.repositories),
    sources: withNames(raw.sources),
    jobs: withNames(raw.jobs),
    notifications: withNames(raw.notifications),
  };
}

interface DescribedIssue {
  path: PropertyKey[];
  message: string;
  hint: string | null;
  atKey: boolean;
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): DescribedIssue[] {
  const p = issue.path;
  const hintParam = (issue as { params?: { hint?: string } }).params?.hint ?? null;
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeysAt(data, p);
      return issue.keys.map((key) => {
        const guess = allowed ? closestMatch(key, allowed) : null;
        return {
          path: [...p, key],
          message: `unknown key "${key}"`,
          hint: guess
            ? `did you mean "${guess}"?`
            : allowed
              ? `allowed here: ${allowed.join(", ")}`
              : "remove it",
          atKey: true,
        };
      });
    }
    case "invalid_key": {
      const key = String(p.at(-1) ?? "");
      return [
        {
          path: p,
          message: `${JSON.stringify(key)} is not a valid name`,
          hint: "names use lowercase letters, digits, '_' and '-', and start with a letter or digit",
          atKey: true,
        },
      ];
    }
    case "invalid_type": {
      const value = valueAt(data, p);
      if (value === undefined) {
        const key = String(p.at(-1) ?? "");
        return [{ path: p, message: `missing required key "${key}"`, hint: `add ${key}: …`, atKey: true }];
      }
      return [
        {
          path: p,
          message: `expected ${readableType(issue.expected)}, got ${describeValue(value)}`,
          hint: typeHint(readableType(issue.expected)),
          atKey: false,
        },
      ];
    }
    case "invalid_value":
      if (valueAt(data, p) === undefined) {
        const key = String(p.at(-1) ?? "");
        return [
          {
            path: p,
            message: `missing required key "${key}"`,
            hint: `add ${key}: ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}`,
            atKey: true,
          },
        ];
      }
      return [
        {
          path: p,
          message: `${describeValue(valueAt(data, p))} is not allowed here`,
          hint: `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
          atKey: false,
        },
      ];
    case "invalid_union": {
      // A discriminated union with an unknown `type` (zod reports it at …type or at the object).
      const objectPath = p.at(-1) === "type" ? p.slice(0, -1) : p;
      const value = valueAt(data, objectPath) as Record<string, unknown> | undefined;
      const type = value && typeof value === "object" ? value.type : undefined;
      const known = knownTypesAt(objectPath);
      if (known) {
        const guess = typeof type === "string" ? closestMatch(type, known) : null;
        return [
          {
            path: [...objectPath, "type"],
            message: type === undefined ? 'missing "type"' : `unknown type ${JSON.stringify(type)}`,
            hint: guess ? `did you mean "${guess}"?` : `use one of: ${known.join(", ")}`,
            atKey: type === undefined,
          },
        ];
      }
      return [{ path: p, message: issue.message, hint: hintParam, atKey: false }];
    }
    case "too_small":
    case "too_big":
      return [
        {
          path: p,
          message: issue.message.replace(/^Too (small|big): /, ""),
          hint: hintParam ?? rangeHint(issue),
          atKey: false,
        },
      ];
    case "invalid_format":
      return [
        { path: p, message: issue.message, hint: hintParam ?? `write a valid ${issue.format}`, atKey: false },
      ];
    default:
      return [{ path: p, message: issue.message, hint: hintParam, atKey: false }];
  }
}

function rangeHint(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string | null {
  if (issue.origin === "array")
    return issue.code === "too_small" ? "add at least one entry" : "use fewer entries";
  if (issue.origin === "number") {
    const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
    return issue.code === "too_small" ? `use ${String(bound)} or more` : `use ${String(bound)} or less`;
  }
  return null;
}

function readableType(expected: string): string {
  return expected === "record" || expected === "object"
    ? "a mapping"
    : expected === "array"
      ? "a list"
      : expected;
}

function typeHint(expected: string): string | null {
  switch (expected) {
    case "a list":
      return "write a list: [a, b] or one `- item` per line";
    case "a mapping":
      return "write a mapping: key: value lines, indented under this key";
    case "string":
      return "write text (quote it if it looks like a number or boolean)";
    case "number":
      return "write a number without quotes";
    case "boolean":
      return "write true or false";
    default:
      return null;
  }
}

function yamlHint(code: string): string {
  switch (code) {
    case "DUPLICATE_KEY":
      return "each key may appear once in a mapping; remove or rename the duplicate";
    case "BAD_INDENT":
    case "MISSING_CHAR":
      return "check the indentation: nested keys need more spaces than their parent, and tabs are not allowed";
    case "TAB_AS_INDENT":
      return "replace the tab with spaces";
    case "BLOCK_AS_IMPLICIT_KEY":
    case "MULTILINE_IMPLICIT_KEY":
      return "a `key: value` line may be missing its colon or a quote is not closed";
    default:
      return "check the YAML syntax near this position (quotes, colons, indentation)";
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return `${typeof value} ${value}`;
  return typeof value;
}

function valueAt(data: unknown, p: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = data;
  for (const seg of p) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

// Schema introspection for "did you mean": walks zod 4 defs along the data path.
type AnyDef = { type: string; [k: string]: unknown };
function defOf(schema: unknown): AnyDef {
  return (schema as { _zod: { def: AnyDef } })._zod.def;
}
function unwrap(schema: unknown, data: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(s);
    if (
      def.type === "optional" ||
      def.type === "default" ||
      def.type === "nullable" ||
      def.type === "readonly"
    ) {
      s = def.innerType;
    } else if (def.type === "pipe") {
      s = def.in;
    } else if (def.type === "union") {
      const options = def.options as unknown[];
      const type = data && typeof data === "object" ? (data as { type?: unknown }).type : undefined;
      const match = options.find((o) => {
        const od = defOf(o);
        if (od.type !== "object") return false;
        const t = (od.shape as Record<string, unknown>).type;
        return t !== undefined && (defOf(t).values as unknown[] | undefined)?.includes(type);
      });
      if (!match) return s;
      s = match;
    } else {
      return s;
    }
  }
  return s;
}

function schemaAt(p: ReadonlyArray<PropertyKey>, data: unknown): { schema: unknown; data: unknown } {
  let s: unknown = configSchemas().configSchema;
  let d = data;
  for (const seg of p) {
    s = unwrap(s, d);
    const def = defOf(s);
    d = d && typeof d === "object" ? (d as Record<PropertyKey, unknown>)[seg] : undefined;
    if (def.type === "object") s = (def.shape as Record<string, unknown>)[String(seg)];
    else if (def.type === "record") s = def.valueType;
    else if (def.type === "array") s = def.element;
    else return { schema: undefined, data: d };
    if (s === undefined) return { schema: undefined, data: d };
  }
  return { schema: unwrap(s, d), data: d };
}

function allowedKeysAt(data: unknown, p: ReadonlyArray<PropertyKey>): string[] | null {
  const { schema } = schemaAt(p, data);
  if (!schema) return null;
  const def = defOf(schema);
  return def.type === "object" ? Object.keys(def.shape as object) : null;
}

function knownTypesAt(p: ReadonlyArray<PropertyKey>): string[] | null {
  let s: unknown = configSchemas().configSchema;
  for (const seg of p) {
    s = unwrap(s, undefined);
    const def = defOf(s);
    if (def.type === "object") s = (def.shape as Record<string, unknown>)[String(seg)];
    else if (def.type === "record") s = def.valueType;
    else if (def.type === "array") s = def.element;
    else return null;
  }
  const def = defOf(s);
  if (def.type !== "union") return null;
  return (def.options as unknown[]).flatMap((o) => {
    const t = (defOf(o).shape as Record<string, unknown> | undefined)?.type;
    return t ? ((defOf(t).values as string[] | undefined) ?? []) : [];
  });
}

interface ReferenceProblem {
  path: PropertyKey[];
  message: string;
  hint: string;
}

/** Unknown repositories, sources and notifiers, and duplicate step names — checked on the raw data. */
function findReferenceProblems(data: Record<string, unknown>): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const names = (key: string) =>
    data[key] && typeof data[key] === "object" && !Array.isArray(data[key]) ? Object.keys(data[key]) : [];
  const known = {
    repository: names("repositories"),
    source: names("sources"),
    notification: names("notifications"),
  };
  const section = { repository: "repositories", source: "sources", notification: "notifications" } as const;
  const check = (p: PropertyKey[], kind: keyof typeof known, name: unknown) => {
    if (typeof name !== "string" || known[kind].includes(name)) return;
    const guess = closestMatch(name, known[kind]);
    problems.push({
      path: p,
      message: `unknown ${kind} "${name}"`,
      hint: guess
        ? `did you mean "${guess}"?`
        : known[kind].length > 0
          ? `defined ${section[kind]}: ${known[kind].join(", ")}`
          : `define it under ${section[kind]}:`,
    });
  };

  const jobs = data.jobs;
  if (!jobs || typeof jobs !== "object") return problems;
  for (const [jobName, job] of Object.entries(jobs as Record<string, unknown>)) {
    if (!job || typeof job !== "object") continue;
    const j = job as Record<string, unknown>;
    if (Array.isArray(j.notify))
      j.notify.forEach((n, i) => check(["jobs", jobName, "notify", i], "notification", n));
    if (typeof j.schedule === "string") {
      try {
        parseSchedule(j.schedule);
      } catch (err) {
        if (!(err instanceof CalendarError)) throw err;
        problems.push({ path: ["jobs", jobName, "schedule"], message: err.message, hint: err.hint });
      }
    }
    if (!Array.isArray(j.steps)) continue;
    const seen = new Map<string, number>();
    j.steps.forEach((step: unknown, i) => {
      if (!step || typeof step !== "object") return;
      const s = step as Record<string, unknown>;
      if (typeof s.name === "string") {
        if (seen.has(s.name)) {
          problems.push({
            path: ["jobs", jobName, "steps", i, "name"],
            message: `step name "${s.name}" is used twice in job "${jobName}" (first at step ${(seen.get(s.name) ?? 0) + 1})`,
            hint: "step names must be unique within a job; `holdfast run --step NAME` selects by name",
          });
        } else seen.set(s.name, i);
      }
      const kind = typeof s.type === "string" ? findStepKind(s.type) : undefined;
      let refs: ReturnType<NonNullable<NonNullable<typeof kind>["references"]>> = [];
      let problemsFromKind: ReturnType<NonNullable<NonNullable<typeof kind>["check"]>> = [];
      try {
        refs = kind?.references?.(s) ?? [];
        problemsFromKind = kind?.check?.(s) ?? [];
      } catch {
        // Malformed step data; the schema already reports it.
      }
      for (const ref of refs) {
        if (ref.kind === "step") continue;
        check(["jobs", jobName, "steps", i, ...ref.path], ref.kind, ref.name);
      }
      for (const problem of problemsFromKind) {
        problems.push({
          path: ["jobs", jobName, "steps", i, ...problem.path],
          message: problem.message,
          hint: problem.hint ?? "see docs/config.md",
        });
      }
    });
  }
  const notifications = data.notifications;
  if (notifications && typeof notifications === "object") {
    for (const [name, n] of Object.entries(notifications as Record<string, unknown>)) {
      if (!n || typeof n !== "object") continue;
      const rec = n as Record<string, unknown>;
      if (
        ["healthchecks", "webhook", "ntfy"].includes(String(rec.type)) &&
        (rec.url === undefined) === (rec.url_file === undefined)
      ) {
        problems.push({
          path: ["notifications", name],
          message: "needs exactly one of `url` or `url_file`",
          hint: "url_file keeps a URL that works as a credential (healthchecks ping URL) out of the config",
        });
      }
    }
  }
  const repositories = data.repositories;
  if (repositories && typeof repositories === "object") {
    for (const [name, r] of Object.entries(repositories as Record<string, unknown>)) {
      if (!r || typeof r !== "object") continue;
      const rec = r as Record<string, unknown>;
      if ((rec.url === undefined) === (rec.url_file === undefined)) {
        problems.push({
          path: ["repositories", name],
          message: "needs exactly one of `url` or `url_file`",
          hint: "url: /data/backups/restic, or url_file: FILE when the URL carries credentials",
        });
      }
      if (
        rec.password_file === undefined &&
        rec.password_command === undefined &&
        rec.password === undefined
      ) {
        problems.push({
          path: ["repositories", name],
          message: "needs `password_file` or `password_command`",
          hint: "`holdfast init` generates a 0600 password file; or password_command: [pass, show, backup/NAME]",
        });
      } else if (rec.password_file !== undefined && rec.password_command !== undefined) {
        problems.push({
          path: ["repositories", name, "password_command"],
          message: "give either `password_file` or `password_command`, not both",
          hint: "remove one of them",
        });
      }
    }
  }
  return problems;
}

// Lists that are argv (or argv-like) hold text: `[sleep, 060]` means the string "060", and
// `[true]` the program `true`. YAML would read them as numbers and booleans; keep the source text.
const ARGV_KEYS = new Set([
  "command",
  "password_command",
  "rsync_args",
  "ssh_command",
  "extra_args",
  "exclude",
  "tags",
]);

function keepArgvLiteral(doc: Document): void {
  visit(doc, {
    Pair(_key, pair) {
      if (!isScalar(pair.key) || !ARGV_KEYS.has(String(pair.key.value)) || !isSeq(pair.value)) return;
      for (const item of pair.value.items) {
        if (isScalar(item) && typeof item.value !== "string" && item.source !== undefined)
          item.value = item.source;
      }
    },
  });
}

/**
 * Where each path is in a config file (line and column, 1-based; the nearest existing parent when the
 * path is not written there), for problems found after loading — an option the installed restic lacks.
 */
export function positionsInConfigFile(
  file: string,
  paths: ReadonlyArray<ReadonlyArray<PropertyKey>>,
): Array<{ line: number; col: number }> {
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return paths.map(() => ({ line: 0, col: 0 }));
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  return paths.map((p) => {
    const offset = offsetOf(doc, p, true);
    if (offset === undefined) return { line: 1, col: 1 };
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  });
}

function offsetOf(doc: Document, p: ReadonlyArray<PropertyKey>, wantKey: boolean): number | undefined {
  let node: Node | null | undefined = doc.contents;
  let lastGood: Node | null | undefined = node;
  let keyNode: Node | null = null;
  for (const seg of p) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = findPair(doc, node, String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value as Node | null;
      lastGood = node ?? keyNode;
    } else if (isSeq(node) && typeof seg === "number") {
      node = node.items[seg] as Node | undefined;
      keyNode = null;
      if (!node) break;
      lastGood = node;
    } else {
      break;
    }
  }
  const target = wantKey && keyNode ? keyNode : (lastGood ?? keyNode);
  return target?.range?.[0];
}

type MapNode = Extract<Node, { items: unknown[] }> & { items: { key: unknown; value: unknown }[] };

/** The pair for `key` in a map: its own, or one a merge key (`<<: *a` or `<<: [*a, *b]`) brings in. */
function findPair(
  doc: Document,
  map: Node,
  key: string,
  depth = 0,
): { key: unknown; value: unknown } | undefined {
  if (!isMap(map) || depth > 20) return undefined;
  const items = (map as MapNode).items;
  const own = items.find((item) => isScalar(item.key) && String(item.key.value) === key);
  if (own) return own;
  for (const item of items) {
    // With merge: true the parser gives a merge key the value Symbol(<<).
    if (!isScalar(item.key) || !["<<", "Symbol(<<)"].includes(String(item.key.value))) continue;
    const sources = isSeq(item.value) ? item.value.items : [item.value];
    for (const source of sources) {
      const target = isAlias(source) ? source.resolve(doc) : source;
      const found = target ? findPair(doc, target as Node, key, depth + 1) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

export function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of p) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (!/^[A-Za-z0-9_-]+$/.test(String(seg)))
      out += `[${JSON.stringify(String(seg)).replace(/\s/g, "\\u0020")}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.col}:${i.path}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
