// docs/config.md is the reference for every key holdfast accepts. Two independent checks:
// - every key of the JSON Schema that `holdfast config schema` prints (the same zod schema the loader
//   validates with) has its row in config.md, found by its anchor — computed here from the JSON
//   Schema, not by the generator, so a generator that skipped a key would fail this test;
// - the generated part is what `npm run docs` writes from the current schema (descriptions,
//   defaults and types included): `scripts/gen-docs.mjs --check`.
// And the example config the reference takes its examples from validates.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT, parseJson, runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
};

const CONFIG_MD = path.join(REPO_ROOT, "docs/config.md");

/** The members of a union of objects told apart by `type` (steps, notifiers), else null. */
function typedMembers(schema: JsonSchema): Array<{ type: string; schema: JsonSchema }> | null {
  const options = schema.oneOf ?? schema.anyOf;
  if (!options || options.length === 0) return null;
  const members = options.map((o) => ({ type: o.properties?.type?.const, schema: o }));
  if (members.some((m) => typeof m.type !== "string")) return null;
  return members as Array<{ type: string; schema: JsonSchema }>;
}

/**
 * Every key of the config as [display path, anchors that may document it]. A key shared by every
 * member of a union may be documented once for all (`jobs-steps-timeout`) or per member
 * (`jobs-steps-backup-timeout`); an object-valued key is documented by its section's anchor.
 */
function schemaKeys(schema: JsonSchema): Array<{ key: string; anchors: string[] }> {
  const keys: Array<{ key: string; anchors: string[] }> = [];
  const visit = (node: JsonSchema, display: string, anchor: string, alternatives: string[]) => {
    const members = typedMembers(node);
    if (members) {
      for (const member of members) {
        visitObject(member.schema, `${display} (type: ${member.type})`, `${anchor}-${member.type}`, [anchor]);
      }
      return;
    }
    if (node.properties) {
      visitObject(node, display, anchor, alternatives);
      return;
    }
    if (node.items && typeof node.items === "object") visit(node.items, `${display}[]`, anchor, alternatives);
    if (node.additionalProperties && typeof node.additionalProperties === "object") {
      const value = node.additionalProperties;
      if (value.properties || typedMembers(value)) visit(value, `${display}.<name>`, anchor, alternatives);
    }
    for (const option of node.anyOf ?? [])
      if (option.properties) visitObject(option, display, anchor, alternatives);
  };
  const visitObject = (node: JsonSchema, display: string, anchor: string, alternatives: string[]) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (key === "type" && child.const !== undefined) continue; // the discriminator: its own row
      const childAnchor = anchor ? `${anchor}-${key}` : key;
      keys.push({
        key: display ? `${display}.${key}` : key,
        anchors: [childAnchor, ...alternatives.map((a) => `${a}-${key}`)],
      });
      visit(
        child,
        display ? `${display}.${key}` : key,
        childAnchor,
        alternatives.map((a) => `${a}-${key}`),
      );
    }
  };
  visitObject(schema, "", "", []);
  return keys;
}

function undocumented(keys: Array<{ key: string; anchors: string[] }>, markdown: string): string[] {
  const ids = new Set([...markdown.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
  return keys.filter((k) => !k.anchors.some((a) => ids.has(a))).map((k) => k.key);
}

async function printedSchema(): Promise<JsonSchema> {
  const result = await runCli(["config", "schema"]);
  expect(result.code).toBe(0);
  return parseJson<JsonSchema>(result);
}

function genDocs(args: string[]) {
  return spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts/gen-docs.mjs"), ...args], {
    encoding: "utf8",
  });
}

describe("docs/config.md", () => {
  test("every key of `holdfast config schema` has an entry", async () => {
    const keys = schemaKeys(await printedSchema());
    // The walk itself must see the whole schema: the top level, steps of each type, notifiers.
    expect(keys.length).toBeGreaterThan(140);
    for (const key of [
      "repositories.<name>.limit_upload",
      "jobs.<name>.steps[] (type: exec).warning_codes",
      "jobs.<name>.steps[] (type: copy).snapshots",
      "jobs.<name>.steps[] (type: backup).on_failure",
      "notifications.<name> (type: command).command",
    ])
      expect(keys.map((k) => k.key)).toContain(key);
    expect(undocumented(keys, fs.readFileSync(CONFIG_MD, "utf8"))).toEqual([]);
  });

  test("a key removed from config.md is reported by name", async () => {
    const keys = schemaKeys(await printedSchema());
    const markdown = fs
      .readFileSync(CONFIG_MD, "utf8")
      .replace('<a id="jobs-steps-exec-warning_codes"></a>', "")
      .replace('<a id="repositories-limit_upload"></a>', "");
    expect(undocumented(keys, markdown)).toEqual([
      "repositories.<name>.limit_upload",
      "jobs.<name>.steps[] (type: exec).warning_codes",
    ]);
  });

  test("the generated reference is what `npm run docs` writes from the current schema", () => {
    const result = genDocs(["--check"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  test("an out-of-date reference fails the check, naming the file and the part", () => {
    const root = makeTempDir();
    // The generated files, as they are in the repository; only config.md's reference is made stale.
    fs.cpSync(path.join(REPO_ROOT, "docs"), path.join(root, "docs"), { recursive: true });
    fs.cpSync(path.join(REPO_ROOT, "man"), path.join(root, "man"), { recursive: true });
    const original = fs.readFileSync(CONFIG_MD, "utf8");
    // A description changed in the schema but not regenerated looks like this from the doc's side.
    const edited = original.replace("upload limit in KiB/s (restic --limit-upload)", "KiB/s");
    expect(edited).not.toBe(original);
    fs.writeFileSync(path.join(root, "docs/config.md"), edited);
    const result = genDocs(["--check", "--root", root]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('docs/config.md: the generated part "config-reference" is out of date');
    expect(result.stderr).toContain("npm run docs");
    // Writing repairs it, and leaves the hand-written prose as it was.
    expect(genDocs(["--root", root]).status).toBe(0);
    expect(fs.readFileSync(path.join(root, "docs/config.md"), "utf8")).toBe(original);
  });

  test("the example config the reference quotes validates", async () => {
    const home = makeTempDir();
    const dir = path.join(home, ".config/holdfast");
    // The files `config validate` reads (env files, exclude files); the example keeps them under ~.
    for (const file of ["holdfast.env", "secrets/b2.env", "home.excludes", "nightly.env", "hello.env"]) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), "", { mode: 0o600 });
    }
    const result = await runCli(
      ["--config", path.join(REPO_ROOT, "docs/examples/reference.yaml"), "config", "validate"],
      { env: { HOME: home } },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
