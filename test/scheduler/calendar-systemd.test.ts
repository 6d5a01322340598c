// Conformance: the calendar engine must agree with `systemd-analyze calendar` on normalized forms,
// on the next elapses from many base times (in UTC and in Europe/Berlin), and on what it rejects.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

import { beforeAll, describe, expect, it } from "vitest";

import {
  CalendarError,
  nextElapses,
  parseSchedule,
  type CalendarSchedule,
} from "../../src/scheduler/calendar.js";

const ITERATIONS = 5;
const ZONES = ["UTC", "Europe/Berlin"] as const;
type Zone = (typeof ZONES)[number];

// Ordinary days, month and year ends, leap days, far future, and both sides of the DST transitions of
// Europe/Berlin, America/New_York, Australia/Sydney and Lord Howe, Santiago, Havana, Casablanca, Chatham.
const BASES = [
  "2026-11-26 09:00:00 UTC",
  "2026-11-26 09:00:00.5 UTC",
  "2026-01-01 00:00:00 UTC",
  "2026-01-31 23:59:59 UTC",
  "2026-02-14 12:00:00 UTC",
  "2026-02-28 12:00:00 UTC",
  "2026-03-07 23:00:00 UTC",
  "2026-03-08 06:30:00 UTC",
  "2026-03-21 12:00:00 UTC",
  "2026-03-28 23:00:00 UTC",
  "2026-03-29 00:59:59 UTC",
  "2026-04-04 14:00:00 UTC",
  "2026-04-04 20:00:00 UTC",
  "2026-06-15 12:34:56 UTC",
  "2026-09-05 20:00:00 UTC",
  "2026-09-26 12:00:00 UTC",
  "2026-10-03 15:00:00 UTC",
  "2026-10-24 23:30:00 UTC",
  "2026-10-25 00:30:00 UTC",
  "2026-10-25 01:30:00 UTC",
  "2026-11-01 05:30:00 UTC",
  "2026-12-31 23:59:59 UTC",
  "2027-03-28 00:00:00 UTC",
  "2028-02-28 23:00:00 UTC",
  "2030-01-01 00:00:00 UTC",
  "2099-12-31 23:00:00 UTC",
  "2199-12-31 22:00:00 UTC",
];

// Cron is compared through its OnCalendar translation; the day-of-month/day-of-week OR cases are
// compared with the union of their two translations.
const CRON_EXPRESSIONS = [
  "0 3 * * *",
  "30 2 * * *",
  "*/15 * * * *",
  "*/7 * * * *",
  "5-10/2 * * * *",
  "0 */6 * * *",
  "15 8-18 * * *",
  "0 9 * * MON-FRI",
  "0 9 * * 1-5",
  "0 12 * * 1,3,5",
  "0 0 * * 0",
  "0 0 * * 7",
  "0 0 * * SAT,SUN",
  "30 2 1 JAN *",
  "0 0 1,15 * *",
  "0 0 1 */3 *",
  "0 0 31 * *",
  "0 0 29 2 *",
  "0 0 */2 * MON",
  "0 4 1-7 * *",
  "0 0 28-31 * *",
  "45 23 * DEC *",
  "0 2 * mar-oct sun",
  "@hourly",
  "@daily",
  "@weekly",
  "@monthly",
  "@yearly",
  "0 0 13 * FRI",
  "0 0 1 * MON",
  "30 6 1,15 * 1-5",
];

type SystemdResult =
  | { kind: "rejected" }
  | { kind: "elapses"; normalized: string; elapses: number[] }
  | { kind: "failed"; normalized: string | null; elapses: number[] };

function readCorpus(): { valid: string[]; invalid: string[] } {
  const text = readFileSync(new URL("../fixtures/calendar/expressions.txt", import.meta.url), "utf8");
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("!")) invalid.push(line.slice(1));
    else valid.push(line);
  }
  return { valid, invalid };
}

function isSystemdAnalyzeAvailable(): boolean {
  const probe = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  return probe.status === 0;
}

