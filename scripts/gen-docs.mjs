#!/usr/bin/env node
// `npm run docs`: writes the generated parts of the manual from the code that they describe, so the
// reference cannot drift from what holdfast accepts. Reads the built dist/ (`npm run build` first).
//
//   docs/config.md   the reference tables between the `generated:config-reference` markers, from the
//                    zod schema (scripts/gen-docs-config.mjs); the prose around them is hand-written
//
//   node scripts/gen-docs.mjs           write them
//   node scripts/gen-docs.mjs --check   write nothing; exit 1 naming each part that is out of date
//                                       (test/docs/config-doc.test.ts runs this)
//   --root DIR                          the package root whose docs are written or checked
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { exampleFinder, loadConfigReference, renderConfigReference } from "./gen-docs-config.mjs";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const rootAt = args.indexOf("--root");
const docsRoot = rootAt >= 0 ? path.resolve(args[rootAt + 1]) : here;

if (!fs.existsSync(path.join(here, "dist/config/schema.js"))) {
  console.error("gen-docs: dist/ is missing; run `npm run build` first");
  process.exit(2);
}

/** Replaces the text between `<!-- generated:NAME ... -->` and `<!-- /generated:NAME -->`. */
function replaceBlock(text, name, body, file) {
  const begin = new RegExp(`<!-- generated:${name}\\b[^>]*-->\\n`);
  const end = `<!-- /generated:${name} -->`;
  const start = begin.exec(text);
  const stop = text.indexOf(end);
  if (!start || stop < start.index) {
    throw new Error(`${file}: the markers <!-- generated:${name} … --> and ${end} are missing`);
  }
  const from = start.index + start[0].length;
  return `${text.slice(0, from)}\n${body.trim()}\n\n${text.slice(stop)}`;
}

const outputs = [];

// docs/config.md
{
  const file = path.join(docsRoot, "docs/config.md");
  const reference = await loadConfigReference(here);
  const examples = fs
    .readdirSync(path.join(docsRoot, "docs/examples"))
    .filter((f) => f.endsWith(".yaml"))
    .sort((a, b) => (a === "reference.yaml" ? -1 : b === "reference.yaml" ? 1 : a.localeCompare(b)))
    .map((f) => path.join(docsRoot, "docs/examples", f));
  const current = fs.readFileSync(file, "utf8");
  const body = renderConfigReference(reference, exampleFinder(examples));
  outputs.push({
    file,
    name: "config-reference",
    current,
    next: replaceBlock(current, "config-reference", body, file),
  });
}

let stale = 0;
for (const { file, name, current, next } of outputs) {
  const rel = path.relative(docsRoot, file);
  if (current === next) continue;
  if (check) {
    stale++;
    const a = current.split("\n");
    const b = next.split("\n");
    let line = 0;
    while (line < a.length && a[line] === b[line]) line++;
    console.error(
      `${rel}: the generated part "${name}" is out of date (first difference at line ${line + 1})`,
    );
    console.error(`  in the file: ${JSON.stringify(a[line] ?? "")}`);
    console.error(`  generated:   ${JSON.stringify(b[line] ?? "")}`);
  } else {
    fs.writeFileSync(file, next);
    console.log(`wrote ${rel} (${name})`);
  }
}
if (stale > 0) {
  console.error("run `npm run build && npm run docs` and commit the result");
  process.exit(1);
}
