// Whether one path lies inside another, as the kernel resolves them: symlinks followed as far as the
// path exists, so a link to a directory is that directory (the overlap checks of mirror and backup
// steps, issue 12 item 4).
import fs from "node:fs";
import path from "node:path";

/** A path with every existing part resolved (realpath of the deepest existing ancestor + the rest). */
export function resolveExisting(p: string): string {
  const absolute = path.resolve(p);
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(existing), ...rest.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return absolute;
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}

/** inner === outer, or inner below outer. */
export function isWithin(inner: string, outer: string): boolean {
  if (inner === outer) return true;
  return inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
}

/** The directories from below `outer` down to `inner` (both resolved; inner within outer), as relative parts. */
export function relativeParts(inner: string, outer: string): string[] {
  return path.relative(outer, inner).split(path.sep).filter(Boolean);
}

export function deviceOf(p: string): number | null {
  let cur = p;
  for (;;) {
    try {
      return fs.statSync(cur).dev;
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return null;
      cur = parent;
    }
  }
}
