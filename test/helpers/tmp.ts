// A temp dir per test, removed afterwards.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

const made: string[] = [];

afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function makeTempDir(prefix = "holdfast-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Writes files relative to dir: { "a/b.txt": "content" }. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** Writes holdfast.yaml into dir and returns its path. */
export function writeConfig(dir: string, yaml: string): string {
  const file = path.join(dir, "holdfast.yaml");
  fs.writeFileSync(file, yaml);
  return file;
}
