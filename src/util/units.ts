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

/**
 * restic's own duration grammar (internal/restic/duration.go, the same from 0.14 to 0.19), for
 * `--keep-within*`: numbers each followed by one of y (years), m (months), d (days), h (hours), e.g.
 * "1y6m2d3h". restic has no minutes, seconds or weeks, and "M" is not a unit. A unit given twice
 * takes the last value there; here that is refused as a likely typo. Negative numbers are refused by
 * restic ≥ 0.17; digits beyond ASCII make restic panic — both refused here. Returns the normalised
 * text restic gets, or why it is not a restic duration.
 */
export function parseResticDuration(text: string): { value: string } | { error: string; hint: string } {
  const trimmed = text.trim();
  const hint =
    "write numbers with restic's units y (years), m (months), d (days), h (hours), e.g. 30d, 6m, 1y6m, 2d12h";
  if (trimmed === "") return { error: "an empty duration", hint };
  const seen = new Set<string>();
  let rest = trimmed;
  let any = false;
  while (rest !== "") {
    const m = /^(-?)(\d*)(.?)/su.exec(rest) as RegExpExecArray;
    const [whole, sign, digits, unit] = m as unknown as [string, string, string, string];
    if (digits === "")
      return { error: `"${text}" is not a restic duration: no number before "${rest}"`, hint };
    if (sign)
      return { error: `"${text}" is negative; restic refuses negative durations for keep-within`, hint };
    if (unit === "") return { error: `"${text}" has no unit after ${digits}`, hint };
    if (!"ymdh".includes(unit)) {
      const guess =
        unit === "M"
          ? ` ("m" is months in restic)`
          : unit === "w"
            ? ` (restic has no weeks: write ${Number(digits) * 7}d)`
            : "";
      return { error: `"${text}": "${unit}" is not a restic duration unit${guess}`, hint };
    }
    if (seen.has(unit))
      return { error: `"${text}" gives "${unit}" twice (restic would keep only the last)`, hint };
    if (digits.length > 9) return { error: `"${text}": ${digits} is too large`, hint };
    seen.add(unit);
    if (Number(digits) > 0) any = true;
    rest = rest.slice(whole.length);
  }
  if (!any) return { error: `"${text}" is zero: restic reads a zero keep-within as no rule at all`, hint };
  return { value: trimmed };
}
