import { describe, expect, it } from "vitest";

import { CalendarError, isCronExpression, nextElapses, parseSchedule } from "./calendar.js";

const BASE = new Date("2026-11-26T09:00:00Z");
const UTC = { localTimeZone: "UTC" };

function iso(dates: readonly Date[]): string[] {
  return dates.map((d) => d.toISOString().replace(".000Z", "Z"));
}

function elapses(expression: string, from: Date = BASE, count = 3, localTimeZone = "UTC"): string[] {
  return iso(nextElapses(parseSchedule(expression, { localTimeZone }), from, count));
}

function parseError(expression: string): CalendarError {
  try {
    parseSchedule(expression, UTC);
  } catch (error) {
    if (error instanceof CalendarError) return error;
    throw error;
  }
  throw new Error(`"${expression}" was accepted`);
}

// Known answers, taken from `systemd-analyze calendar --base-time='2026-11-26 09:00:00 UTC'` (systemd 252, TZ=UTC).
const KNOWN: readonly [string, string, string[]][] = [
  [
    "*-*-* 03:00:00",
    "*-*-* 03:00:00",
    ["2026-11-27T03:00:00Z", "2026-11-28T03:00:00Z", "2026-11-29T03:00:00Z"],
  ],
  [
    "Mon..Fri 09:00",
    "Mon..Fri *-*-* 09:00:00",
    ["2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"],
  ],
  [
    "Sat,Sun 10:00",
    "Sat,Sun *-*-* 10:00:00",
    ["2026-11-28T10:00:00Z", "2026-11-29T10:00:00Z", "2026-12-05T10:00:00Z"],
  ],
  ["*:0/15", "*-*-* *:00/15:00", ["2026-11-26T09:15:00Z", "2026-11-26T09:30:00Z", "2026-11-26T09:45:00Z"]],
  ["*-*~01", "*-*~01 00:00:00", ["2026-11-30T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"]],
  [
    "*-02~03/2",
    "*-02~03/2 00:00:00",
    ["2027-02-26T00:00:00Z", "2027-02-28T00:00:00Z", "2028-02-27T00:00:00Z"],
  ],
  [
    "quarterly",
    "*-01,04,07,10-01 00:00:00",
    ["2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z", "2027-07-01T00:00:00Z"],
  ],
  [
    "*-*-* *:*:10.5",
    "*-*-* *:*:10.500000",
    ["2026-11-26T09:00:10.500Z", "2026-11-26T09:01:10.500Z", "2026-11-26T09:02:10.500Z"],
  ],
  [
    "Mon *-02-29",
    "Mon *-02-29 00:00:00",
    ["2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z", "2112-02-29T00:00:00Z"],
  ],
  [
    "Fri *-*-13",
    "Fri *-*-13 00:00:00",
    ["2027-08-13T00:00:00Z", "2028-10-13T00:00:00Z", "2029-04-13T00:00:00Z"],
  ],
  ["hourly", "*-*-* *:00:00", ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z", "2026-11-26T12:00:00Z"]],
  ["weekly", "Mon *-*-* 00:00:00", ["2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z"]],
  [
    "*-*-* 1..2/3:00",
    "*-*-* 01:00:00",
    ["2026-11-27T01:00:00Z", "2026-11-28T01:00:00Z", "2026-11-29T01:00:00Z"],
  ],
  ["@1790000000", "2026-09-21 14:13:20 UTC", []],
  ["2020-01-01", "2020-01-01 00:00:00", []],
  ["*-02-30", "*-02-30 00:00:00", []],
];

describe("parseSchedule (OnCalendar)", () => {
  it.each(KNOWN)("%s", (expression, normalized, expected) => {
    const schedule = parseSchedule(expression, UTC);
    expect(schedule.kind).toBe("oncalendar");
    expect(schedule.normalized).toBe(normalized);
    expect(schedule.onCalendar).toEqual([normalized]);
    expect(iso(nextElapses(schedule, BASE, 3))).toEqual(expected);
  });

  it("returns the first elapse strictly after the given instant", () => {
    const schedule = parseSchedule("*-*-* 03:00:00", UTC);
    expect(schedule.next(new Date("2026-11-27T03:00:00Z"))?.toISOString()).toBe("2026-11-28T03:00:00.000Z");
    expect(schedule.next(new Date("2026-11-27T02:59:59.999Z"))?.toISOString()).toBe(
      "2026-11-27T03:00:00.000Z",
    );
  });

  it("returns null and an empty list when nothing elapses any more", () => {
    expect(parseSchedule("2020-01-01", UTC).next(BASE)).toBeNull();
    expect(parseSchedule("*-02-30", UTC).next(BASE)).toBeNull();
    expect(nextElapses(parseSchedule("2026-12-24..25 18:00", UTC), BASE, 5)).toHaveLength(2);
  });

  it("stops at the year 2199 as systemd does", () => {
    expect(elapses("*-01-01 00:00", new Date("2198-06-01T00:00:00Z"), 5)).toEqual(["2199-01-01T00:00:00Z"]);
  });

  it("chains sub-millisecond repetitions in microseconds instead of collapsing them", () => {
    const dates = nextElapses(parseSchedule("*-*-* *:*:0/0.25", UTC), BASE, 5);
    expect(iso(dates)).toEqual([
      "2026-11-26T09:00:00.250Z",
      "2026-11-26T09:00:00.500Z",
      "2026-11-26T09:00:00.750Z",
      "2026-11-26T09:00:01Z",
      "2026-11-26T09:00:01.250Z",
    ]);
  });

  it("reports the time zone it evaluates in", () => {
    expect(parseSchedule("daily UTC").timeZone).toBe("UTC");
    expect(parseSchedule("daily Europe/Berlin").timeZone).toBe("Europe/Berlin");
    expect(parseSchedule("daily").timeZone).toBeNull();
  });

  it("uses the process's zone for expressions without one", () => {
    const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const implicit = nextElapses(parseSchedule("*-*-* 03:00"), BASE, 3);
    const explicit = nextElapses(parseSchedule("*-*-* 03:00", { localTimeZone: local }), BASE, 3);
    expect(iso(implicit)).toEqual(iso(explicit));
  });

  it("rejects an invalid Date", () => {
    expect(() => parseSchedule("daily", UTC).next(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe("daylight saving time in Europe/Berlin", () => {
  it("skips a time that falls into the spring-forward gap", () => {
    expect(elapses("*-*-* 02:30 Europe/Berlin", new Date("2026-03-28T12:00:00Z"))).toEqual([
      "2026-03-30T00:30:00Z",
      "2026-03-31T00:30:00Z",
      "2026-04-01T00:30:00Z",
    ]);
  });

  it("fires once, at the first occurrence, for a time repeated when the clocks go back", () => {
    expect(elapses("*-*-* 02:30 Europe/Berlin", new Date("2026-10-24T12:00:00Z"))).toEqual([
      "2026-10-25T00:30:00Z",
      "2026-10-26T01:30:00Z",
      "2026-10-27T01:30:00Z",
    ]);
  });

  it("follows the offset change for a fixed local time", () => {
    expect(elapses("*-*-* 03:00 Europe/Berlin", new Date("2026-03-28T12:00:00Z"), 2)).toEqual([
      "2026-03-29T01:00:00Z",
      "2026-03-30T01:00:00Z",
    ]);
    expect(elapses("*-*-* 03:00 Europe/Berlin", new Date("2026-10-24T12:00:00Z"), 2)).toEqual([
      "2026-10-25T02:00:00Z",
      "2026-10-26T02:00:00Z",
    ]);
  });

  it("skips the repeated hour for hourly in local time, as systemd does", () => {
    expect(elapses("hourly", new Date("2026-10-24T23:30:00Z"), 4, "Europe/Berlin")).toEqual([
      "2026-10-25T00:00:00Z",
      "2026-10-25T02:00:00Z",
      "2026-10-25T03:00:00Z",
      "2026-10-25T04:00:00Z",
    ]);
    expect(elapses("*:30", new Date("2026-03-29T00:30:00Z"), 3, "Europe/Berlin")).toEqual([
      "2026-03-29T01:30:00Z",
      "2026-03-29T02:30:00Z",
      "2026-03-29T03:30:00Z",
    ]);
  });
});

describe("errors", () => {
  it.each([
    ["*-*-* */2:00", /0\/2/],
    ["*-*-* 24:00", /hour must be within 0\.\.23/],
    ["*-13-01", /month must be within 1\.\.12/],
    ["Fri..Mon", /forwards/],
    ["Mond", /weekdays are/],
    ["*-*~29", /month end/],
    ["*-*-* 03:00 Mars/Olympus", /not a known time zone/],
    ["Mon Fri", /^(?!.*time zone)/],
    ["0 3 * * * *", /5-field cron/],
    [" daily", /spaces/],
    ["@reboot", /supported macros/],
    ["61 * * * *", /minute must be within 0\.\.59/],
    ["0 0 * * MON-SUNDAY", /cron has 5 fields/],
    ["0 0 5-1 * *", /low to high/],
    ["*-*-* *:*:10..10.5", /repetition explicitly/],
  ])("%s", (expression, hint) => {
    const error = parseError(expression);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("CalendarError");
    expect(error.expression).toBe(expression);
    expect(error.message).toContain(expression);
    expect(error.hint).toMatch(hint);
  });

  it("rejects an unknown local time zone", () => {
    expect(() => parseSchedule("daily", { localTimeZone: "Nowhere/Land" })).toThrow(CalendarError);
  });
});

describe("cron", () => {
  it.each([
    ["0 3 * * *", true],
    ["@daily", true],
    ["@reboot", true],
    ["*/5 * * * *", true],
    ["*-*-* 03:00:00", false],
    ["Mon..Fri 09:00 Europe/Berlin", false],
    ["@1790000000", false],
    ["daily", false],
  ])("isCronExpression(%s) is %s", (expression, expected) => {
    expect(isCronExpression(expression)).toBe(expected);
  });

  // Known answers from the 2026-11-26 09:00 UTC base, evaluated in UTC.
  const CRON: readonly [string, string, string[]][] = [
    ["0 3 * * *", "*-*-* 03:00:00", ["2026-11-27T03:00:00Z", "2026-11-28T03:00:00Z", "2026-11-29T03:00:00Z"]],
    [
      "*/15 * * * *",
      "*-*-* *:00/15:00",
      ["2026-11-26T09:15:00Z", "2026-11-26T09:30:00Z", "2026-11-26T09:45:00Z"],
    ],
    [
      "5-10/2 * * * *",
      "*-*-* *:05..09/2:00",
      ["2026-11-26T09:05:00Z", "2026-11-26T09:07:00Z", "2026-11-26T09:09:00Z"],
    ],
    [
      "0 */6 * * *",
      "*-*-* 00/6:00:00",
      ["2026-11-26T12:00:00Z", "2026-11-26T18:00:00Z", "2026-11-27T00:00:00Z"],
    ],
    [
      "0 9 * * MON-FRI",
      "Mon..Fri *-*-* 09:00:00",
      ["2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"],
    ],
    [
      "0 12 * * 1,3,5",
      "Mon,Wed,Fri *-*-* 12:00:00",
      ["2026-11-27T12:00:00Z", "2026-11-30T12:00:00Z", "2026-12-02T12:00:00Z"],
    ],
    [
      "0 0 * * 7",
      "Sun *-*-* 00:00:00",
      ["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"],
    ],
    [
      "30 2 1 JAN *",
      "*-01-01 02:30:00",
      ["2027-01-01T02:30:00Z", "2028-01-01T02:30:00Z", "2029-01-01T02:30:00Z"],
    ],
    [
      "0 0 1,15 * *",
      "*-*-01,15 00:00:00",
      ["2026-12-01T00:00:00Z", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z"],
    ],
    [
      "0 0 1 */3 *",
      "*-01/3-01 00:00:00",
      ["2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z", "2027-07-01T00:00:00Z"],
    ],
    [
      "0 0 31 * *",
      "*-*-31 00:00:00",
      ["2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z", "2027-03-31T00:00:00Z"],
    ],
    ["0 0 30 2 *", "*-02-30 00:00:00", []],
    ["@hourly", "*-*-* *:00:00", ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z", "2026-11-26T12:00:00Z"]],
    [
      "@weekly",
      "Sun *-*-* 00:00:00",
      ["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"],
    ],
    ["@yearly", "*-01-01 00:00:00", ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"]],
    // A field starting with "*" counts as unrestricted (Vixie cron), so these AND the day fields.
    [
      "0 0 */2 * MON",
      "Mon *-*-01/2 00:00:00",
      ["2026-12-07T00:00:00Z", "2026-12-21T00:00:00Z", "2027-01-11T00:00:00Z"],
    ],
    [
      "0 0 * * SAT,SUN",
      "Sat,Sun *-*-* 00:00:00",
      ["2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "2026-12-05T00:00:00Z"],
    ],
  ];

  it.each(CRON)("%s", (expression, normalized, expected) => {
    const schedule = parseSchedule(expression, UTC);
    expect(schedule.kind).toBe("cron");
    expect(schedule.normalized).toBe(normalized);
    expect(schedule.timeZone).toBeNull();
    expect(iso(nextElapses(schedule, BASE, 3))).toEqual(expected);
  });

  it("fires on either day field when both are restricted (the OR rule)", () => {
    const schedule = parseSchedule("0 0 13 * FRI", UTC);
    expect(schedule.onCalendar).toEqual(["*-*-13 00:00:00", "Fri *-*-* 00:00:00"]);
    expect(schedule.normalized).toBe("*-*-13 00:00:00; Fri *-*-* 00:00:00");
    expect(iso(nextElapses(schedule, BASE, 5))).toEqual([
      "2026-11-27T00:00:00Z",
      "2026-12-04T00:00:00Z",
      "2026-12-11T00:00:00Z",
      "2026-12-13T00:00:00Z",
      "2026-12-18T00:00:00Z",
    ]);
  });

  it("treats an explicit full weekday range as restricted, so every day matches", () => {
    expect(elapses("0 0 1 * 0-6")).toEqual([
      "2026-11-27T00:00:00Z",
      "2026-11-28T00:00:00Z",
      "2026-11-29T00:00:00Z",
    ]);
  });

  it("evaluates in the local zone", () => {
    expect(elapses("0 3 * * *", new Date("2026-06-01T00:00:00Z"), 1, "Europe/Berlin")).toEqual([
      "2026-06-01T01:00:00Z",
    ]);
  });
});
