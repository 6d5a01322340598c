// The calendar engine: systemd OnCalendar expressions and 5-field cron, parsed and stepped forward in
// time. Pure: no I/O, no clock reads. The goal is to agree exactly with `systemd-analyze calendar`
// (systemd 252 on Debian 12), so the parser and the search mirror systemd's calendarspec.c step by
// step, and local time goes through an emulation of glibc's mktime(), whose handling of DST gaps and
// overlaps decides which instants systemd picks around a transition.
import { EXIT, HoldfastError } from "../errors.js";

export interface CalendarSchedule {
  expression: string;
  kind: "oncalendar" | "cron";
  /** systemd's normalized form; for a cron whose day-of-month and day-of-week are both restricted, the two OnCalendar forms joined by "; ". */
  normalized: string;
  /** "UTC", an IANA zone name, or null for local time. */
  timeZone: string | null;
  /** The OnCalendar expressions whose union is this schedule (one, or two for cron's day OR rule): what a timer unit needs. */
  onCalendar: readonly string[];
  /** The first elapse strictly after `after`, or null when there is none (systemd's "never"). */
  next(after: Date): Date | null;
}

export interface ParseScheduleOptions {
  /** The zone that expressions without one are evaluated in; the process's local zone when omitted. */
  localTimeZone?: string;
}

export class CalendarError extends HoldfastError {
  readonly expression: string;
  declare readonly hint: string;
  constructor(expression: string, reason: string, hint: string) {
    super(`invalid schedule "${expression}": ${reason}`, { kind: "config", hint, exitCode: EXIT.usage });
    this.name = "CalendarError";
    this.expression = expression;
  }
}

const USEC_PER_SEC = 1_000_000;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
const INT_MAX = 2_147_483_647;
const BITS_WEEKDAYS = 127;
const COMPONENTS_MAX = 240;
const MAX_CALENDAR_ITERATIONS = 1000;
// systemd refuses bases after USEC_TIMESTAMP_FORMATTABLE_MAX (9999-12-30 23:59:59 UTC).
const FORMATTABLE_MAX_SECONDS = 253_402_214_399;
const STAR_SLASH_HINT =
  "OnCalendar has no '*/N': write 'START/N', e.g. '*:0/15' for every 15 minutes or '0/2:00' for every 2 hours";
const GENERIC_HINT =
  "use systemd OnCalendar syntax such as '*-*-* 03:00:00', 'Mon..Fri 09:00', '*:0/15' or 'daily', or 5-field cron such as '0 3 * * *'";

interface Component {
  start: number;
  stop: number;
  repeat: number;
}

/** null is "*" (any value). */
type Chain = Component[] | null;

interface Spec {
  weekdays: number;
  year: Chain;
  month: Chain;
  day: Chain;
  hour: Chain;
  minute: Chain;
  microsecond: Chain;
  endOfMonth: boolean;
  utc: boolean;
  timeZone: string | null;
}

/** Thrown inside the parser and turned into a CalendarError with the whole expression. */
class ParseFailure extends HoldfastError {
  declare readonly hint: string;
  constructor(reason: string, hint: string = GENERIC_HINT) {
    super(reason, { kind: "config", hint, exitCode: EXIT.usage });
  }
}

function fail(reason: string, hint?: string): never {
  throw new ParseFailure(reason, hint);
}

// ---------------------------------------------------------------------------------------------
// Civil-date arithmetic (proleptic Gregorian, seconds since the epoch)

interface Tm {
  year: number;
  /** 0-based, like struct tm. */
  mon: number;
  mday: number;
  hour: number;
  min: number;
  sec: number;
  /** -1 unknown, 0 standard time, 1 daylight saving time. */
  isdst: number;
}

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromSeconds(t: number, isdst: number): Tm {
  const days = Math.floor(t / 86400);
  const secs = t - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const mday = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return {
    year,
    mon: month - 1,
    mday,
    hour: Math.floor(secs / 3600),
    min: Math.floor((secs % 3600) / 60),
    sec: secs % 60,
    isdst,
  };
}

/** The fields read as if they were UTC; fields may be out of range, as mktime() allows. */
function naiveSeconds(tm: Tm, sec: number = tm.sec): number {
  const year = tm.year + Math.floor(tm.mon / 12);
  const mon = tm.mon - Math.floor(tm.mon / 12) * 12;
  const days = daysFromCivil(year, mon + 1, 1) + tm.mday - 1;
  return days * 86400 + tm.hour * 3600 + tm.min * 60 + sec;
}

function weekdayOf(tm: Tm): number {
  const days = Math.floor(naiveSeconds(tm) / 86400);
  // 1970-01-01 was a Thursday; 0 = Monday as in systemd's weekday bits.
  return (((days + 3) % 7) + 7) % 7;
}

// ---------------------------------------------------------------------------------------------
// Time zones

interface ZoneRules {
  /** Seconds east of UTC at instant t (seconds since the epoch). */
  offsetAt(t: number): number;
  isDst(t: number, offset: number): boolean;
}

const MEMO_LIMIT = 200_000;
const intlRules = new Map<string, ZoneRules>();

function parseLongOffset(text: string): number {
  const m = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/.exec(text);
  if (!m) throw new Error(`unexpected time zone offset "${text}"`);
  if (m[1] === undefined) return 0;
  const seconds = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === "-" ? -seconds : seconds;
}

function createStandardOffset(offsetAt: (t: number) => number): (t: number) => number {
  const byYear = new Map<number, number>();
  return (t) => {
    const year = civilFromSeconds(t, 0).year;
    let standard = byYear.get(year);
    if (standard === undefined) {
      // DST is the larger of the January and July offsets; this holds for every zone without "negative DST".
      standard = Math.min(
        offsetAt(daysFromCivil(year, 1, 1) * 86400),
        offsetAt(daysFromCivil(year, 7, 1) * 86400),
      );
      byYear.set(year, standard);
    }
    return standard;
  };
}

