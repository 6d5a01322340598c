// `which`: the absolute path of a program on a PATH, remembered per process (a run asks for restic,
// nice and ionice once each).
import fs from "node:fs";
import path from "node:path";

const whichCache = new Map<string, string | null>();

/** The absolute path of a program on PATH, or null. */
export function findOnPath(program: string, pathVar: string | undefined): string | null {
  if (program.includes("/")) return isExecutable(program) ? program : null;
  const key = `${program}\0${pathVar ?? ""}`;
  if (whichCache.has(key)) return whichCache.get(key) ?? null;
  let found: string | null = null;
  for (const dir of (pathVar ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = path.join(dir, program);
    if (isExecutable(candidate)) {
      found = candidate;
      break;
    }
  }
  whichCache.set(key, found);
  return found;
}

/** A regular file this process may execute. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
