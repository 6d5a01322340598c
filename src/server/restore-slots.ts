// How many restores the API runs at once (S7): each is a restic process reading a whole snapshot, so
// a dozen requests must not become a dozen of them. At most RESTORE_CONCURRENCY run together (the
// rest are 429 with Retry-After), and never two into the same tree: a restore into a directory, or
// into one inside it or around it, waits until the running one has ended (409) — restic writes what
// the snapshot holds, symlinks included, and a second restore below it could be led through one.
import path from "node:path";
import { ApiError } from "./http.js";

export const RESTORE_CONCURRENCY = 2;
/** Seconds a client is asked to wait before trying again when every slot is taken. */
export const RESTORE_RETRY_AFTER_S = 30;

const within = (child: string, parent: string): boolean =>
  child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

/** A restore's slot: counted against the limit from the request on; bound to its target tree once
 * that is known (at once for a named target, after the snapshot is found for a default one). */
export interface RestoreSlot {
  /** Ties the slot to `target` (a real path) or throws the 409 that refuses it; synchronous. */
  bind(target: string): void;
  /** Frees the slot; safe to call more than once. */
  release(): void;
}

export class RestoreSlots {
  private readonly running = new Set<{ target: string | null }>();

  constructor(readonly limit: number = RESTORE_CONCURRENCY) {}

  get size(): number {
    return this.running.size;
  }

  private conflict(target: string, self: { target: string | null } | null): void {
    for (const entry of this.running) {
      const other = entry.target;
      if (entry === self || other === null) continue;
      if (within(target, other) || within(other, target)) {
        throw new ApiError(
          409,
          "conflict",
          other === target
            ? `a restore into ${target} is running`
            : `a restore into ${other} is running, and ${target} ${within(target, other) ? "is inside" : "contains"} it`,
          "wait until it has finished, or restore into a directory outside it",
        );
      }
    }
  }

  /**
   * Takes a slot, before anything slow is done for the request (restic is not asked which snapshot
   * `latest` is until the request holds one), or throws the 429 that refuses it. With `target`, the
   * slot is bound at once (409 when a restore into the same tree runs).
   */
  take(target: string | null = null): RestoreSlot {
    if (target !== null) this.conflict(target, null);
    if (this.running.size >= this.limit) {
      throw new ApiError(
        429,
        "busy",
        `${this.running.size} restores are running; the dashboard runs at most ${this.limit} at once`,
        `try again in ${RESTORE_RETRY_AFTER_S} s, when one of them has finished`,
        {},
        { "Retry-After": String(RESTORE_RETRY_AFTER_S) },
      );
    }
    const entry = { target };
    this.running.add(entry);
    return {
      bind: (t) => {
        this.conflict(t, entry);
        entry.target = t;
      },
      release: () => {
        this.running.delete(entry);
      },
    };
  }

  /** take(target), returning just the release (the launcher path, whose target is known at once). */
  reserve(target: string): () => void {
    const slot = this.take(target);
    return () => slot.release();
  }
}
