// Exclude patterns with restic's meaning (sources share them with `restic backup --exclude`), so a
// manifest or a repository walk skips exactly what the backup skips:
//   - `*` and `?` match within one path component, `[abc]` / `[!abc]` a character class,
//   - `**` matches any number of components (including none),
//   - a pattern starting with `/` is anchored at the root; any other pattern matches at any depth,
//   - a match on a directory covers everything below it.
// Patterns are matched against absolute paths.

export type PathMatcher = (absolutePath: string) => boolean;

/** Compiles patterns into one matcher; an empty list matches nothing. */
export function compileExcludes(patterns: readonly string[]): PathMatcher {
  const regexes = patterns
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && !p.startsWith("#"))
    .map(patternToRegExp);
  if (regexes.length === 0) return () => false;
  const combined = new RegExp(regexes.map((r) => `(?:${r.source})`).join("|"), "u");
  return (absolutePath) => combined.test(absolutePath);
}

export function patternToRegExp(pattern: string): RegExp {
  const anchored = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "");
  // "a/**" covers the same as "a": a match on a directory covers everything below it anyway.
  while (segments.length > 1 && segments.at(-1) === "**") segments.pop();
  if (segments.length === 0 || (segments.length === 1 && segments[0] === "**")) return /^\/.*$/u;
  let body = anchored || segments[0] === "**" ? "^/" : "^(?:.*/)";
  for (const [i, segment] of segments.entries()) {
    if (segment === "**") body += "(?:[^/]*/)*";
    else body += segmentToRegExp(segment) + (i < segments.length - 1 ? "/" : "");
  }
  return new RegExp(`${body}(?:/.*)?$`, "u");
}

function segmentToRegExp(segment: string): string {
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 2);
      if (close === -1) {
        out += "\\[";
        continue;
      }
      let cls = segment.slice(i + 1, close);
      if (cls.startsWith("!")) cls = `^${cls.slice(1)}`;
      out += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = close;
    } else if (c === "\\" && i + 1 < segment.length) {
      out += escapeRegExp(segment[++i] as string);
    } else out += escapeRegExp(c);
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
