// One operation per repository at a time within this process: two restic commands against one
// repository would only fight over its lock. Keyed by RepositoryAccess.lockKey.
import { settlesBeforeAbort } from "../util/abort.js";

const repoQueues = new Map<string, Promise<void>>();

export async function withRepoMutex<T>(
  key: string,
  signal: AbortSignal | null,
  fn: () => Promise<T>,
): Promise<T | "cancelled"> {
  const previous = repoQueues.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const chained = previous.then(() => mine);
  repoQueues.set(key, chained);
  try {
    const proceed = await settlesBeforeAbort(previous, signal);
    if (!proceed) return "cancelled";
    return await fn();
  } finally {
    release();
    if (repoQueues.get(key) === chained) repoQueues.delete(key);
  }
}