function parseUtcSeconds(text: string): number | null {
  const m = /(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
}

/** Reads systemd-analyze's table: a block per accepted expression, keyed by its original form. */
function parseCalendarOutput(stdout: string): Map<string, { normalized: string; elapses: number[] }> {
  const blocks = new Map<string, { normalized: string; elapses: number[] }>();
  let original: string | null = null;
  let current: { normalized: string; elapses: number[] } | null = null;
  for (const line of stdout.split("\n")) {
    const m = /^\s*(Original form|Normalized form|Next elapse|Iter\. #\d+|\(in UTC\)|From now): (.*)$/.exec(
      line,
    );
    if (!m) continue;
    const [, field = "", value = ""] = m;
    if (field === "Original form") {
      original = value;
    } else if (field === "Normalized form") {
      current = { normalized: value, elapses: [] };
      blocks.set(original ?? value, current);
      original = null;
    } else if (field === "(in UTC)" && current) {
      current.elapses[current.elapses.length - 1] = parseUtcSeconds(value) ?? Number.NaN;
    } else if (field !== "From now" && current && value !== "never") {
      // Outside UTC the main line shows local time and an "(in UTC)" line follows to replace it.
      current.elapses.push(parseUtcSeconds(value) ?? Number.NaN);
    }
  }
  return blocks;
}

function runCalendar(zone: Zone, base: string, expressions: readonly string[], iterations = ITERATIONS) {
  return [
    "systemd-analyze",
    ["--no-pager", "calendar", `--iterations=${iterations}`, `--base-time=${base}`, "--", ...expressions],
    { env: { ...process.env, TZ: zone, LC_ALL: "C", SYSTEMD_COLORS: "0" } },
  ] as const;
}

function collectResults(
  zone: Zone,
  base: string,
  expressions: readonly string[],
  stdout: string,
  stderr: string,
) {
  const blocks = parseCalendarOutput(stdout);
  const failed = new Set(
    [...stderr.matchAll(/Failed to determine next elapse for '(.*)': /g)].map((m) => m[1]),
  );
  const results = new Map<string, SystemdResult>();
  for (const expression of expressions) {
    const block = blocks.get(expression);
    if (block) {
      if (block.elapses.some(Number.isNaN))
        throw new Error(`unparsed elapse for "${expression}" in:\n${stdout}`);
      results.set(expression, { kind: "elapses", ...block });
    } else if (failed.has(expression)) {
      results.set(expression, { kind: "failed", ...findElapsesBeforeFailure(zone, base, expression) });
    } else {
      results.set(expression, { kind: "rejected" });
    }
  }
  return results;
}

/** systemd prints nothing when a later iteration gives up, so ask for fewer to see the ones before. */
function findElapsesBeforeFailure(zone: Zone, base: string, expression: string) {
  for (let n = ITERATIONS - 1; n >= 1; n--) {
    const [command, args, options] = runCalendar(zone, base, [expression], n);
    const run = spawnSync(command, args, { ...options, encoding: "utf8" });
    const block = parseCalendarOutput(run.stdout).get(expression);
    if (block) return block;
  }
  return { normalized: null, elapses: [] };
}

function runCalendarAsync(
  zone: Zone,
  base: string,
  expressions: readonly string[],
): Promise<Map<string, SystemdResult>> {
  const [command, args, options] = runCalendar(zone, base, expressions);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", () => {
      try {
        resolve(collectResults(zone, base, expressions, stdout, stderr));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

async function runAll<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let nextTask = 0;
  const worker = async (): Promise<void> => {
    while (nextTask < tasks.length) {
      const index = nextTask++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

function toBaseDate(base: string): Date {
  return new Date(base.replace(" UTC", "Z").replace(" ", "T"));
}

function tryParse(expression: string, zone: Zone): CalendarSchedule | CalendarError {
  try {
    return parseSchedule(expression, { localTimeZone: zone });
  } catch (error) {
    if (error instanceof CalendarError) return error;
    throw error;
  }
}

function oursInSeconds(schedule: CalendarSchedule, base: string): number[] {
  return nextElapses(schedule, toBaseDate(base), ITERATIONS).map((d) => Math.floor(d.getTime() / 1000));
}

function formatSeconds(seconds: readonly number[]): string {
  return seconds.map((s) => new Date(s * 1000).toISOString().slice(0, 19)).join(" ") || "never";
}

const corpus = readCorpus();
const available = isSystemdAnalyzeAvailable();
const cronSchedules = new Map(
  ZONES.map((zone) => [
    zone,
    new Map(CRON_EXPRESSIONS.map((cron) => [cron, parseSchedule(cron, { localTimeZone: zone })])),
  ]),
);
const cronForms = [
  ...new Set([...cronSchedules.values()].flatMap((m) => [...m.values()].flatMap((s) => [...s.onCalendar]))),
];
const allExpressions = [...new Set([...corpus.valid, ...corpus.invalid, ...cronForms])];

describe("conformance corpus", () => {
  it("is large enough and has no duplicates", () => {
    expect(corpus.valid.length).toBeGreaterThanOrEqual(200);
    expect(corpus.invalid.length).toBeGreaterThanOrEqual(20);
    expect(BASES.length).toBeGreaterThanOrEqual(20);
    expect(CRON_EXPRESSIONS.length).toBeGreaterThanOrEqual(20);
    expect(new Set([...corpus.valid, ...corpus.invalid]).size).toBe(
      corpus.valid.length + corpus.invalid.length,
    );
  });
});

const title = available
  ? "agreement with systemd-analyze calendar"
  : "agreement with systemd-analyze calendar (SKIPPED: systemd-analyze is not installed)";
if (!available) console.warn("calendar conformance skipped: systemd-analyze not found on PATH");

describe.skipIf(!available)(title, () => {
  const systemd = new Map<string, Map<string, SystemdResult>>();
  const ours = new Map<Zone, Map<string, CalendarSchedule | CalendarError>>();
  let compared = 0;

  beforeAll(async () => {
    const combos = ZONES.flatMap((zone) => BASES.map((base) => ({ zone, base })));
    const results = await runAll(
      combos.map(
        ({ zone, base }) =>
          () =>
            runCalendarAsync(zone, base, allExpressions),
      ),
      Math.max(4, 2 * availableParallelism()),
    );
    combos.forEach(({ zone, base }, i) => systemd.set(`${zone}|${base}`, results[i]!));
    for (const zone of ZONES) ours.set(zone, new Map(allExpressions.map((e) => [e, tryParse(e, zone)])));
  }, 120_000);

  function systemdResult(zone: Zone, base: string, expression: string): SystemdResult {
    const result = systemd.get(`${zone}|${base}`)?.get(expression);
    if (!result) throw new Error(`no systemd result for "${expression}"`);
    return result;
  }

  it.each(corpus.valid)("%s", (expression) => {
    const mismatches: string[] = [];
    for (const zone of ZONES) {
      const schedule = ours.get(zone)?.get(expression);
      for (const base of BASES) {
        const expected = systemdResult(zone, base, expression);
        const where = `[TZ=${zone} base ${base}]`;
        if (expected.kind === "rejected") {
          mismatches.push(`${where} systemd rejects it`);
          continue;
        }
        if (!schedule || schedule instanceof CalendarError) {
          mismatches.push(`${where} ours rejects it: ${schedule?.message ?? "not parsed"}`);
          continue;
        }
        if (expected.normalized !== null && schedule.normalized !== expected.normalized) {
          mismatches.push(
            `${where} normalized: systemd "${expected.normalized}", ours "${schedule.normalized}"`,
          );
        }
        const actual = oursInSeconds(schedule, base);
        if (formatSeconds(actual) !== formatSeconds(expected.elapses)) {
          mismatches.push(
            `${where}\n  systemd ${formatSeconds(expected.elapses)}\n  ours    ${formatSeconds(actual)}`,
          );
        }
        compared += 1;
      }
    }
    expect(mismatches).toEqual([]);
  });

  it.each(corpus.invalid)("rejects %s", (expression) => {
    for (const zone of ZONES) {
      expect(systemdResult(zone, BASES[0]!, expression).kind).toBe("rejected");
      expect(ours.get(zone)?.get(expression)).toBeInstanceOf(CalendarError);
    }
  });

  it.each(CRON_EXPRESSIONS)("cron %s", (cron) => {
    const mismatches: string[] = [];
    for (const zone of ZONES) {
      const schedule = cronSchedules.get(zone)?.get(cron);
      if (!schedule) throw new Error(`cron "${cron}" not parsed`);
      for (const base of BASES) {
        const merged = new Set<number>();
        for (const form of schedule.onCalendar) {
          const expected = systemdResult(zone, base, form);
          if (expected.kind !== "elapses" || expected.normalized !== form) {
            mismatches.push(`[TZ=${zone}] systemd does not reproduce "${form}": ${JSON.stringify(expected)}`);
            continue;
          }
          for (const s of expected.elapses) merged.add(s);
        }
        const union = [...merged].sort((a, b) => a - b).slice(0, ITERATIONS);
        const actual = oursInSeconds(schedule, base);
        if (formatSeconds(actual) !== formatSeconds(union)) {
          mismatches.push(
            `[TZ=${zone} base ${base}]\n  systemd ${formatSeconds(union)}\n  ours    ${formatSeconds(actual)}`,
          );
        }
        compared += 1;
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("compared every expression at every base time in both zones", () => {
    const expected = (corpus.valid.length + CRON_EXPRESSIONS.length) * BASES.length * ZONES.length;
    console.log(
      `calendar conformance: ${corpus.valid.length} OnCalendar + ${CRON_EXPRESSIONS.length} cron expressions × ` +
        `${BASES.length} base times × ${ZONES.length} zones = ${compared} comparisons; ${corpus.invalid.length} invalid rejected by both`,
    );
    expect(compared).toBe(expected);
  });
});
