// resticprofile's merge rules as its docs state them (configuration/inheritance.md): v1 merges lists
// by index, v2 replaces them and appends/prepends with `key...`/`...key`; mixins apply over the
// section that uses them, with their default-vars and the use's vars; inherit cycles are reported.
import { describe, expect, it } from "vitest";
import { renderStaticTemplate } from "./go-template.js";
import { applyMixins, mergeSections, resolveInheritance } from "./resticprofile-merge.js";

describe("resticprofile merging", () => {
  it("v1: the child's list items replace the parent's by index (the docs' /my-files2 example)", () => {
    const merged = mergeSections(
      { source: ["/my-files1", "/my-files2"] },
      { source: ["/my-other-files"] },
      1,
    );
    expect(merged.source).toEqual(["/my-other-files", "/my-files2"]);
  });

  it("v2: lists are replaced; key... appends and ...key / key__PREPEND prepend", () => {
    expect(mergeSections({ source: ["/a", "/b"] }, { source: ["/c"] }, 2).source).toEqual(["/c"]);
    expect(mergeSections({ exclude: [".*", "~*"] }, { "exclude...": ".git" }, 2).exclude).toEqual([
      ".*",
      "~*",
      ".git",
    ]);
    expect(mergeSections({ exclude: ["b"] }, { "...exclude": "a" }, 2).exclude).toEqual(["a", "b"]);
    expect(mergeSections({ exclude: ["b"] }, { exclude__PREPEND: ["a"] }, 2).exclude).toEqual(["a", "b"]);
  });

  it("mixins: vars from default-vars, overridden by the use; merged over the section", () => {
    const mixins = {
      "retain-last": {
        "default-vars": { LAST: 30 },
        retention: { "keep-last": "$LAST", "keep-hourly": false },
      },
    };
    const problems: Array<{ where: string; why: string }> = [];
    const a = applyMixins(
      { use: "retain-last", retention: { "keep-last": 5, prune: true } },
      mixins,
      "p",
      problems,
    );
    expect(a.retention).toEqual({ "keep-last": "30", "keep-hourly": false, prune: true });
    const b = applyMixins({ use: [{ name: "retain-last", LAST: 60 }] }, mixins, "p", problems);
    expect(b.retention).toEqual({ "keep-last": "60", "keep-hourly": false });
    applyMixins({ use: "nope" }, mixins, "profiles.x", problems);
    expect(problems).toEqual([{ where: "profiles.x.use", why: 'mixin "nope" is not defined under mixins' }]);
  });

  it("inherit: parent first, a cycle or a missing parent reported", () => {
    const problems: Array<{ where: string; why: string }> = [];
    const resolved = resolveInheritance(
      {
        base: { repository: "/r", backup: { source: ["/"] } },
        child: { inherit: "base", backup: { tag: ["x"] } },
        a: { inherit: "b" },
        b: { inherit: "a" },
        orphan: { inherit: "gone" },
      },
      2,
      problems,
    );
    expect(resolved.child).toEqual({ repository: "/r", backup: { source: ["/"], tag: ["x"] } });
    expect(problems).toEqual([
      { where: "b.inherit", why: "inherit cycle: a → b → a" },
      { where: "orphan.inherit", why: 'profile "gone" does not exist' },
    ]);
  });

  it("templates: static ones resolved, the rest marked with their line; an undefined template is reported", () => {
    const r = renderStaticTemplate(
      'a: "{{ .ConfigDir }}/x"\nb: "{{ .Env.HOME }}"\n{{/* note */}}c: "{{ .Now.Year }}"\nd: {{ template "missing" . }}\n',
      { configDir: "/etc/rp", currentDir: "/cwd", hostname: "h" },
    );
    expect(r.text).toContain('a: "/etc/rp/x"');
    expect(r.text).toContain('b: "${HOME}"');
    expect(r.unresolved.map((u) => [u.line, u.expression])).toEqual([
      [3, "{{ .Now.Year }}"],
      [4, '{{ template-undefined "missing" . }}'],
    ]);
  });
});
