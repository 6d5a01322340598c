// The hub's reading side: status --fleet, watch --fleet, serve --store postgres and the metrics read
// the fleet database with fleet.view_url_file (the read-only viewer role), else url_file.
import pg from "pg";
import type { Config } from "../config/types.js";
import {
  createPostgresStore,
  describePgUrl,
  pgTypes,
  toStoreError,
} from "../store/postgres/postgres-store.js";
import type { RunStore } from "../store/types.js";
import { readFleetViewUrl } from "./config.js";
import { readFleetView, type FleetView } from "./fleet-view.js";

export interface HubReader {
  /** The fleet view, or with hostId that host's part of it (no hosts: not in the fleet). */
  view(hostId?: string): Promise<FleetView>;
  /**
   * One host's history at the hub, as a RunStore on the viewer's pool (read only: the hub calls only
   * its reading methods). Not closed by the caller; the pool is the reader's.
   */
  storeFor(hostId: string): RunStore;
  /** The pool, for the server's other fleet queries. */
  pool: pg.Pool;
  where: string;
  close(): Promise<void>;
}

export function openHubReader(config: Config, options: { timeoutMs?: number; max?: number } = {}): HubReader {
  const url = readFleetViewUrl(config);
  const where = describePgUrl(url);
  const timeout = options.timeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 2,
    connectionTimeoutMillis: timeout,
    statement_timeout: timeout,
    query_timeout: timeout,
    idleTimeoutMillis: 10_000,
    application_name: "holdfast-hub",
    types: pgTypes,
  });
  pool.on("error", () => undefined);
  const grace = config.fleet?.missing_grace ?? 3_600_000;
  return {
    pool,
    where,
    storeFor: (hostId) => createPostgresStore({ url, hostId, pool, migrate: false }),
    view: async (hostId) => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw toStoreError(err, where, "connect to the fleet database");
      }
      try {
        return await readFleetView(client, grace, hostId === undefined ? {} : { hostId });
      } catch (err) {
        throw toStoreError(err, where, "read the fleet");
      } finally {
        client.release();
      }
    },
    close: () => pool.end().catch(() => undefined),
  };
}

/** One read of the fleet view, connection closed after. */
export async function readFleetOnce(config: Config): Promise<FleetView> {
  const reader = openHubReader(config);
  try {
    return await reader.view();
  } finally {
    await reader.close();
  }
}

export interface HostRunRow {
  id: string;
  job: string;
  status: string;
  trigger: string;
  exit_code: number | null;
  /** The host's clock. */
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  /** The hub's clock. */
  received_at: string;
  seq: number;
  steps: Array<{ name: string; type: string; status: string; duration_ms: number | null }>;
}

/** A host's runs at the hub, newest first (by the order of arrival), paged by seq. */
export async function hostRuns(
  pool: pg.Pool,
  where: string,
  hostId: string,
  options: { limit: number; beforeSeq?: number | null },
): Promise<{ host_id: string; runs: HostRunRow[]; next_before: number | null }> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toStoreError(err, where, "connect to the fleet database");
  }
  try {
    const runs = await client.query<{
      run_id: string;
      job: string;
      status: string;
      trigger: string;
      exit_code: number | null;
      started_at: Date;
      finished_at: Date | null;
      duration_ms: number | null;
      received_at: Date;
      seq: number;
    }>(
      `SELECT run_id, job, status, trigger, exit_code, started_at, finished_at, duration_ms, received_at, seq
       FROM holdfast.runs WHERE host_id = $1 AND ($2::bigint IS NULL OR seq < $2)
       ORDER BY seq DESC LIMIT $3`,
      [hostId, options.beforeSeq ?? null, options.limit],
    );
    const ids = runs.rows.map((r) => r.run_id);
    const steps = await client.query<{
      run_id: string;
      name: string;
      type: string;
      status: string;
      duration_ms: number | null;
    }>(
      `SELECT run_id, name, type, status, duration_ms FROM holdfast.steps
       WHERE host_id = $1 AND run_id = ANY($2) ORDER BY run_id, idx`,
      [hostId, ids],
    );
    const stepsOf = new Map<string, HostRunRow["steps"]>();
    for (const s of steps.rows) {
      const list = stepsOf.get(s.run_id) ?? [];
      list.push({ name: s.name, type: s.type, status: s.status, duration_ms: s.duration_ms });
      stepsOf.set(s.run_id, list);
    }
    const out = runs.rows.map((r) => ({
      id: r.run_id,
      job: r.job,
      status: r.status,
      trigger: r.trigger,
      exit_code: r.exit_code,
      started_at: r.started_at.toISOString(),
      finished_at: r.finished_at?.toISOString() ?? null,
      duration_ms: r.duration_ms,
      received_at: r.received_at.toISOString(),
      seq: r.seq,
      steps: stepsOf.get(r.run_id) ?? [],
    }));
    return {
      host_id: hostId,
      runs: out,
      next_before: out.length === options.limit ? (out[out.length - 1]?.seq ?? null) : null,
    };
  } catch (err) {
    throw toStoreError(err, where, "read a host's runs");
  } finally {
    client.release();
  }
}
