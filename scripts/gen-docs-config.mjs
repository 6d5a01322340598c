// The reference part of docs/config.md, generated from the zod schema the loader validates with
// (dist/config/schema.js, so `npm run build` first). Every key the schema accepts gets a row: its type,
// its default, its description (the schema's own `.describe()` text, the same words `holdfast config
// schema` gives editors) and an example taken from the validated example configs in docs/examples/.
// Used by scripts/gen-docs.mjs (writing) and test/docs/config-doc.test.ts (checking).
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parse as parseYaml } from "yaml";

/** The value formats of values.ts, recognised by identity, with the section that explains them. */
function valueFormats(values) {
  return new Map(
    [
      [values.durationSchema, "duration"],
      [values.resticDurationSchema, "restic duration"],
      [values.percentSchema, "percentage"],
      [values.sizeSchema, "size"],
      [values.countOrPercentSchema, "count or percentage"],
      [values.pathSchema, "path"],
      [values.pathOrRemoteSchema, "path or host:path"],
      [values.repositoryUrlSchema, "repository URL"],
      [values.argvSchema, "argv list"],
      [values.envMapSchema, "environment map"],
      [values.nameSchema, "name"],
      [values.excludePatternSchema, "exclude pattern"],
      [values.tagFileSpecSchema, "NAME or NAME:HEADER"],
    ]
      .filter(([schema]) => schema !== undefined)
      // `.describe()` makes a new schema object around the same definition: compare definitions.
      .map(([schema, name]) => [schema._zod.def, name]),
  );
}

const def = (schema) => schema._zod.def;

/** Peels optional/default/nullable/readonly wrappers; keeps the first description met, outermost first. */
function unwrap(schema) {
  let node = schema;
  let optional = false;
  let nullable = false;
  let hasDefault = false;
  let defaultValue;
  let description = node.description;
  for (;;) {
    const d = def(node);
    if (d.type === "optional") optional = true;
    else if (d.type === "nullable") nullable = true;
    else if (d.type === "default" || d.type === "prefault") {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = typeof d.defaultValue === "function" ? d.defaultValue() : d.defaultValue;
      }
    } else if (d.type !== "readonly") break;
    node = d.innerType;
    description ??= node.description;
  }
  return { node, optional, nullable, hasDefault, defaultValue, description };
}

function formatMs(ms) {
  const units = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  let rest = ms;
  let text = "";
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  if (rest > 0) text += `${rest}ms`;
  return text || "0s";
}

/** A value as YAML flow text: plain where YAML reads it back as the same value, quoted where not. */
function yamlScalar(value) {
  if (typeof value === "string") {
    let same = false;
    try {
      same = parseYaml(`k: ${value}`)?.k === value;
    } catch {
      same = false;
    }
    return same && !/[,[\]{}]/.test(value) ? value : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(yamlScalar).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0
      ? "{}"
      : `{ ${entries.map(([k, v]) => `${yamlScalar(k)}: ${yamlScalar(v)}`).join(", ")} }`;
  }
  return String(value);
}

