// Deletes the backend refused. restic 0.18.0 prints, for each file it could not delete (an
// append-only REST server answers 403), and then exits 0 (restic #5233; 0.19 exits 3):
//   Remove(<snapshot/cc0f093164>) failed: unexpected HTTP response (403): 403 Forbidden
//   unable to remove snapshot/cc0f093164bf2d95a8f6d85438fae67b828a23250e513375b6e9b87f180a9614 from the repository
// (measured here, restic-notes.md §9). restic 0.14 retries such a delete 10 times and exits 1, which
// the classifier already reads as a failure. A lock file restic could not remove on its way out is
// not a refused delete of data: it is left to `holdfast unlock`.
import { stripAnsi } from "./outputs.js";

export interface RefusedRemovals {
  /** "snapshot/cc0f0931…" — the files restic said it could not remove (full names where it printed them). */
  files: string[];
  /** restic's reason, from the `Remove(<…>) failed: …` line. */
  cause: string | null;
}

const UNABLE = /unable to remove (\w+\/[0-9a-f]+) from the repository/;
const FAILED = /^Remove\(<(\w+)\/([0-9a-f]+)>\) failed: (.*)$/;

/** The refused deletes restic reported on stderr (locks left out), or null when there were none. */
export function refusedRemovals(stderrLines: readonly string[]): RefusedRemovals | null {
  const files = new Set<string>();
  const short = new Set<string>();
  let cause: string | null = null;
  for (const raw of stderrLines) {
    for (const piece of stripAnsi(raw).split("\n")) {
      const line = piece.trim();
      const unable = UNABLE.exec(line);
      if (unable?.[1] && !unable[1].startsWith("lock/")) files.add(unable[1]);
      const failed = FAILED.exec(line);
      if (failed && failed[1] !== "lock") {
        short.add(`${failed[1]}/${failed[2]}`);
        cause = failed[3]?.trim() ?? cause;
      }
    }
  }
  // A `Remove(<snapshot/cc0f093164>) failed` without its "unable to remove" line still counts.
  for (const s of short) if (![...files].some((f) => f.startsWith(s))) files.add(s);
  return files.size > 0 ? { files: [...files], cause } : null;
}
