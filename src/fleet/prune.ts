// Hub retention (issue 18 item 6), independent of the hosts: `holdfast fleet prune` deletes the
// fleet database's finished runs that started more than fleet.keep_runs_months ago (their steps and
// notifications go with them, by cascade), in batches so no transaction holds the table long. The
// daily rollups (runs_daily) and each job's latest state (job_latest) are never deleted: the trend,
// "% succeeded" and "last success" survive the raw runs. Hosts keep their own history whatever the
// hub does. Run it with the pruner role (init-db): it may read and delete finished runs only.
import pg from "pg";
import { describePgUrl, pgTypes, toStoreError } from "../store/postgres/postgres-store.js";

export interface PruneResult {
  /** The cutoff on the hub's clock: runs that started before it go. */
  cutoff: string;
  keep_months: number;
  deleted: number;
  /** With dryRun: how many would go. */
  dry_run: boolean;
  remaining: number;
  rollup_days: number;
}

export async function pruneFleet(
  url: string,
  options: { keepMonths: number; dryRun?: boolean; batchSize?: number; timeoutMs?: number },
): Promise<PruneResult> {
  const where = describePgUrl(url);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    statement_timeout: options.timeoutMs ?? 300_000,
    application_name: "holdfast-prune",
    types: pgTypes,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw toStoreError(err, where, "connect to the fleet database");
  }
  try {
    const cut = await client.query<{ cutoff: Date }>(
      "SELECT now() - make_interval(months => $1::int) AS cutoff",
      [options.keepMonths],
    );
    const cutoff = cut.rows[0]!.cutoff;
    let deleted = 0;
    if (options.dryRun) {
      const n = await client.query<{ n: number }>(
        "SELECT count(*) AS n FROM holdfast.runs WHERE started_at < $1 AND status <> 'running'",
        [cutoff],
      );
      deleted = n.rows[0]?.n ?? 0;
    } else {
      const batch = options.batchSize ?? 5_000;
      for (;;) {
        const r = await client.query(
          `DELETE FROM holdfast.runs WHERE (host_id, run_id) IN (
             SELECT host_id, run_id FROM holdfast.runs WHERE started_at < $1 AND status <> 'running' LIMIT $2)`,
          [cutoff, batch],
        );
        deleted += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < batch) break;
      }
    }
    const remaining = await client.query<{ n: number }>("SELECT count(*) AS n FROM holdfast.runs");
    // The pruner may not read the rollups; the count is for those who can.
    const days = await client
      .query<{ n: number }>("SELECT count(*) AS n FROM holdfast.runs_daily")
      .then((r) => r.rows[0]?.n ?? 0)
      .catch(() => -1);
    return {
      cutoff: cutoff.toISOString(),
      keep_months: options.keepMonths,
      deleted,
      dry_run: options.dryRun === true,
      remaining: remaining.rows[0]?.n ?? 0,
      rollup_days: days,
    };
  } catch (err) {
    throw toStoreError(err, where, "prune the fleet database");
  } finally {
    await client.end().catch(() => undefined);
  }
}
