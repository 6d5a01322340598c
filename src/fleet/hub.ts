// The hub's reading side: status --fleet, watch --fleet, serve --store postgres and the metrics read
// the fleet database with fleet.view_url_file (the read-only viewer role), else url_file.
import pg from "pg";
import type { Config } from "../config/types.js";
import { describePgUrl, pgTypes, toStoreError } from "../store/postgres/postgres-store.js";
import { readFleetViewUrl } from "./config.js";
import { readFleetView, type FleetView } from "./fleet-view.js";

export interface HubReader {
  view(): Promise<FleetView>;
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
    view: async () => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw toStoreError(err, where, "connect to the fleet database");
      }
      try {
        return await readFleetView(client, grace);
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
