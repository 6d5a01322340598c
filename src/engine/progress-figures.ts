// How far a running step is, as published: the one declaration of the figures that the run process
// writes into its live file (engine/live-file.ts) and the server sends on as `progress` events
// (server/api-types.ts, which the dashboard compiles against). Types only, importing nothing — not
// even Node's types — so the front end compiles it as it is.

export interface ProgressFigures {
  /** 0..1, or null when the total is not known yet (or the step gave no fraction). */
  fraction: number | null;
  files_done: number | null;
  files_total: number | null;
  bytes_done: number | null;
  bytes_total: number | null;
  /** Bytes per second over the last seconds. */
  rate_bps: number | null;
  /** Estimated seconds left (restic's own estimate), or null. */
  eta_s: number | null;
  /** The file being read now (one of them). */
  current_file: string | null;
  /** When the figures were published (ISO-8601): at most once a second per step. */
  at: string;
}