function getIntlRules(timeZone: string): ZoneRules {
  const cached = intlRules.get(timeZone);
  if (cached) return cached;
  const format = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
  const exact = (t: number): number => {
    const part = format.formatToParts(new Date(t * 1000)).find((p) => p.type === "timeZoneName");
    return parseLongOffset(part?.value ?? "GMT");
  };
  const byHour = new Map<number, number>();
  const byMinute = new Map<number, number>();
  const offsetAt = (t: number): number => {
    const hour = Math.floor(t / 3600);
    let offset = byHour.get(hour);
    if (offset === undefined) {
      const first = exact(hour * 3600);
      // An hour with a transition inside is looked up minute by minute.
      offset = first === exact(hour * 3600 + 3599) ? first : Number.NaN;
      if (byHour.size > MEMO_LIMIT) byHour.clear();
      byHour.set(hour, offset);
    }
    if (!Number.isNaN(offset)) return offset;
    const minute = Math.floor(t / 60);
    let inMinute = byMinute.get(minute);
    if (inMinute === undefined) {
      inMinute = exact(minute * 60);
      if (byMinute.size > MEMO_LIMIT) byMinute.clear();
      byMinute.set(minute, inMinute);
    }
    return inMinute;
  };
  const standardAt = createStandardOffset(offsetAt);
  const rules: ZoneRules = { offsetAt, isDst: (t, offset) => offset > standardAt(t) };
  intlRules.set(timeZone, rules);
  return rules;
}

function createSystemRules(): ZoneRules {
  const offsetAt = (t: number): number => -Math.round(new Date(t * 1000).getTimezoneOffset() * 60);
  const standardAt = createStandardOffset(offsetAt);
  return { offsetAt, isDst: (t, offset) => offset > standardAt(t) };
}

function isUtcName(name: string): boolean {
  return name === "UTC";
}

let canonicalZones: Map<string, string> | null = null;

/** Mirrors systemd's timezone_is_valid(), with ICU's zone list standing in for /usr/share/zoneinfo. */
function isValidTimeZone(name: string): boolean {
  if (name === "UTC") return true;
  if (!/^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  // Every file under /usr/share/zoneinfo that is a real zone starts each path segment with a capital.
  if (!name.split("/").every((segment) => /^[A-Z]/.test(segment))) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
  } catch {
    return false;
  }
  canonicalZones ??= new Map(Intl.supportedValuesOf("timeZone").map((zone) => [zone.toLowerCase(), zone]));
  const canonical = canonicalZones.get(name.toLowerCase());
  // The zoneinfo lookup is case-sensitive, ICU's is not.
  return canonical === undefined || canonical === name;
}

// ---------------------------------------------------------------------------------------------
// glibc's mktime()/localtime(), which systemd's search is built on

/** Either UTC (timegm/gmtime) or a zone whose offsets come from ZoneRules (mktime/localtime). */
class Clock {
  // glibc keeps the last offset it found in a static and starts its next probe from it; around an
  // ambiguous local time that guess decides which of the two instants mktime() returns.
  private guess = 0;

  constructor(private readonly rules: ZoneRules | null) {}

  localtime(t: number): Tm {
    if (!this.rules) return civilFromSeconds(t, 0);
    const offset = this.rules.offsetAt(t);
    return civilFromSeconds(t + offset, this.rules.isDst(t, offset) ? 1 : 0);
  }

  /** Returns null where mktime() returns -1 or a time before the epoch (systemd treats both as errors). */
  mktime(req: Tm): { t: number; tm: Tm } | null {
    const result = this.rules ? this.mktimeLocal(req) : this.timegm(req);
    if (!result || result.t < 0) return null;
    return result;
  }

  private timegm(req: Tm): { t: number; tm: Tm } {
    const t = naiveSeconds(req);
    return { t, tm: civilFromSeconds(t, 0) };
  }

  // A transcription of glibc 2.36 __mktime_internal(): probe with the cached offset, correct by the
  // error, detect oscillation in a spring-forward gap, then honour a requested tm_isdst.
  private mktimeLocal(req: Tm): { t: number; tm: Tm } | null {
    const secRequested = req.sec;
    const sec = Math.min(59, Math.max(0, secRequested));
    const naive = naiveSeconds(req, sec);
    const t0 = naive + this.guess;
    let t = t0;
    let t1 = t0;
    let t2 = t0;
    let dst2 = 0;
    let remainingProbes = 6;
    let tm: Tm;
    let offsetFound = false;
    for (;;) {
      tm = this.localtime(t);
      const dt = naive - naiveSeconds(tm);
      if (dt === 0) break;
      if (
        t === t1 &&
        t !== t2 &&
        (req.isdst < 0 ? dst2 <= tm.isdst : (req.isdst !== 0 ? 1 : 0) !== tm.isdst)
      ) {
        offsetFound = true;
        break;
      }
      remainingProbes -= 1;
      if (remainingProbes === 0) return null;
      t1 = t2;
      t2 = t;
      t += dt;
      dst2 = tm.isdst;
    }
    if (!offsetFound && req.isdst >= 0 && (req.isdst !== 0 ? 1 : 0) !== tm.isdst) {
      const found = this.searchIsdst(t, naive, req.isdst !== 0 ? 1 : 0);
      if (!found) return null;
      t = found.t;
      tm = found.tm;
    }
    this.guess = t - naive;
    if (secRequested !== sec) {
      t += secRequested - sec;
      tm = this.localtime(t);
    }
    return { t, tm };
  }

