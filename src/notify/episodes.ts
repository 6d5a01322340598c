// What the notifications remember between processes, in the store's key/value state: the job's last
// known outcome (so `recovered` fires once, on the first success after a failure or a stale period)
// and the open stale episode (so `stale` is sent once per episode, not at every check).
import type { RunStore } from "../store/types.js";

export type KnownOutcome = "success" | "failure" | "stale";

export const outcomeKey = (job: string) => `notify:outcome:${job}`;
export const staleEpisodeKey = (job: string) => `notify:stale:${job}`;

export async function readOutcome(store: RunStore, job: string): Promise<KnownOutcome | null> {
  const value = await store.getState(outcomeKey(job));
  return value === "success" || value === "failure" || value === "stale" ? value : null;
}

export async function writeOutcome(store: RunStore, job: string, outcome: KnownOutcome): Promise<void> {
  await store.setState(outcomeKey(job), outcome);
}

/** ISO time the open stale episode was notified, or null when there is none. */
export function readStaleEpisode(store: RunStore, job: string): Promise<string | null> {
  return store.getState(staleEpisodeKey(job));
}

export async function openStaleEpisode(store: RunStore, job: string, at: Date): Promise<void> {
  await store.setState(staleEpisodeKey(job), at.toISOString());
}

export async function closeStaleEpisode(store: RunStore, job: string): Promise<void> {
  await store.setState(staleEpisodeKey(job), null);
}
