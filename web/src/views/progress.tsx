import { formatBytes, formatDuration } from "../format.js";
import type { Progress } from "../live.js";

/** Files, bytes, rate, ETA and the current file of a running backup (from the event stream). */
export function ProgressLine({
  p,
}: {
  p: Pick<
    Progress,
    | "fraction"
    | "files_done"
    | "files_total"
    | "bytes_done"
    | "bytes_total"
    | "rate_bps"
    | "eta_s"
    | "current_file"
  > & { step?: string };
}) {
  const pct = p.fraction !== null ? Math.round(p.fraction * 1000) / 10 : null;
  const parts: string[] = [];
  if (p.step) parts.push(p.step);
  if (pct !== null) parts.push(`${pct}%`);
  if (p.files_done !== null)
    parts.push(`${p.files_done}${p.files_total !== null ? ` / ${p.files_total}` : ""} files`);
  if (p.bytes_done !== null)
    parts.push(
      `${formatBytes(p.bytes_done)}${p.bytes_total !== null ? ` / ${formatBytes(p.bytes_total)}` : ""}`,
    );
  if (p.rate_bps !== null) parts.push(`${formatBytes(p.rate_bps)}/s`);
  if (p.eta_s !== null) parts.push(`ETA ${formatDuration(p.eta_s * 1000)}`);
  return (
    <div class="progress" data-testid="progress">
      {pct !== null && (
        <progress max={100} value={pct} aria-label="progress">
          {pct}%
        </progress>
      )}
      <div class="small num">{parts.join(" · ")}</div>
      {p.current_file && <div class="small path muted">{p.current_file}</div>}
    </div>
  );
}