  private searchIsdst(t: number, naive: number, isdst: number): { t: number; tm: Tm } | null {
    const stride = 601200;
    const deltaBound = 536454000 / 2 + stride;
    for (let delta = stride; delta < deltaBound; delta += stride) {
      for (const direction of [-1, 1]) {
        const ot = t + delta * direction;
        const otm = this.localtime(ot);
        if (otm.isdst === isdst) {
          const gt = ot + (naive - naiveSeconds(otm));
          return { t: gt, tm: this.localtime(gt) };
        }
      }
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing OnCalendar (calendar_spec_from_string)

const WEEKDAY_NAMES: readonly (readonly [string, number])[] = [
  ["monday", 0],
  ["mon", 0],
  ["tuesday", 1],
  ["tue", 1],
  ["wednesday", 2],
  ["wed", 2],
  ["thursday", 3],
  ["thu", 3],
  ["friday", 4],
  ["fri", 4],
  ["saturday", 5],
  ["sat", 5],
  ["sunday", 6],
  ["sun", 6],
];
const WEEKDAY_LABELS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

const SHORTHANDS: Readonly<Record<string, string>> = {
  minutely: "*-*-* *:*:00",
  hourly: "*-*-* *:00:00",
  daily: "*-*-* 00:00:00",
  monthly: "*-*-01 00:00:00",
  weekly: "Mon *-*-* 00:00:00",
  yearly: "*-01-01 00:00:00",
  annually: "*-01-01 00:00:00",
  anually: "*-01-01 00:00:00",
  quarterly: "*-01,04,07,10-01 00:00:00",
  semiannually: "*-01,07-01 00:00:00",
  "semi-annually": "*-01,07-01 00:00:00",
  biannually: "*-01,07-01 00:00:00",
  "bi-annually": "*-01,07-01 00:00:00",
};

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}
  ch(): string | undefined {
    return this.text[this.pos];
  }
  at(offset: number): string | undefined {
    return this.text[this.pos + offset];
  }
  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }
  skipSpaces(): void {
    while (this.ch() === " ") this.pos += 1;
  }
  describe(): string {
    return this.atEnd ? "end of expression" : `"${this.text.slice(this.pos)}"`;
  }
}

function emptySpec(): Spec {
  return {
    weekdays: 0,
    year: null,
    month: null,
    day: null,
    hour: null,
    minute: null,
    microsecond: null,
    endOfMonth: false,
    utc: false,
    timeZone: null,
  };
}

function parseWeekdays(cur: Cursor, spec: Spec): void {
  let rangeStart = -1;
  let first = true;
  for (;;) {
    const rest = cur.text.slice(cur.pos).toLowerCase();
    const match = WEEKDAY_NAMES.find(([name]) => rest.startsWith(name));
    if (!match) {
      if (first) return;
      fail(
        `expected a weekday at ${cur.describe()}`,
        "weekdays are Mon..Sun (or full names), as a list 'Sat,Sun' or range 'Mon..Fri'",
      );
    }
    const [name, nr] = match;
    const after = cur.text[cur.pos + name.length];
    if (after !== undefined && !"-.,  ".includes(after)) {
      fail(
        `unknown weekday at ${cur.describe()}`,
        "weekdays are Mon, Tue, Wed, Thu, Fri, Sat, Sun (or full names)",
      );
    }
    spec.weekdays |= 1 << nr;
    if (rangeStart >= 0) {
      if (rangeStart > nr) {
        fail(
          "weekday range goes backwards",
          "write weekday ranges forwards, e.g. 'Mon..Fri'; for a wrap-around use a list such as 'Fri..Sun,Mon'",
        );
      }
      for (let j = rangeStart + 1; j < nr; j++) spec.weekdays |= 1 << j;
    }
    cur.pos += name.length;
    if (cur.atEnd) return;
    if (cur.ch() === " ") {
      cur.skipSpaces();
      return;
    }
    if (cur.ch() === ".") {
      if (rangeStart >= 0 || cur.at(1) !== ".")
        fail("malformed weekday range", "weekday ranges look like 'Mon..Fri'");
      rangeStart = nr;
      cur.pos += 2;
    } else if (cur.ch() === "-") {
      if (rangeStart >= 0) fail("malformed weekday range", "weekday ranges look like 'Mon..Fri'");
      rangeStart = nr;
      cur.pos += 1;
    } else if (cur.ch() === ",") {
      rangeStart = -1;
      cur.pos += 1;
    }
    if (cur.atEnd || cur.ch() === " ") {
      cur.skipSpaces();
      if (rangeStart >= 0) fail("open weekday range", "weekday ranges need an end, e.g. 'Mon..Fri'");
      return;
    }
    first = false;
  }
}

/** parse_fractional_part_u(): up to six digits, rounded by the seventh, further digits ignored. */
function parseFraction(cur: Cursor): number {
  let value = 0;
  let i = 0;
  for (; i < 6; i++) {
    const ch = cur.ch();
    if (!isDigit(ch)) {
      if (i === 0)
        fail("a decimal point must be followed by digits", "write fractional seconds like '00:00:10.5'");
      for (; i < 6; i++) value *= 10;
      break;
    }
    value = value * 10 + Number(ch);
    cur.pos += 1;
  }
  const next = cur.ch();
  if (next !== undefined && next >= "5" && next <= "9") value += 1;
  while (isDigit(cur.ch())) cur.pos += 1;
  return value;
}

function parseDecimal(cur: Cursor, usec: boolean): number {
  if (!isDigit(cur.ch())) fail(`expected a number at ${cur.describe()}`, numberHint(cur));
  const begin = cur.pos;
  while (isDigit(cur.ch())) cur.pos += 1;
  const digits = cur.text.slice(begin, cur.pos).replace(/^0+(?=\d)/, "");
  if (digits.length > 12) fail(`number ${digits} is too large`);
  let value = Number(digits);
  if (usec) {
    value *= USEC_PER_SEC;
    // One "." is a decimal point, ".." a range.
    if (cur.ch() === "." && cur.at(1) !== ".") {
      cur.pos += 1;
      value += parseFraction(cur);
    }
  }
  if (value > INT_MAX) fail(`number ${digits} is too large`);
  return value;
}

function numberHint(cur: Cursor): string {
  if (cur.ch() === "*" || cur.text.includes("*/")) return STAR_SLASH_HINT;
  return GENERIC_HINT;
}

