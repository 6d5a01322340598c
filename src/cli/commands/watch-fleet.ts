// `holdfast watch --fleet`: the freshness check of every host in the fleet database, on the hub's
// clock (src/fleet/fleet-watch.ts). Exit 0 all fresh, 2 any job stale or host missing.
import { redactorForConfig } from "../../engine/secrets.js";
import { loadCliConfig, openStore, type GlobalOptions } from "../context.js";
import { ensureStateDir } from "../open-store.js";
import { formatTable, printJson, statusColor } from "../output.js";
import type { FleetWatchEntry } from "../../fleet/fleet-watch.js";

function describeNotice(e: FleetWatchEntry): string {
  switch (e.notice) {
    case "sent":
      return `${e.episode} sent now`;
    case "already_sent":
      return `${e.episode} sent at ${e.notified_at}`;
    case "failed":
      return "failed; retried at the next check";
    case "no_notifiers":
      return "no notifier in fleet.notify listens";
    case "recovered":
      return "recovered sent now";
    default:
      return "-";
  }
}

export default async function watchFleetCommand(
  global: GlobalOptions,
  flags: { json?: boolean },
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const redactor = redactorForConfig(config);
  const { readFleetOnce } = await import("../../fleet/hub.js");
  const { watchFleet, fleetNotifiers } = await import("../../fleet/fleet-watch.js");
  fleetNotifiers(config);
  const view = await readFleetOnce(config);
  ensureStateDir(config.state_dir);
  const store = openStore(config);
  let result;
  try {
    result = await watchFleet({ config, store, redactor }, view);
  } finally {
    await store.close();
  }
  if (flags.json) printJson(result);
  else {
    const rows = [["HOST", "JOB", "STATE", "NOTICE"]];
    for (const e of result.entries) {
      if (e.job === "*" && e.episode === null && e.notice === null) continue;
      rows.push([e.host, e.job === "*" ? "(host)" : e.job, statusColor(e.state), describeNotice(e)]);
    }
    process.stdout.write(`fleet at ${result.hub_now} (the hub's clock)\n${formatTable(rows)}\n`);
  }
  return result.stale || result.missing ? 2 : 0;
}
