// `holdfast status --fleet`: the fleet grid from the hub's database (docs/fleet.md), host × job,
// worst first, judged on the hub's clock: missing hosts, replication lag, clock skew, versions.
import type { FleetCell, FleetHost, FleetView } from "../../fleet/fleet-view.js";
import { formatDuration } from "../../util/units.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { age, formatTable, printJson, statusColor } from "../output.js";

const NAGIOS = { ok: 0, warning: 1, critical: 2 } as const;

export function describeSkew(ms: number | null): string {
  if (ms === null) return "-";
  const sign = ms > 0 ? "+" : ms < 0 ? "-" : "±";
  return `${sign}${formatDuration(Math.abs(ms))}`;
}

function describeReplication(h: FleetHost): string {
  const r = h.replication;
  if (r === null) return "-";
  if (r.pending === 0) return "in sync";
  return `${r.pending} queued, ${formatDuration(r.lag_seconds * 1000)} behind`;
}

export function fleetTables(view: FleetView): string {
  const now = Date.parse(view.hub_now);
  const out: string[] = [];
  const s = view.summary;
  const counts = (["missing", "failed", "stale", "warning", "never", "running", "ok"] as const)
    .filter((k) => s[k] > 0)
    .map((k) => `${s[k]} ${k}`)
    .join(", ");
  out.push(
    `fleet at ${view.hub_now} (the hub's clock): ${s.hosts} host(s), ${s.missing_hosts} missing; ` +
      `${view.cells.length} job(s)${counts ? `: ${counts}` : ""}`,
    "",
  );
  const hostRows = [
    ["HOST", "STATE", "LAST HEARD", "SKEW", "REPLICATION", "HOLDFAST", "RESTIC", "NEXT EXPECTED"],
  ];
  for (const h of view.hosts) {
    hostRows.push([
      h.host,
      statusColor(h.state === "unknown" ? "never" : h.state),
      age(h.last_heard_at, now),
      describeSkew(h.skew_ms) + (h.clock_warning ? " (!)" : ""),
      describeReplication(h),
      h.holdfast_version ?? "-",
      h.restic_version ?? "-",
      h.state === "missing" ? `missing since ${h.missing_since}` : (h.next_expected_at ?? "-"),
    ]);
  }
  out.push(formatTable(hostRows), "");
  const cellRows = [["HOST", "JOB", "STATE", "LAST SUCCESS", "LAST RUN", "NEXT EXPECTED"]];
  for (const c of view.cells) cellRows.push(cellRow(c, now));
  out.push(formatTable(cellRows));
  const notes = view.hosts.filter((h) => h.clock_warning !== null || h.conflict);
  if (notes.length > 0) out.push("");
  for (const h of notes) {
    if (h.clock_warning) out.push(`${h.host}: clock: ${h.clock_warning}`);
    if (h.conflict)
      out.push(`${h.host}: HOST ID CONFLICT: another machine reports under its id (fleet reset-id)`);
  }
  return `${out.join("\n")}\n`;
}

function cellRow(c: FleetCell, now: number): string[] {
  return [
    c.host,
    c.job,
    statusColor(c.state) + (c.state === "missing" ? ` (last said ${c.reported_state})` : ""),
    age(c.last_success_at, now),
    c.last_run ? `${c.last_run.status} ${age(c.last_run.started_at, now)}` : "-",
    c.next_expected_at ?? "-",
  ];
}

export default async function statusFleet(
  global: GlobalOptions,
  flags: { json?: boolean; check?: boolean },
): Promise<number> {
  const { config } = await loadConfigForReading(global);
  const { readFleetOnce } = await import("../../fleet/hub.js");
  let view: FleetView;
  try {
    view = await readFleetOnce(config);
  } catch (err) {
    if (!flags.check) throw err;
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    process.stdout.write(`HOLDFAST UNKNOWN - cannot read the fleet: ${message}\n`);
    return 3;
  }
  if (flags.check) {
    const bad = view.cells.filter(
      (c) => c.state === "missing" || c.state === "failed" || c.state === "stale",
    );
    const missingHosts = view.hosts.filter((h) => h.state === "missing").map((h) => `${h.host} missing`);
    const jobs = bad.filter((c) => c.state !== "missing").map((c) => `${c.host}/${c.job} ${c.state}`);
    if (missingHosts.length + jobs.length > 0) {
      process.stdout.write(`HOLDFAST CRITICAL - ${[...missingHosts, ...jobs].join(", ")}\n`);
      return NAGIOS.critical;
    }
    const warn = view.cells.filter((c) => c.state === "warning" || c.state === "never");
    if (warn.length > 0) {
      process.stdout.write(
        `HOLDFAST WARNING - ${warn.map((c) => `${c.host}/${c.job} ${c.state}`).join(", ")}\n`,
      );
      return NAGIOS.warning;
    }
    process.stdout.write(`HOLDFAST OK - ${view.hosts.length} host(s), ${view.cells.length} job(s) ok\n`);
    return NAGIOS.ok;
  }
  if (flags.json) printJson(view);
  else process.stdout.write(fleetTables(view));
  return 0;
}