function parseComponents(cur: Cursor, usec: boolean): Component[] {
  const chain: Component[] = [];
  for (let nesting = 0; ; nesting++) {
    if (nesting > COMPONENTS_MAX) fail(`more than ${COMPONENTS_MAX} list items in one field`);
    const start = parseDecimal(cur, usec);
    let stop = -1;
    let repeat = 0;
    if (cur.ch() === "." && cur.at(1) === ".") {
      cur.pos += 2;
      stop = parseDecimal(cur, usec);
      repeat = usec ? USEC_PER_SEC : 1;
    }
    if (cur.ch() === "/") {
      cur.pos += 1;
      repeat = parseDecimal(cur, usec);
      if (repeat === 0)
        fail("a repetition of 0 never advances", "use a repetition of at least 1, e.g. '*:0/15'");
    } else {
      if (start > INT_MAX - repeat) fail("number too large");
      // Without an explicit repetition, a seconds range steps by a whole second.
      if (usec && stop >= 0 && start + repeat > stop) {
        fail(
          "a seconds range shorter than one second needs a repetition",
          "give the repetition explicitly, e.g. '00:00:10..10.5/0.25'",
        );
      }
    }
    const ch = cur.ch();
    if (ch !== undefined && !" ,-~:".includes(ch)) fail(`unexpected ${cur.describe()}`, numberHint(cur));
    chain.unshift({ start, stop, repeat });
    if (ch !== ",") return chain;
    cur.pos += 1;
  }
}

function parseChain(cur: Cursor, usec: boolean): Chain {
  if (cur.ch() === "*") {
    cur.pos += 1;
    return usec ? [{ start: 0, stop: -1, repeat: USEC_PER_SEC }] : null;
  }
  return parseComponents(cur, usec);
}

function constChain(value: number): Component[] {
  return [{ start: value, stop: -1, repeat: 0 }];
}

