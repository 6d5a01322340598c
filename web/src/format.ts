// Times in the browser's zone (seconds and zone on hover), and the CLI's own duration and byte
// formatter (src/util/units.ts has no imports, so the same code runs here).
export { formatBytes, formatDuration } from "../../src/util/units.js";

const pad = (n: number) => String(n).padStart(2, "0");

const full = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});
const dayMonth = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dayMonthYear = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

/** "14:03" today, "3 Dec 14:03" this year, "3 Dec 2025" before. */
export function shortTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  if (d.getFullYear() === now.getFullYear()) return `${dayMonth.format(d)} ${hm}`;
  return dayMonthYear.format(d);
}

/** With seconds and the zone: for title= and screen readers. */
export function fullTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : full.format(d);
}

/** "5m ago", "in 2h" — coarse, for glances; the exact time is on hover. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return iso;
  const abs = Math.abs(ms);
  let text: string;
  if (abs < 45_000) return ms < 0 ? "just now" : "in a moment";
  if (abs < 3_600_000) text = `${Math.round(abs / 60_000)}m`;
  else if (abs < 86_400_000 * 2) text = `${Math.round(abs / 3_600_000)}h`;
  else text = `${Math.round(abs / 86_400_000)}d`;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}
