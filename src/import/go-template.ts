// resticprofile runs its config file through Go's text/template before parsing it, once per profile
// (config/template.go). What can be resolved without running is resolved here, on the text:
// `define`/`template` blocks, {{ .Profile.Name }} (a placeholder the translation fills with each
// profile's name, as resticprofile renders the file per profile), {{ .ConfigDir }}, {{ .Hostname }},
// {{ .CurrentDir }}, and {{ .Env.NAME }} (kept as ${NAME}, which holdfast expands in paths at each
// run). Anything else — {{ .Now }}, functions, if/range — is replaced by a marker that the
// translation finds in the parsed values, leaves out and reports with the line it came from.

export const PROFILE_NAME = "__HOLDFAST_PROFILE_NAME__";
const MARKER = /__HOLDFAST_UNRESOLVED_(\d+)__/g;

export interface TemplateNote {
  line: number;
  expression: string;
  note: string;
}

export interface RenderedTemplate {
  text: string;
  /** Expressions replaced by markers, by marker number. */
  unresolved: TemplateNote[];
  /** Expressions resolved to a value that depends on this machine or on the environment. */
  resolved: TemplateNote[];
}

export interface TemplateValues {
  configDir: string;
  currentDir: string;
  hostname: string;
}

const ACTION = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;

export function renderStaticTemplate(source: string, values: TemplateValues): RenderedTemplate {
  const unresolved: TemplateNote[] = [];
  const resolved: TemplateNote[] = [];
  const lineAt = (offset: number) => source.slice(0, offset).split("\n").length;

  // {{ define "name" }} … {{ end }}: taken out of the text, inlined where {{ template "name" . }} is.
  const defines = new Map<string, string>();
  let text = source.replace(
    /\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}([\s\S]*?)\{\{-?\s*end\s*-?\}\}/g,
    (_m, name: string, body: string) => {
      defines.set(name, body);
      return "";
    },
  );
  for (let depth = 0; depth < 10 && /\{\{-?\s*template\s+"/.test(text); depth++) {
    text = text.replace(/\{\{-?\s*template\s+"([^"]+)"\s*\.?\s*-?\}\}/g, (m, name: string) => {
      const body = defines.get(name);
      // A template that is not defined in the file stays an unresolved action.
      // Go inlines the body exactly as written (its leading newline and indentation included).
      return body === undefined ? m.replace("template", "template-undefined") : body;
    });
  }

  text = text.replace(ACTION, (whole, _trimL: string, expr: string, _trimR: string, offset: number) => {
    const line = lineAt(Math.min(offset, source.length));
    if (expr.startsWith("/*")) return "";
    if (expr === ".Profile.Name") return PROFILE_NAME;
    if (expr === ".ConfigDir") return values.configDir;
    if (expr === ".Hostname") {
      resolved.push({ line, expression: whole, note: `resolved to this machine's name, ${values.hostname}` });
      return values.hostname;
    }
    if (expr === ".CurrentDir") {
      resolved.push({
        line,
        expression: whole,
        note: `resolved to the directory the import ran in, ${values.currentDir} (resticprofile's is where it runs)`,
      });
      return values.currentDir;
    }
    const env = /^\.Env\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (env) {
      resolved.push({
        line,
        expression: whole,
        note: `kept as \${${env[1]}}: holdfast expands it in paths and URLs when each run starts, a shell command expands it itself`,
      });
      return `\${${env[1]}}`;
    }
    unresolved.push({
      line,
      expression: whole,
      note: expr.startsWith("template-undefined")
        ? "a template that is not defined in this file (an include?)"
        : "depends on when or how resticprofile runs; holdfast cannot compute it ahead",
    });
    return `__HOLDFAST_UNRESOLVED_${unresolved.length - 1}__`;
  });
  return { text, unresolved, resolved };
}

/** The unresolved expressions a value holds (markers), or [] when it holds none. */
export function unresolvedIn(value: unknown, notes: TemplateNote[]): TemplateNote[] {
  const found: TemplateNote[] = [];
  const visit = (v: unknown) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(MARKER)) {
        const note = notes[Number(m[1])];
        if (note) found.push(note);
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") Object.values(v).forEach(visit);
  };
  visit(value);
  return found;
}

/** The value with the profile-name placeholder replaced, deeply. */
export function withProfileName<T>(value: T, name: string): T {
  if (typeof value === "string") return value.split(PROFILE_NAME).join(name) as T;
  if (Array.isArray(value)) return value.map((v) => withProfileName(v, name) as unknown) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withProfileName(v, name)])) as T;
  }
  return value;
}