/** "@SECONDS": strtoul() accepts leading white space and a sign, so systemd does too. */
function parseTimestamp(cur: Cursor, spec: Spec): void {
  const m = /^@[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(cur.text.slice(cur.pos));
  if (!m) fail("'@' must be followed by seconds since the epoch", "e.g. '@1767225600'");
  const digits = (m[2] ?? "").replace(/^0+(?=\d)/, "");
  // strtoul() wraps a negative number to a huge one, which lands outside the valid years.
  if ((m[1] === "-" && digits !== "0") || digits.length > 12) {
    fail("timestamp out of range", `timestamps must fall within the years ${MIN_YEAR}..${MAX_YEAR}`);
  }
  const tm = civilFromSeconds(Number(digits), 0);
  spec.utc = true;
  spec.year = constChain(tm.year);
  spec.month = constChain(tm.mon + 1);
  spec.day = constChain(tm.mday);
  spec.hour = constChain(tm.hour);
  spec.minute = constChain(tm.min);
  spec.microsecond = constChain(tm.sec * USEC_PER_SEC);
  cur.pos += m[0].length;
}

/** Returns true when the date part was a timestamp, which also fixes the time. */
function parseDate(cur: Cursor, spec: Spec): boolean {
  if (cur.atEnd) return false;
  if (cur.ch() === "@") {
    parseTimestamp(cur, spec);
    return true;
  }
  const begin = cur.pos;
  const first = parseChain(cur, false);
  if (cur.atEnd || cur.ch() === ":") {
    // That was an hour, not a date.
    cur.pos = begin;
    return false;
  }
  if (cur.ch() === "~") spec.endOfMonth = true;
  else if (cur.ch() !== "-")
    fail(`unexpected ${cur.describe()} in the date`, "dates look like 'YYYY-MM-DD', 'MM-DD' or '*-*~01'");
  cur.pos += 1;
  const second = parseChain(cur, false);
  if (cur.atEnd || cur.ch() === " ") {
    cur.skipSpaces();
    spec.month = first;
    spec.day = second;
    return false;
  }
  if (spec.endOfMonth)
    fail("'~' must sit between month and day", "e.g. '*-*~01' for the last day of every month");
  if (cur.ch() === "~") spec.endOfMonth = true;
  else if (cur.ch() !== "-")
    fail(`unexpected ${cur.describe()} in the date`, "dates look like 'YYYY-MM-DD', 'MM-DD' or '*-*~01'");
  cur.pos += 1;
  const third = parseChain(cur, false);
  if (!cur.atEnd && cur.ch() !== " ") {
    fail(
      `unexpected ${cur.describe()} after the date`,
      "separate date and time with one space: '*-*-* 03:00'",
    );
  }
  cur.skipSpaces();
  spec.year = first;
  spec.month = second;
  spec.day = third;
  return false;
}

function parseTime(cur: Cursor, spec: Spec): void {
  if (cur.atEnd) {
    spec.hour = constChain(0);
    spec.minute = constChain(0);
    spec.microsecond = constChain(0);
    return;
  }
  const hour = parseChain(cur, false);
  if (cur.ch() !== ":")
    fail(`expected ':' after the hour at ${cur.describe()}`, "times look like 'HH:MM' or 'HH:MM:SS'");
  cur.pos += 1;
  const minute = parseChain(cur, false);
  let microsecond: Chain = constChain(0);
  if (!cur.atEnd) {
    if (cur.ch() !== ":")
      fail(`unexpected ${cur.describe()} after the minutes`, "times look like 'HH:MM' or 'HH:MM:SS'");
    cur.pos += 1;
    microsecond = parseChain(cur, true);
    if (!cur.atEnd) fail(`unexpected ${cur.describe()} after the seconds`, trailingHint(cur));
  }
  spec.hour = hour;
  spec.minute = minute;
  spec.microsecond = microsecond;
}

function trailingHint(cur: Cursor): string {
  const rest = cur.text.slice(cur.pos).trim();
  if (/^[A-Za-z]/.test(rest))
    return `"${rest}" is not a known time zone; use UTC or an IANA name such as Europe/Berlin`;
  return GENERIC_HINT;
}

function compareComponents(a: Component, b: Component): number {
  return a.start - b.start || a.stop - b.stop || a.repeat - b.repeat;
}

function normalizeChain(chain: Chain): Chain {
  if (!chain) return null;
  for (const c of chain) {
    // Shorten a range to a whole number of repetitions.
    if (c.stop > c.start && c.repeat > 0) c.stop -= (c.stop - c.start) % c.repeat;
    if ((c.stop > c.start && c.repeat > 0 && c.start + c.repeat > c.stop) || c.start === c.stop) {
      c.repeat = 0;
      c.stop = -1;
    }
  }
  if (chain.length <= 1) return chain;
  const sorted = [...chain].sort(compareComponents);
  return sorted.filter((c, i) => i === 0 || compareComponents(sorted[i - 1]!, c) !== 0);
}

function fixYear(chain: Chain): void {
  for (const c of chain ?? []) {
    if (c.start >= 0 && c.start < 70) c.start += 2000;
    if (c.stop >= 0 && c.stop < 70) c.stop += 2000;
    if (c.start >= 70 && c.start < 100) c.start += 1900;
    if (c.stop >= 70 && c.stop < 100) c.stop += 1900;
  }
}

function checkChain(chain: Chain, field: string, from: number, to: number, endOfMonth: boolean): void {
  if (endOfMonth) to -= 3;
  const show = (v: number): string => (field === "second" ? String(v / USEC_PER_SEC) : String(v));
  const range = `${show(from)}..${show(to)}`;
  for (const c of chain ?? []) {
    if (c.start < from || c.start > to) {
      const what = endOfMonth ? "days counted back from the month end (after '~')" : field;
      fail(`${what} ${show(c.start)} is out of range`, `${what} must be within ${range}`);
    }
    if (c.repeat > to - from)
      fail(`${field} repetition ${show(c.repeat)} is too large`, `${field} must be within ${range}`);
    if (c.stop >= 0) {
      if (c.stop < from || c.stop > to)
        fail(`${field} ${show(c.stop)} is out of range`, `${field} must be within ${range}`);
      if (c.start + c.repeat > c.stop) {
        fail(
          `${field} range ${show(c.start)}..${show(c.stop)} never repeats`,
          "ranges go from the smaller to the larger value, e.g. '1..5'",
        );
      }
    } else if (endOfMonth && c.start - c.repeat < from) {
      fail(
        `${field} repetition ${show(c.repeat)} runs past the month`,
        "counting from the month end, START/N needs START > N",
      );
    } else if (!endOfMonth && c.start + c.repeat > to) {
      fail(
        `${field} repetition ${show(c.start)}/${show(c.repeat)} never repeats within ${range}`,
        `choose START/N with START+N within ${range}`,
      );
    }
  }
}

function normalizeSpec(spec: Spec): void {
  if (spec.timeZone !== null && isUtcName(spec.timeZone)) {
    spec.utc = true;
    spec.timeZone = null;
  }
  if (spec.weekdays <= 0 || spec.weekdays >= BITS_WEEKDAYS) spec.weekdays = -1;
  if (spec.endOfMonth && !spec.day) spec.endOfMonth = false;
  fixYear(spec.year);
  spec.year = normalizeChain(spec.year);
  spec.month = normalizeChain(spec.month);
  spec.day = normalizeChain(spec.day);
  spec.hour = normalizeChain(spec.hour);
  spec.minute = normalizeChain(spec.minute);
  spec.microsecond = normalizeChain(spec.microsecond);
}

function validateSpec(spec: Spec): void {
  checkChain(spec.year, "year", MIN_YEAR, MAX_YEAR, false);
  checkChain(spec.month, "month", 1, 12, false);
  checkChain(spec.day, "day", 1, 31, spec.endOfMonth);
  checkChain(spec.hour, "hour", 0, 23, false);
  checkChain(spec.minute, "minute", 0, 59, false);
  checkChain(spec.microsecond, "second", 0, 60 * USEC_PER_SEC - 1, false);
}

function splitTimeZone(expression: string, spec: Spec): string {
  if (expression.toUpperCase().endsWith(" UTC")) {
    spec.utc = true;
    return expression.slice(0, -4);
  }
  const lastSpace = expression.lastIndexOf(" ");
  if (lastSpace >= 0 && isValidTimeZone(expression.slice(lastSpace + 1))) {
    spec.timeZone = expression.slice(lastSpace + 1);
    return expression.slice(0, lastSpace);
  }
  return expression;
}

function parseOnCalendar(expression: string): Spec {
  const spec = emptySpec();
  const body = splitTimeZone(expression, spec);
  if (body === "") fail("empty expression");
  const shorthand = SHORTHANDS[body.toLowerCase()];
  const cur = new Cursor(shorthand ?? body);
  parseWeekdays(cur, spec);
  if (!parseDate(cur, spec)) parseTime(cur, spec);
  if (!cur.atEnd) fail(`unexpected ${cur.describe()}`, trailingHint(cur));
  normalizeSpec(spec);
  validateSpec(spec);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Formatting (calendar_spec_to_string)

function formatWeekdays(bits: number): string {
  let out = "";
  let runStart = -1;
  const close = (x: number): void => {
    if (x > runStart + 1) out += (x > runStart + 2 ? ".." : ",") + WEEKDAY_LABELS[x - 1]!;
  };
  for (let x = 0; x < 7; x++) {
    if (bits & (1 << x)) {
      if (runStart < 0) {
        out += (out ? "," : "") + WEEKDAY_LABELS[x]!;
        runStart = x;
      }
    } else if (runStart >= 0) {
      close(x);
      runStart = -1;
    }
  }
  if (runStart >= 0) close(7);
  return out;
}

function formatChain(chain: Chain, width: number, usec: boolean): string {
  if (!chain) return "*";
  const d = usec ? USEC_PER_SEC : 1;
  const only = chain[0];
  if (usec && chain.length === 1 && only?.start === 0 && only.stop < 0 && only.repeat === USEC_PER_SEC)
    return "*";
  const pad = (v: number): string => String(Math.trunc(v / d)).padStart(width, "0");
  const frac = (v: number): string => (v % d > 0 ? "." + String(v % d).padStart(6, "0") : "");
  return chain
    .map((c) => {
      let s = pad(c.start) + frac(c.start);
      if (c.stop > 0) s += ".." + pad(c.stop);
      s += frac(c.stop);
      if (c.repeat > 0 && !(c.stop > 0 && c.repeat === d)) s += "/" + String(Math.trunc(c.repeat / d));
      s += frac(c.repeat);
      return s;
    })
    .join(",");
}

function formatSpec(spec: Spec): string {
  let out = spec.weekdays > 0 && spec.weekdays <= BITS_WEEKDAYS ? formatWeekdays(spec.weekdays) + " " : "";
  out += formatChain(spec.year, 4, false) + "-" + formatChain(spec.month, 2, false);
  out += (spec.endOfMonth ? "~" : "-") + formatChain(spec.day, 2, false) + " ";
  out += formatChain(spec.hour, 2, false) + ":" + formatChain(spec.minute, 2, false) + ":";
  out += formatChain(spec.microsecond, 2, true);
  if (spec.utc) out += " UTC";
  else if (spec.timeZone !== null) out += " " + spec.timeZone;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The search (find_next and friends)

interface Match {
  found: boolean;
  changed: boolean;
  value: number;
}

function findEndOfMonth(clock: Clock, tm: Tm, day: number): number {
  const t: Tm = { ...tm, mon: tm.mon + 1, mday: 1 - day };
  const result = clock.mktime(t);
  if (!result || result.tm.mon !== tm.mon) return -1;
  return result.tm.mday;
}

function findMatchingComponent(spec: Spec, chain: Chain, clock: Clock, tm: Tm, value: number): Match {
  if (!chain) return { found: true, changed: false, value };
  const endOfMonth = spec.endOfMonth && chain === spec.day;
  let best = -1;
  let found = false;
  for (const c of chain) {
    let start = c.start;
    let stop = c.stop;
    if (endOfMonth) {
      start = findEndOfMonth(clock, tm, c.start);
      stop = findEndOfMonth(clock, tm, c.stop);
      if (stop > 0) [start, stop] = [stop, start];
    }
    if (start >= value) {
      if (!found || start < best) {
        best = start;
        found = true;
      }
    } else if (c.repeat > 0) {
      const k = start + c.repeat * Math.ceil((value - start) / c.repeat);
      if ((!found || k < best) && (stop < 0 || k <= stop)) {
        best = k;
        found = true;
      }
    }
  }
  if (!found) return { found: false, changed: false, value };
  return { found: true, changed: best !== value, value: best };
}

/** tm_within_bounds(): -1 out of bounds or going backwards, 0 normalized (tm updated), 1 exact. */
function checkWithinBounds(clock: Clock, tm: Tm): number {
  if (tm.year > MAX_YEAR) return -1;
  const result = clock.mktime(tm);
  if (!result) return -1;
  const t = { ...result.tm };
  let cmp: number;
  // Normalization rolled a unit over: restart the unit below it, or its first value would be skipped.
  if ((cmp = Math.sign(t.year - tm.year)) !== 0) t.mon = 0;
  else if ((cmp = Math.sign(t.mon - tm.mon)) !== 0) t.mday = 1;
  else if ((cmp = Math.sign(t.mday - tm.mday)) !== 0) t.hour = 0;
  else if ((cmp = Math.sign(t.hour - tm.hour)) !== 0) t.min = 0;
  else if ((cmp = Math.sign(t.min - tm.min)) !== 0) t.sec = 0;
  else cmp = Math.sign(t.sec - tm.sec);
  if (cmp < 0) return -1;
  if (cmp > 0) Object.assign(tm, t);
  return cmp === 0 ? 1 : 0;
}

function matchesWeekday(bits: number, clock: Clock, tm: Tm): boolean {
  if (bits < 0 || bits >= BITS_WEEKDAYS) return true;
  const result = clock.mktime(tm);
  if (!result) return false;
  return (bits & (1 << weekdayOf(result.tm))) !== 0;
}

function findNext(spec: Spec, clock: Clock, start: Tm, startUsec: number): { tm: Tm; usec: number } | null {
  const c: Tm = { ...start };
  let usec = startUsec;
  const resetFrom = (unit: "mon" | "mday" | "hour" | "min" | "sec"): void => {
    if (unit === "mon") c.mon = 0;
    if (unit === "mon" || unit === "mday") c.mday = 1;
    if (unit === "mon" || unit === "mday" || unit === "hour") c.hour = 0;
    if (unit !== "sec") c.min = 0;
    c.sec = 0;
    usec = 0;
  };
  for (let iteration = 0; iteration < MAX_CALENDAR_ITERATIONS; iteration++) {
    const normalized = clock.mktime(c);
    if (normalized) Object.assign(c, normalized.tm);
    c.isdst = -1;

    let m = findMatchingComponent(spec, spec.year, clock, c, c.year);
    if (!m.found) return null;
    c.year = m.value;
    if (m.changed) resetFrom("mon");
    if (checkWithinBounds(clock, c) <= 0) return null;

    m = findMatchingComponent(spec, spec.month, clock, c, c.mon + 1);
    if (m.found) c.mon = m.value - 1;
    if (m.changed) resetFrom("mday");
    let r = m.found ? checkWithinBounds(clock, c) : -1;
    if (r < 0) {
      c.year += 1;
      resetFrom("mon");
      continue;
    }
    if (r === 0) continue;

    m = findMatchingComponent(spec, spec.day, clock, c, c.mday);
    if (m.found) c.mday = m.value;
    if (m.changed) resetFrom("hour");
    r = m.found ? checkWithinBounds(clock, c) : -1;
    if (r < 0) {
      c.mon += 1;
      resetFrom("mday");
      continue;
    }
    if (r === 0) continue;

    if (!matchesWeekday(spec.weekdays, clock, c)) {
      c.mday += 1;
      resetFrom("hour");
      continue;
    }

    m = findMatchingComponent(spec, spec.hour, clock, c, c.hour);
    if (m.found) c.hour = m.value;
    if (m.changed) resetFrom("min");
    r = m.found ? checkWithinBounds(clock, c) : -1;
    if (r < 0) {
      c.mday += 1;
      resetFrom("hour");
      continue;
    }
    if (r === 0) continue;

    m = findMatchingComponent(spec, spec.minute, clock, c, c.min);
    if (m.found) c.min = m.value;
    if (m.changed) resetFrom("sec");
    r = m.found ? checkWithinBounds(clock, c) : -1;
    if (r < 0) {
      c.hour += 1;
      resetFrom("min");
      continue;
    }
    if (r === 0) continue;

    m = findMatchingComponent(spec, spec.microsecond, clock, c, c.sec * USEC_PER_SEC + usec);
    usec = m.value % USEC_PER_SEC;
    c.sec = Math.floor(m.value / USEC_PER_SEC);
    r = m.found ? checkWithinBounds(clock, c) : -1;
    if (r < 0) {
      c.min += 1;
      resetFrom("sec");
      continue;
    }
    if (r === 0) continue;

    return { tm: c, usec };
  }
  // systemd gives up here too ("Infinite loop in calendar calculation").
  return null;
}

function createClock(spec: Spec, localRules: () => ZoneRules | null): Clock {
  if (spec.utc) return new Clock(null);
  if (spec.timeZone !== null) return new Clock(getIntlRules(spec.timeZone));
  return new Clock(localRules());
}

/** calendar_spec_next_usec(): the first elapse strictly after `after`, both in microseconds. */
function nextElapseMicros(spec: Spec, localRules: () => ZoneRules | null, after: number): number | null {
  if (after < 0 || after / USEC_PER_SEC >= FORMATTABLE_MAX_SECONDS + 1) return null;
  const usec = after + 1;
  const clock = createClock(spec, localRules);
  const base = clock.localtime(Math.floor(usec / USEC_PER_SEC));
  const found = findNext(spec, clock, base, usec % USEC_PER_SEC);
  if (!found) return null;
  const result = clock.mktime(found.tm);
  if (!result) return null;
  return result.t * USEC_PER_SEC + found.usec;
}

// ---------------------------------------------------------------------------------------------
// Cron

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const CRON_FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const CRON_HINT = "cron has 5 fields: minute hour day-of-month month day-of-week, e.g. '30 2 * * MON-FRI'";

function parseCronValue(token: string, field: CronField): number {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value < field.min || value > field.max) {
      fail(
        `${field.name} ${value} is out of range`,
        `${field.name} must be within ${field.min}..${field.max}`,
      );
    }
    return value;
  }
  const index = field.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index < 0) fail(`unknown ${field.name} "${token}"`, CRON_HINT);
  return index + field.min;
}

