// `watch --fleet`: the dead man's switch for the whole fleet, on the hub's clock. One `stale` per
// episode for each host × job with no success within max_age, one per episode for each missing host
// (a `stale` event whose details say fleet: "missing" — job "*", the host as a whole), and one
// `recovered` when the episode ends. Episodes are remembered in the hub's own history state (its
// local SQLite), so every check of an episode after the first sends nothing. An episode whose
// notification failed is not opened: the next check tries again. The notifiers are fleet.notify.
import type { Config, JobConfig } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { dispatchEvent, notifiersFor } from "../notify/dispatch.js";
import type { NotificationRecord, RunStore } from "../store/types.js";
import type { Redactor } from "../util/redact.js";
import type { FleetView } from "./fleet-view.js";

export type FleetNotice = "sent" | "already_sent" | "failed" | "no_notifiers" | "recovered" | null;

export interface FleetWatchEntry {
  host_id: string;
  host: string;
  /** "*" for the host as a whole (missing). */
  job: string;
  state: string;
  /** The episode this entry is about: missing (host) or stale (job); null when none is open. */
  episode: "missing" | "stale" | null;
  notice: FleetNotice;
  notified_at: string | null;
  notifications: NotificationRecord[];
}

export interface FleetWatchResult {
  hub_now: string;
  entries: FleetWatchEntry[];
  stale: boolean;
  missing: boolean;
}

export const missingKey = (hostId: string) => `fleet:missing:${hostId}`;
export const staleKey = (hostId: string, job: string) => `fleet:stale:${hostId}:${job}`;

/** fleet.notify, checked against the config's notifications. */
export function fleetNotifiers(config: Config): string[] {
  const names = config.fleet?.notify ?? [];
  const unknown = names.filter((n) => config.notifications[n] === undefined);
  if (unknown.length > 0)
    throw new ConfigError([
      {
        file: config.file ?? "(config)",
        line: 0,
        col: 0,
        path: "fleet.notify",
        message: `names no notifier called ${unknown.map((n) => `"${n}"`).join(", ")}`,
        hint: `define it under notifications:, or use one of: ${Object.keys(config.notifications).join(", ") || "(none defined)"}`,
      },
    ]);
  return names;
}

export async function watchFleet(
  deps: { config: Config; store: RunStore; redactor: Redactor; now?: () => Date },
  view: FleetView,
): Promise<FleetWatchResult> {
  const { config, store } = deps;
  const notify = fleetNotifiers(config);
  const jobFor = (name: string): JobConfig => ({ name, notify, warnings: "fail", env: {}, steps: [] });
  const send = async (
    host: string,
    job: string,
    event: "stale" | "recovered",
    details: Record<string, unknown>,
  ): Promise<{ records: NotificationRecord[]; listening: boolean; ok: boolean }> => {
    const jobConfig = jobFor(job);
    const listening = notifiersFor(config, jobConfig, event).length > 0;
    const records = await dispatchEvent(
      { config: { ...config, host }, store, redactor: deps.redactor, ...(deps.now ? { now: deps.now } : {}) },
      { event, job: jobConfig, run: null, details },
    );
    return { records, listening, ok: !listening || records.some((r) => r.ok) };
  };

  /** Opens, keeps or closes one episode. */
  const episode = async (
    key: string,
    entry: FleetWatchEntry,
    open: boolean,
    kind: "missing" | "stale",
    details: Record<string, unknown>,
  ): Promise<void> => {
    const since = await store.getState(key);
    if (open) {
      entry.episode = kind;
      if (since !== null) {
        entry.notice = "already_sent";
        entry.notified_at = since;
        return;
      }
      const r = await send(entry.host, entry.job, "stale", {
        fleet: kind,
        host_id: entry.host_id,
        ...details,
      });
      entry.notifications = r.records;
      entry.notice = !r.listening ? "no_notifiers" : r.ok ? "sent" : "failed";
      if (r.ok) {
        const at = view.hub_now;
        await store.setState(key, at);
        entry.notified_at = at;
      }
    } else if (since !== null) {
      const r = await send(entry.host, entry.job, "recovered", {
        fleet: kind,
        previous: kind,
        host_id: entry.host_id,
        since,
        ...details,
      });
      entry.notifications = r.records;
      entry.notice = r.ok ? "recovered" : "failed";
      if (r.ok) await store.setState(key, null);
    }
  };

  const entries: FleetWatchEntry[] = [];
  for (const h of view.hosts) {
    const entry: FleetWatchEntry = {
      host_id: h.host_id,
      host: h.host,
      job: "*",
      state: h.state,
      episode: null,
      notice: null,
      notified_at: null,
      notifications: [],
    };
    await episode(missingKey(h.host_id), entry, h.state === "missing", "missing", {
      last_heard_at: h.last_heard_at,
      expected_at: h.next_expected_at,
      missing_after: h.missing_after,
      hub_now: view.hub_now,
    });
    entries.push(entry);
  }
  const missingHosts = new Set(view.hosts.filter((h) => h.state === "missing").map((h) => h.host_id));
  for (const c of view.cells) {
    const entry: FleetWatchEntry = {
      host_id: c.host_id,
      host: c.host,
      job: c.job,
      state: c.state,
      episode: null,
      notice: null,
      notified_at: null,
      notifications: [],
    };
    // A missing host's jobs are its one episode; their own episodes wait until it reports again.
    if (!missingHosts.has(c.host_id)) {
      await episode(staleKey(c.host_id, c.job), entry, c.stale, "stale", {
        stale_for_ms: c.stale_for_ms,
        max_age_ms: c.max_age_ms,
        last_success_at: c.last_success_at,
        last_run_status: c.last_run?.status ?? null,
        last_run_started_at: c.last_run?.started_at ?? null,
        next_run_at: c.next_expected_at,
      });
    }
    entries.push(entry);
  }
  return {
    hub_now: view.hub_now,
    entries,
    stale: view.cells.some((c) => c.stale && !missingHosts.has(c.host_id)),
    missing: missingHosts.size > 0,
  };
}
