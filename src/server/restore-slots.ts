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

export class RestoreSlots {
  private readonly running = new Set<string>();

  constructor(readonly limit: number = RESTORE_CONCURRENCY) {}

  get size(): number {
    return this.running.size;
  }

  /**
   * Takes a slot for a restore into `target` (a real path) or throws the ApiError that refuses it.
   * Synchronous, so two requests can never both pass the check before either takes its slot.
   * Returns the release, which is safe to call more than once.
   */
  reserve(target: string): () => void {
    for (const other of this.running) {
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
    this.running.add(target);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running.delete(target);
    };
  }
}