function parseCronField(text: string, field: CronField): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(",")) {
    const [range = "", step, extra] = item.split("/");
    if (range === "" || extra !== undefined) fail(`malformed ${field.name} "${text}"`, CRON_HINT);
    let every = 1;
    if (step !== undefined) {
      if (!/^\d+$/.test(step) || Number(step) < 1)
        fail(`bad step "${step}" in ${field.name}`, "steps are positive numbers, e.g. '*/15'");
      every = Number(step);
    }
    let low: number;
    let high: number;
    if (range === "*") {
      low = field.min;
      high = field.max;
    } else if (range.includes("-")) {
      const [a = "", b = "", more] = range.split("-");
      if (more !== undefined) fail(`malformed range "${range}" in ${field.name}`, CRON_HINT);
      low = parseCronValue(a, field);
      high = parseCronValue(b, field);
      if (low > high)
        fail(`${field.name} range "${range}" goes backwards`, "cron ranges go from low to high, e.g. '1-5'");
    } else {
      low = parseCronValue(range, field);
      high = step === undefined ? low : field.max;
    }
    for (let v = low; v <= high; v += every) values.add(v);
  }
  return values;
}

/** A value set in OnCalendar syntax: "*", "a..b", "a/n", "a..b/n" or a list. */
function renderValues(values: readonly number[], min: number, max: number): string {
  const first = values[0];
  const last = values[values.length - 1];
  if (first === undefined || last === undefined) return "*";
  if (values.length === max - min + 1) return "*";
  if (values.length >= 3 || (values.length === 2 && last + (last - first) > max)) {
    const step = (values[1] ?? first) - first;
    if (values.every((v, i) => v === first + i * step)) {
      if (step === 1) return `${first}..${last}`;
      if (last + step > max && first + step <= max) return `${first}/${step}`;
      return `${first}..${last}/${step}`;
    }
  }
  const runs: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    runs.push(j > i ? `${values[i]}..${values[j]}` : String(values[i]));
    i = j + 1;
  }
  return runs.join(",");
}

