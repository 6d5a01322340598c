// Every whole config the manual shows (a ```yaml block with `version: 1` in docs/recipes.md,
// docs/config.md and docs/steps/) validates with `holdfast config validate`. Secret and env files
// are the reader's own: each one the config names is created under a temp dir (the config's text
// points there instead), as the reader would create them; nothing else of the config is changed.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT, runCli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/tmp.js";

const FILE_KEYS = new Set([
  "env_file",
  "exclude_file",
  "url_file",
  "password_file",
  "token_file",
  "secret_file",
]);

function configBlocks(file: string): Array<{ line: number; text: string }> {
  const text = fs.readFileSync(file, "utf8");
  const blocks: Array<{ line: number; text: string }> = [];
  for (const match of text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) {
    if (!/^version: 1$/m.test(match[1]!)) continue;
    blocks.push({ line: text.slice(0, match.index).split("\n").length, text: match[1]! });
  }
  return blocks;
}

/** The files a config names under FILE_KEYS, with the key that names each. */
function namedFiles(value: unknown, key = ""): Array<{ key: string; file: string }> {
  if (Array.isArray(value)) return value.flatMap((v) => namedFiles(v, key));
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => namedFiles(v, k));
  return FILE_KEYS.has(key) && typeof value === "string" ? [{ key, file: value }] : [];
}

const docs = [
  "docs/recipes.md",
  "docs/config.md",
  ...fs.readdirSync(path.join(REPO_ROOT, "docs/steps")).map((f) => `docs/steps/${f}`),
];
const cases = docs.flatMap((doc) =>
  configBlocks(path.join(REPO_ROOT, doc)).map((block) => ({ doc, ...block })),
);

describe("the configs in the manual validate", () => {
  test("there are configs to check", () => {
    expect(cases.filter((c) => c.doc === "docs/recipes.md").length).toBeGreaterThanOrEqual(5);
  });

  test.each(cases.map((c) => [`${c.doc}:${c.line}`, c] as const))("%s", async (_name, c) => {
    const dir = makeTempDir();
    let text = c.text;
    for (const { key, file } of namedFiles(parseYaml(text))) {
      const stub = path.join(dir, "files", file);
      fs.mkdirSync(path.dirname(stub), { recursive: true });
      // A url_file holds a URL: a local repository path will do for validation.
      fs.writeFileSync(stub, key === "url_file" ? `${path.join(dir, "repo")}\n` : "x\n", { mode: 0o600 });
      text = text.split(file).join(stub);
    }
    const config = path.join(dir, "holdfast.yaml");
    fs.writeFileSync(config, text);
    const result = await runCli(["--config", config, "config", "validate"], { env: { HOME: dir } });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
