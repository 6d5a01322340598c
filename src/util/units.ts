// Parsing of the value formats in config.md: durations (90s, 1h30m, 7d), percentages (30%), sizes (512MiB, 10GB).

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses "90s", "1h30m", "7d", "250ms" into milliseconds; returns null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "0") return trimmed === "0" ? 0 : null;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(re)) {
    const value = Number(match[1]);
    const unit = DURATION_UNITS[match[2] as string];
    if (unit === undefined) return null;
    total += value * unit;
    consumed += match[0].length;
  }
  if (consumed !== trimmed.length) return null;
  return Math.round(total);
}

/** "1h 2m 3s"-style rendering for humans; milliseconds below 10 s keep one decimal. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s && !d) parts.push(`${s}s`);
  return parts.join("") || "0s";
}

/** Parses "30%" into 0.3; null when not a percentage in [0, 100]. */
export function parsePercent(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  return value <= 100 ? value / 100 : null;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Parses "512MiB", "10GB", "1024" into bytes; null when not a size. */
export function parseSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return null;
  const unit = (match[2] ?? "").toLowerCase() || "b";
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return null;
  return Math.round(Number(match[1]) * factor);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i]}`;
}

/** The longest delay setTimeout can hold: longer ones fire after 1 ms (with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A delay for setTimeout: clamped to MAX_TIMER_MS (~24.8 days), so a huge timeout never fires at once. */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