function renderWeekdays(days: ReadonlySet<number>): string {
  return [1, 2, 3, 4, 5, 6, 0]
    .filter((d) => days.has(d))
    .map((d) => WEEKDAY_LABELS[(d + 6) % 7]!)
    .join(",");
}

/** The OnCalendar expressions (one, or two for the day OR rule) equal to a 5-field cron expression. */
function convertCron(expression: string): string[] {
  const trimmed = expression.trim();
  const macro = trimmed.startsWith("@") ? CRON_MACROS[trimmed.toLowerCase()] : undefined;
  if (trimmed.startsWith("@") && macro === undefined) {
    fail(
      `unknown cron macro "${trimmed}"`,
      "supported macros: @yearly @annually @monthly @weekly @daily @midnight @hourly",
    );
  }
  const fields = (macro ?? trimmed).split(/\s+/);
  if (fields.length !== 5) fail(`cron needs 5 fields, got ${fields.length}`, CRON_HINT);
  const [minuteText = "", hourText = "", domText = "", monthText = "", dowText = ""] = fields;
  const [minuteField, hourField, domField, monthField, dowField] = CRON_FIELDS as [
    CronField,
    CronField,
    CronField,
    CronField,
    CronField,
  ];
  const sorted = (set: Set<number>): number[] => [...set].sort((a, b) => a - b);
  const minutes = renderValues(sorted(parseCronField(minuteText, minuteField)), 0, 59);
  const hours = renderValues(sorted(parseCronField(hourText, hourField)), 0, 23);
  const doms = renderValues(sorted(parseCronField(domText, domField)), 1, 31);
  const months = renderValues(sorted(parseCronField(monthText, monthField)), 1, 12);
  const dows = new Set([...parseCronField(dowText, dowField)].map((d) => d % 7));
  const weekdays = dows.size === 7 ? "" : renderWeekdays(dows) + " ";
  const time = `${hours}:${minutes}:00`;
  // Vixie cron: a field starting with "*" counts as unrestricted; with both restricted, either may match.
  if (domText.startsWith("*") || dowText.startsWith("*")) return [`${weekdays}*-${months}-${doms} ${time}`];
  return [`*-${months}-${doms} ${time}`, `${weekdays}*-${months}-* ${time}`];
}

