// How holdfast starts itself (systemd units, the daemon's child runs).
import fs from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * This node binary and this holdfast's main.js, both absolute and symlinks resolved. Not `holdfast`
 * from PATH: under systemd PATH is /usr/local/bin:/usr/bin…, so an npm bin's `#!/usr/bin/env node`
 * may find another node (or none, with nvm) and another holdfast version than the one that rendered
 * and checked the units, or that runs the daemon.
 */
export function resolveHoldfastCommand(): string[] {
  const main = holdfastMainPath();
  return [fs.realpathSync(process.execPath), fs.existsSync(main) ? fs.realpathSync(main) : main];
}

/**
 * This holdfast's dist/cli/main.js. Relative to this module's place two levels below the package root
 * (dist/scheduler/, or dist/cli/program-bundle.cjs in the bundled CLI: scripts/bundle.mjs), so it is right in both.
 */
export function holdfastMainPath(): string {
  return fileURLToPath(new URL("../cli/main.js", import.meta.url));
}
