// The sync after `holdfast run`: the run is already recorded (SQLite first, always); this only tries
// to send it on, within fleet.sync_timeout, and never changes the run's outcome or exit code.
import type { Config } from "../config/schema.js";

export async function syncAfterRun(config: Config, out: NodeJS.WritableStream): Promise<void> {
  if (config.fleet === undefined) return;
  try {
    const { syncFleet } = await import("./replicate.js");
    const result = await syncFleet(config);
    if (!result.ok)
      out.write(
        `holdfast: fleet: not replicated now (${result.error}); ${result.pending} change(s) queued for the next sync\n`,
      );
  } catch (err) {
    out.write(`holdfast: fleet: not replicated now (${err instanceof Error ? err.message : String(err)})\n`);
  }
}