// ---------------------------------------------------------------------------------------------
// Public API

const microsFinders = new WeakMap<CalendarSchedule, (afterMicros: number) => number | null>();

export function isCronExpression(expression: string): boolean {
  const trimmed = expression.trim();
  if (/^@[a-z]+$/i.test(trimmed)) return true;
  return trimmed.split(/\s+/).length === 5;
}

function resolveLocalRules(options: ParseScheduleOptions): () => ZoneRules | null {
  const zone = options.localTimeZone;
  if (zone === undefined) {
    let system: ZoneRules | null = null;
    return () => (system ??= createSystemRules());
  }
  if (isUtcName(zone)) return () => null;
  if (!isValidTimeZone(zone)) {
    throw new CalendarError(
      zone,
      `unknown local time zone "${zone}"`,
      "use UTC or an IANA name such as Europe/Berlin",
    );
  }
  return () => getIntlRules(zone);
}

function toDate(micros: number): Date {
  // Round up so the returned instant is never before the elapse (and stays after `after`).
  return new Date(Math.ceil(micros / 1000));
}

function looksLikeTimeZone(word: string): boolean {
  const lower = word.toLowerCase();
  if (WEEKDAY_NAMES.some(([name]) => lower.startsWith(name)) || SHORTHANDS[lower] !== undefined) return false;
  return /^[A-Za-z][\w+/-]*$/.test(word);
}

function explainFailure(expression: string, failure: ParseFailure): CalendarError {
  const fields = expression.trim().split(/\s+/);
  const last = fields[fields.length - 1] ?? "";
  let hint = failure.hint;
  if (expression.includes("*/")) {
    hint = STAR_SLASH_HINT;
  } else if (fields.length > 1 && looksLikeTimeZone(last) && !isValidTimeZone(last)) {
    hint = `"${last}" is not a known time zone; use UTC or an IANA name such as Europe/Berlin`;
  } else if (fields.length === 6 || fields.length === 7) {
    hint = `this looks like cron with ${fields.length} fields (seconds or years); holdfast accepts 5-field cron: minute hour day-of-month month day-of-week`;
  } else if (expression !== expression.trim()) {
    hint = "remove the spaces around the expression";
  }
  return new CalendarError(expression, failure.message, hint);
}

export function parseSchedule(expression: string, options: ParseScheduleOptions = {}): CalendarSchedule {
  const localRules = resolveLocalRules(options);
  let specs: Spec[];
  const kind: CalendarSchedule["kind"] = isCronExpression(expression) ? "cron" : "oncalendar";
  let onCalendar: string[];
  try {
    specs = kind === "cron" ? convertCron(expression).map(parseOnCalendar) : [parseOnCalendar(expression)];
    onCalendar = specs.map(formatSpec);
  } catch (error) {
    if (error instanceof ParseFailure) {
      throw kind === "cron"
        ? new CalendarError(expression, error.message, error.hint)
        : explainFailure(expression, error);
    }
    throw error;
  }
  const first = specs[0]!;
  const nextMicros = (after: number): number | null => {
    let best: number | null = null;
    for (const spec of specs) {
      const candidate = nextElapseMicros(spec, localRules, after);
      if (candidate !== null && (best === null || candidate < best)) best = candidate;
    }
    return best;
  };
  const schedule: CalendarSchedule = {
    expression,
    kind,
    normalized: onCalendar.join("; "),
    timeZone: first.utc ? "UTC" : first.timeZone,
    onCalendar,
    next(after: Date): Date | null {
      const ms = after.getTime();
      if (Number.isNaN(ms)) throw new RangeError("next() needs a valid Date");
      const micros = nextMicros(ms * 1000);
      return micros === null ? null : toDate(micros);
    },
  };
  microsFinders.set(schedule, nextMicros);
  return schedule;
}

export function nextElapses(schedule: CalendarSchedule, from: Date, count: number): Date[] {
  const elapses: Date[] = [];
  const nextMicros = microsFinders.get(schedule);
  if (!nextMicros) {
    let cursor: Date | null = from;
    while (elapses.length < count && (cursor = schedule.next(cursor)) !== null) elapses.push(cursor);
    return elapses;
  }
  const ms = from.getTime();
  if (Number.isNaN(ms)) throw new RangeError("nextElapses() needs a valid Date");
  // Chain in microseconds, as systemd does, so sub-millisecond repetitions are not collapsed.
  let cursor: number | null = ms * 1000;
  while (elapses.length < count && (cursor = nextMicros(cursor)) !== null) elapses.push(toDate(cursor));
  return elapses;
}
