import {
  CalendarError,
  nextElapses,
  parseSchedule,
  type CalendarSchedule,
} from "../../scheduler/calendar.js";
import { UsageError } from "../../errors.js";
import type { GlobalOptions } from "../context.js";
import { printJson } from "../output.js";

interface NextFlags {
  count?: string;
  from?: string;
  json?: boolean;
}

const MAX_COUNT = 1000;

export default function scheduleNext(
  _global: GlobalOptions,
  expression: string,
  flags: NextFlags,
): Promise<number> {
  const count = flags.count === undefined ? 5 : Number(flags.count);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw new UsageError(
      `--count ${flags.count} is not a whole number from 1 to ${MAX_COUNT}`,
      "e.g. --count 10",
    );
  }
  let from = new Date();
  if (flags.from !== undefined) {
    from = new Date(flags.from);
    if (Number.isNaN(from.getTime())) {
      throw new UsageError(
        `--from ${flags.from} is not a time`,
        "use ISO 8601, e.g. --from 2026-11-26T03:00:00Z",
      );
    }
  }
  let schedule: CalendarSchedule;
  try {
    schedule = parseSchedule(expression);
  } catch (err) {
    if (err instanceof CalendarError) throw new UsageError(err.message, err.hint);
    throw err;
  }
  const next = nextElapses(schedule, from, count);
  if (flags.json) {
    printJson({
      expression: schedule.expression,
      normalized: schedule.normalized,
      kind: schedule.kind,
      on_calendar: schedule.onCalendar,
      time_zone: schedule.timeZone,
      from: from.toISOString(),
      next: next.map((d) => d.toISOString()),
    });
    return Promise.resolve(0);
  }
  const out = process.stdout;
  out.write(`  Original form: ${schedule.expression}\n`);
  out.write(`Normalized form: ${schedule.normalized}\n`);
  if (next.length === 0) out.write("    Next elapse: never\n");
  next.forEach((d, i) => {
    const label = i === 0 ? "    Next elapse" : `       Iter. #${i + 1}`;
    out.write(`${label}: ${formatLocal(d, schedule.timeZone)}\n`);
    out.write(`       (in UTC): ${d.toISOString()}\n`);
  });
  return Promise.resolve(0);
}

function formatLocal(date: Date, timeZone: string | null): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: "short",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    timeZoneName: "short",
    ...(timeZone ? { timeZone } : {}),
  };
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", options).formatToParts(date).map((p) => [p.type, p.value]),
  );
  const hour = parts.hour === "24" ? "00" : parts.hour;
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}