export function createConfigReference({ schemaModule, valuesModule }) {
  const formats = valueFormats(valuesModule);

  function range(node) {
    const json = z.toJSONSchema(node, { io: "input", unrepresentable: "any" });
    const lo =
      json.minimum ?? (json.exclusiveMinimum !== undefined ? `>${json.exclusiveMinimum}` : undefined);
    const hi = json.maximum;
    if (lo === undefined && hi === undefined) return "";
    if (lo !== undefined && hi !== undefined) return ` ${lo}…${hi}`;
    return lo !== undefined ? ` ≥ ${lo}` : ` ≤ ${hi}`;
  }

  function typeName(node) {
    const known = formats.get(def(node));
    if (known) return known;
    const d = def(node);
    switch (d.type) {
      case "string":
        return "string";
      case "number": {
        const json = z.toJSONSchema(node, { io: "input" });
        return `${json.type === "integer" ? "integer" : "number"}${range(node)}`;
      }
      case "boolean":
        return "boolean";
      case "literal":
        return d.values.map((v) => JSON.stringify(v)).join(" or ");
      case "enum":
        return `one of ${Object.values(d.entries)
          .map((v) => `\`${v}\``)
          .join(", ")}`;
      case "array": {
        const element = typeName(unwrap(d.element).node);
        return element.startsWith("one of ") ? `list, each ${element}` : `list of ${plural(element)}`;
      }
      case "record":
        return `map of ${typeName(unwrap(d.keyType).node)} → ${typeName(unwrap(d.valueType).node)}`;
      case "union":
        return d.options.map((o) => typeName(unwrap(o).node)).join(" or ");
      case "pipe":
        return typeName(d.in);
      case "transform":
        return "value";
      case "object":
        return "object";
      default:
        return d.type;
    }
  }

  // "path" → "paths", "exclude pattern" → "exclude patterns"; compound names stay as they are.
  const plural = (name) => (/^[a-z]+( [a-z]+)?$/.test(name) ? `${name}s` : name);

  function formatDefault(info) {
    if (!info.hasDefault) return info.optional ? "—" : "**required**";
    const v = info.defaultValue;
    const format = formats.get(def(info.node));
    if (format === "duration" && typeof v === "number") return `\`${formatMs(v)}\``;
    if (format === "percentage" && typeof v === "number") return `\`${v * 100}%\``;
    if (format === "count or percentage" && v && typeof v === "object")
      return `\`${v.count !== undefined ? v.count : `${v.fraction * 100}%`}\``;
    if (v === null) return "`null`";
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0)
      return "its fields' defaults";
    return `\`${yamlScalar(v)}\``;
  }

  const isObject = (node) => def(node).type === "object";
  const isTypedUnion = (node) => def(node).type === "union" && def(node).discriminator !== undefined;

  /**
   * The sections: each is an object (or the union of objects) at a path; its rows are its keys.
   * `pattern` is the path in the config with <name> for map keys and [] for list items, as written in
   * docs; `anchor` is the id of each row (`<section anchor>-<key>`).
   */
  const sections = [];

  function addObject(section) {
    const { shape, skip = [] } = section;
    const rows = [];
    for (const [key, schema] of Object.entries(shape)) {
      if (skip.includes(key)) continue;
      const info = unwrap(schema);
      const row = {
        key,
        path: `${section.pattern}${section.pattern ? "." : ""}${key}`,
        anchor: section.pattern === "" ? key : `${section.anchor}-${key}`,
        type: typeName(info.node),
        default: formatDefault(info),
        description: info.description ?? "",
        nullable: info.nullable,
        section,
      };
      rows.push(row);
      const node = info.node;
      const d = def(node);
      if (isObject(node)) {
        row.type = `object ([below](#${row.anchor}))`;
        row.ownsSection = true;
        nested.push({ shape: d.shape, pattern: row.path, anchor: row.anchor, parent: row, skip: [] });
      } else if (
        d.type === "record" &&
        (isObject(unwrap(d.valueType).node) || isTypedUnion(unwrap(d.valueType).node))
      ) {
        row.type = `map of name → object ([below](#${row.anchor}))`;
        row.ownsSection = true;
        nestedOf(unwrap(d.valueType).node, `${row.path}.<name>`, row.anchor, row);
      } else if (
        d.type === "array" &&
        (isObject(unwrap(d.element).node) || isTypedUnion(unwrap(d.element).node))
      ) {
        row.type = `list of objects ([below](#${row.anchor}))`;
        row.ownsSection = true;
        nestedOf(unwrap(d.element).node, `${row.path}[]`, row.anchor, row);
      }
    }
    section.rows = rows;
  }

  let nested = [];
  function nestedOf(node, pattern, anchor, parent) {
    if (isObject(node)) {
      nested.push({ shape: def(node).shape, pattern, anchor, parent, skip: [] });
      return;
    }
    // A union told apart by `type:`: the keys every member shares (the same schema in each) form one
    // section; each member's own keys form a section of that type.
    const members = def(node).options.map((o) => unwrap(o).node);
    const discriminator = def(node).discriminator;
    const shared = Object.keys(def(members[0]).shape).filter(
      (key) =>
        key !== discriminator &&
        members.every((m) => {
          const a = def(m).shape[key];
          const b = def(members[0]).shape[key];
          return (
            a !== undefined &&
            (a === b ||
              (JSON.stringify(unwrap(a).defaultValue) === JSON.stringify(unwrap(b).defaultValue) &&
                typeName(unwrap(a).node) === typeName(unwrap(b).node) &&
                unwrap(a).description === unwrap(b).description))
          );
        }),
    );
    const types = members.map((m) => def(def(m).shape[discriminator]).values[0]);
    const commonShape = {
      [discriminator]: def(members[0]).shape[discriminator],
      ...Object.fromEntries(shared.map((k) => [k, def(members[0]).shape[k]])),
    };
    nested.push({ shape: commonShape, pattern, anchor, parent, skip: [], union: { discriminator, types } });
    members.forEach((member, i) => {
      nested.push({
        shape: def(member).shape,
        skip: [discriminator, ...shared],
        pattern: `${pattern} (${discriminator}: ${types[i]})`,
        anchor: `${anchor}-${types[i]}`,
        typeValue: types[i],
        summary: member.description ?? "",
        parent,
      });
    });
  }

  const root = { shape: def(schemaModule.configSchema).shape, pattern: "", anchor: "top-level", skip: [] };
  // Depth first, in the order of the schema: a section's sub-sections follow it.
  const queue = [root];
  while (queue.length > 0) {
    const section = queue.shift();
    nested = [];
    addObject(section);
    sections.push(section);
    queue.unshift(...nested);
  }
  return { sections, rows: sections.flatMap((s) => s.rows) };
}

