import { formatBytes, formatDuration } from "../format.js";
import type { Progress } from "../live.js";

/** Files, bytes, rate, ETA and the current file of a running backup. */
export function ProgressLine({ p }: { p: Progress }) {
  const pct = p.percent_done !== undefined ? Math.round(p.percent_done * 1000) / 10 : null;
  return (
    <div class="progress" role="status" aria-live="polite">
      {pct !== null && (
        <progress max={100} value={pct} aria-label="backup progress">
          {pct}%
        </progress>
      )}
      <div class="small">
        {pct !== null && `${pct}% · `}
        {p.files_done !== undefined &&
          `${p.files_done}${p.total_files ? ` / ${p.total_files}` : ""} files · `}
        {p.bytes_done !== undefined &&
          `${formatBytes(p.bytes_done)}${p.total_bytes ? ` / ${formatBytes(p.total_bytes)}` : ""}`}
        {p.bytes_per_second !== undefined && ` · ${formatBytes(p.bytes_per_second)}/s`}
        {p.seconds_remaining !== undefined && ` · ETA ${formatDuration(p.seconds_remaining * 1000)}`}
      </div>
      {p.current_files?.[0] && <div class="small path muted">{p.current_files[0]}</div>}
    </div>
  );
}
