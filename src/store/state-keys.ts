// Keys of the store's small key/value state (RunStore.setState/getState) that several layers read:
// the engine writes them after a run, the matrix, the metrics and `status` read them.

/**
 * When a restore drill last passed, per repository × source — and per database of a dump source,
 * when the drill restored one database (verify with `database:`). Source and repository names have
 * no ':' (config/values.ts nameSchema) and database names none either (dump/drivers.ts DATABASE_NAME).
 */
export function drillStateKey(repo: string, source: string, database?: string): string {
  return database === undefined ? `drill:${repo}:${source}` : `drill:${repo}:${source}:db:${database}`;
}