/** The value of a key in the example configs: walks each YAML file along a row's pattern. */
export function exampleFinder(exampleFiles) {
  const docs = exampleFiles.map((file) => ({ file, data: parseYaml(fs.readFileSync(file, "utf8")) }));
  // A pattern is segments: "repositories", "<name>", "url", or "steps[] (type: backup)".
  function* walk(value, segments) {
    if (segments.length === 0) {
      yield value;
      return;
    }
    const [head, ...rest] = segments;
    if (value === null || typeof value !== "object") return;
    const named = /^<name>(?: \((\w+): ([\w-]+)\))?$/.exec(head);
    if (named) {
      for (const v of Object.values(value)) {
        if (named[1] && (v === null || typeof v !== "object" || v[named[1]] !== named[2])) continue;
        yield* walk(v, rest);
      }
      return;
    }
    const list = /^(\w+)\[\](?: \((\w+): ([\w-]+)\))?$/.exec(head);
    if (list) {
      const items = value[list[1]];
      if (!Array.isArray(items)) return;
      for (const item of items) {
        if (list[2] && (item === null || typeof item !== "object" || item[list[2]] !== list[3])) continue;
        yield* walk(item, rest);
      }
      return;
    }
    if (Object.hasOwn(value, head)) yield* walk(value[head], rest);
  }
  return (row) => {
    const segments = splitPattern(row.path);
    for (const { data } of docs) {
      for (const value of walk(data, segments)) return value;
    }
    return undefined;
  };
}

function splitPattern(pattern) {
  // "jobs.<name>.steps[] (type: backup).repos" → ["jobs", "<name>", "steps[] (type: backup)", "repos"]
  const segments = [];
  let current = "";
  let depth = 0;
  for (const ch of pattern) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "." && depth === 0) {
      segments.push(current);
      current = "";
    } else current += ch;
  }
  segments.push(current);
  return segments;
}

const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\n/g, " ");

function exampleCell(row, value) {
  if (value === undefined || row.ownsSection) return "";
  const text = `${row.key}: ${yamlScalar(value)}`;
  return text.length > 70 ? `\`${text.slice(0, 67)}…\`` : `\`${text}\``;
}

/** The generated markdown: one table per section, a row (and an anchor) per key. */
export function renderConfigReference(reference, findExample) {
  const out = [];
  for (const section of reference.sections) {
    out.push(`<a id="${section.anchor}"></a>`, "");
    if (section.pattern === "") out.push("### Top level", "");
    else {
      // "jobs.<name>.steps[] (type: forget).keep" reads as "jobs.<name>.steps[].keep — type: forget"
      const typed = /^(.*?) \((\w+): ([\w-]+)\)(.*)$/.exec(section.pattern);
      const heading = typed
        ? `\`${typed[1]}${typed[4]}\` — \`${typed[2]}: ${typed[3]}\``
        : `\`${section.pattern}\``;
      out.push(`### ${heading}`, "");
    }
    if (section.typeValue) {
      if (section.summary) out.push(`${section.summary[0].toUpperCase()}${section.summary.slice(1)}.`, "");
      out.push(
        `Also takes the [fields every ${section.parent.key === "steps" ? "step" : "notifier"} has](#${section.parent.anchor}).`,
        "",
      );
    } else if (section.union) {
      out.push(
        `Every item has a \`${section.union.discriminator}\` (${section.union.types.map((t) => `[\`${t}\`](#${section.anchor}-${t})`).join(", ")}) and these fields; each type adds its own below.`,
        "",
      );
    }
    if (section.rows.length === 0) {
      out.push("No fields of its own.", "");
      continue;
    }
    out.push("| key | type | default | description | example |", "|---|---|---|---|---|");
    for (const row of section.rows) {
      let type = row.type;
      if (row.nullable) type += " or `null`";
      let description = row.description;
      if (row.key === section.union?.discriminator) {
        type = section.union.types.map((t) => `\`${t}\``).join(", ");
        description ||= `which kind of ${section.parent.key === "steps" ? "step" : "notifier"} this is; each kind's own fields are below`;
      }
      const example = findExample(row);
      out.push(
        `| ${row.ownsSection ? "" : `<a id="${row.anchor}"></a>`}\`${row.key}\` | ${cell(type)} | ${cell(row.default)} | ${cell(description)} | ${cell(exampleCell(row, example))} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

export async function loadConfigReference(root) {
  // The schema is built from the kinds the composition root hands in (src/registry.ts), not a
  // constant of config/schema.ts.
  const registry = await import(path.join(root, "dist/registry.js"));
  const schemaModule = registry.configSchemas();
  const valuesModule = await import(path.join(root, "dist/config/values.js"));
  return createConfigReference({ schemaModule, valuesModule });
}
