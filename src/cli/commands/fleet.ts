// `holdfast fleet sync|id|reset-id|init-db|prune`: this host's side of the fleet (docs/fleet.md).
import { UsageError } from "../../errors.js";
import { parseDuration } from "../../util/units.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { printJson } from "../output.js";
import { ensureStateDir } from "../open-store.js";

interface SyncFlags {
  json?: boolean;
  timeout?: string;
  batchSize?: string;
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0)
    throw new UsageError(`--timeout ${text} is not a duration`, "write it like 30s or 5m");
  return ms;
}

export async function fleetSync(global: GlobalOptions, flags: SyncFlags): Promise<number> {
  const deadlineMs = parseTimeout(flags.timeout) ?? 10 * 60_000;
  const { config } = await loadConfigForReading(global);
  ensureStateDir(config.state_dir);
  const { syncFleet } = await import("../../fleet/replicate.js");
  const batchSize = flags.batchSize === undefined ? 500 : Number(flags.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    throw new UsageError(`--batch-size ${flags.batchSize} is not a number from 1 to 10000`);
  const result = await syncFleet(config, { deadlineMs, batchSize });
  if (flags.json) {
    printJson({
      ok: result.ok,
      sent: result.sent,
      applied: result.applied,
      unchanged: result.unchanged,
      pending: result.pending,
      error: result.error,
      status: result.status,
    });
  } else if (result.ok) {
    process.stdout.write(
      `holdfast: fleet: ${result.sent} run(s) sent to ${result.status.hub} (${result.applied} new or changed, ` +
        `${result.unchanged} already there); nothing queued\n`,
    );
  } else {
    process.stderr.write(
      `holdfast: fleet: sync failed: ${result.error}\n` +
        `holdfast: fleet: ${result.sent} run(s) sent, ${result.pending} change(s) still queued (they stay queued; the next sync sends them)\n`,
    );
  }
  return result.ok ? 0 : 1;
}

export async function fleetId(global: GlobalOptions, flags: { json?: boolean }): Promise<number> {
  const { config } = await loadConfigForReading(global);
  ensureStateDir(config.state_dir);
  const { loadOrCreateHostId } = await import("../../fleet/host-id.js");
  const identity = loadOrCreateHostId(config.state_dir);
  const name = config.fleet?.host_name ?? config.host;
  if (flags.json) printJson({ host_id: identity.host_id, host_name: name, created_at: identity.created_at });
  else process.stdout.write(`${identity.host_id}  ${name}\n`);
  return 0;
}

export async function fleetResetId(global: GlobalOptions): Promise<number> {
  const { config } = await loadConfigForReading(global);
  ensureStateDir(config.state_dir);
  const { resetHostId, loadOrCreateHostId } = await import("../../fleet/host-id.js");
  const { resetOutbox } = await import("../../fleet/outbox.js");
  const { historyPath } = await import("../open-store.js");
  const aside = resetHostId(config.state_dir);
  resetOutbox(historyPath(config));
  const identity = loadOrCreateHostId(config.state_dir);
  process.stdout.write(
    `holdfast: fleet: this host is now ${identity.host_id}` +
      (aside ? ` (the old id is kept in ${aside})` : "") +
      `; its whole history is sent again under the new id at the next sync\n`,
  );
  return 0;
}

export async function fleetInitDb(
  _global: GlobalOptions,
  flags: { print?: boolean; host?: string[]; viewer?: string },
): Promise<number> {
  if (!flags.print)
    throw new UsageError(
      "fleet init-db only prints the setup script",
      "add --print and pipe it to psql as a superuser or the database owner: holdfast fleet init-db --print --host NAME=HOST_ID | psql -v ON_ERROR_STOP=1 -d DATABASE",
    );
  const { initDbSql, parseInitDbHost } = await import("../../fleet/init-db.js");
  const hosts = (flags.host ?? []).map(parseInitDbHost);
  process.stdout.write(initDbSql({ hosts, ...(flags.viewer !== undefined ? { viewer: flags.viewer } : {}) }));
  return 0;
}

export async function fleetPrune(
  global: GlobalOptions,
  flags: { urlFile?: string; dryRun?: boolean; json?: boolean },
): Promise<number> {
  const { config } = await loadConfigForReading(global);
  const keepMonths = config.fleet?.keep_runs_months;
  if (keepMonths === undefined)
    throw new UsageError(
      "fleet prune needs fleet.keep_runs_months in the config (how many months of raw runs the hub keeps)",
      "add it to the hub's fleet: section, e.g. keep_runs_months: 13; daily rollups are kept forever",
    );
  const { readFleetSettings, readUrlFileFlag } = await import("../../fleet/config.js");
  const url = flags.urlFile !== undefined ? readUrlFileFlag(flags.urlFile) : readFleetSettings(config).url;
  const { pruneFleet } = await import("../../fleet/prune.js");
  const result = await pruneFleet(url, { keepMonths, dryRun: flags.dryRun === true });
  if (flags.json) printJson(result);
  else
    process.stdout.write(
      `holdfast: fleet: ${result.dry_run ? "would delete" : "deleted"} ${result.deleted} run(s) started before ` +
        `${result.cutoff} (keep_runs_months: ${keepMonths}); ${result.remaining} run(s) kept` +
        (result.rollup_days >= 0 ? `, ${result.rollup_days} daily rollup row(s) kept` : "") +
        "\n",
    );
  return 0;
}

export default fleetSync;
