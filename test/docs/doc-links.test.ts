// Every pointer to documentation that holdfast prints or carries — `docs/….md` in the source (error
// hints, --help, comments users are sent to), the units' Documentation=, and the relative links of
// the README and docs/ — leads to a file that exists in the tree (and so in the package).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DOCUMENTATION_URL } from "../../src/scheduler/systemd.js";

const root = path.resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  files: string[];
  man: string[];
};

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(rel, ext));
    else if (ext.test(e.name)) out.push(rel);
  }
  return out;
}

/** The code without its comments (a comment may name a design note that is not shipped). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** The anchors a Markdown file has: `<a id="…">` and GitHub's heading slugs. */
function anchorsOf(file: string): Set<string> {
  const text = fs.readFileSync(file, "utf8");
  const ids = new Set([...text.matchAll(/<a id="([^"]+)"/g)].map((m) => m[1]!));
  for (const m of text.matchAll(/^#+\s+(.+)$/gm))
    ids.add(
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\w\s-]/g, "")
        .replace(/\s/g, "-"),
    );
  return ids;
}

describe("documentation references", () => {
  it("every docs/….md named in src/ and web/src/ exists", () => {
    const refs = new Map<string, string>();
    for (const file of [...filesUnder("src", /\.tsx?$/), ...filesUnder("web/src", /\.tsx?$/)]) {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      for (const m of text.matchAll(/\bdocs\/[A-Za-z0-9_./-]+\.md\b/g)) refs.set(m[0], file);
    }
    expect(refs.size).toBeGreaterThan(5);
    const missing = [...refs].filter(([ref]) => !fs.existsSync(path.join(root, ref)));
    expect(missing.map(([ref, file]) => `${file} names ${ref}`)).toEqual([]);
  });

  it("every NAME.md (and #anchor) a user is shown — hints, messages, --help, schema descriptions — exists in docs/", () => {
    // Outside comments: what holdfast prints or writes (a hint, the config `init` writes, a schema
    // description in `config schema` and docs/config.md). A bare name (config.md) is read as docs/'s;
    // other paths (the quickstart's sample notes/todo.md) are data, not pointers.
    const shown: string[] = [];
    let refs = 0;
    for (const file of [...filesUnder("src", /\.tsx?$/), ...filesUnder("web/src", /\.tsx?$/)]) {
      if (/\.test\.tsx?$/.test(file)) continue;
      const code = stripComments(fs.readFileSync(path.join(root, file), "utf8"));
      for (const m of code.matchAll(
        /(?<![\w./-])((?:docs\/[a-z0-9_/-]+|[a-z0-9_-]+)\.md)(#[a-z0-9_-]+)?\b/gi,
      )) {
        refs++;
        const rel = m[1]!.startsWith("docs/") ? m[1]! : `docs/${m[1]!}`;
        const target = path.join(root, rel);
        if (!fs.existsSync(target)) {
          shown.push(`${file} names ${m[0]} (no ${rel})`);
          continue;
        }
        if (m[2] && !anchorsOf(target).has(m[2].slice(1)))
          shown.push(`${file} names ${m[0]} (no such anchor)`);
      }
    }
    expect(refs).toBeGreaterThan(10);
    expect(shown).toEqual([]);
  });

  it("the units' Documentation= is the man page the package installs", () => {
    expect(DOCUMENTATION_URL).toBe("man:holdfast(1)");
    expect(pkg.man).toContain("man/holdfast.1");
    expect(pkg.files).toContain("man");
    const page = fs.readFileSync(path.join(root, "man/holdfast.1"), "utf8");
    expect(page).toMatch(/^\.TH HOLDFAST 1 /m);
    expect(page).toMatch(/holdfast schedule/);
  });

  it("the relative links of README.md and docs/ lead to files that exist", () => {
    const broken: string[] = [];
    let links = 0;
    for (const file of ["README.md", ...filesUnder("docs", /\.md$/)]) {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split("#")[0]!;
        if (target === "" || /^[a-z]+:/i.test(target)) continue;
        links++;
        if (!fs.existsSync(path.resolve(root, path.dirname(file), target))) broken.push(`${file} → ${m[1]}`);
      }
    }
    expect(links).toBeGreaterThan(5);
    expect(broken).toEqual([]);
  });
});
