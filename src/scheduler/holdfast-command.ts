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
  const main = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  return [fs.realpathSync(process.execPath), fs.existsSync(main) ? fs.realpathSync(main) : main];
}
