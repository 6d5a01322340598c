import { CalendarError, parseSchedule } from "../../scheduler/calendar.js";
import { installedTimers } from "../../scheduler/install.js";
import { jobUnitName } from "../../scheduler/systemd.js";
import { loadCliConfig, type GlobalOptions } from "../context.js";
import { formatTable, printJson } from "../output.js";
import { resolveRoot, type ModeFlags } from "./schedule-shared.js";

interface ListFlags extends Pick<ModeFlags, "root"> {
  json?: boolean;
}

interface ScheduleRow {
  job: string;
  schedule: string | null;
  kind: "oncalendar" | "cron" | null;
  normalized: string | null;
  on_calendar: string[];
  time_zone: string | null;
  randomized_delay_ms: number | null;
  next_run_at: string | null;
  timer_installed: boolean;
  timer: { mode: "system" | "user"; path: string } | null;
  error: { message: string; hint: string } | null;
}

export default function scheduleList(global: GlobalOptions, flags: ListFlags): Promise<number> {
  const { config } = loadCliConfig(global);
  const root = resolveRoot(flags);
  const timers = installedTimers({ env: process.env, stateDir: config.state_dir }, root);
  const now = new Date();
  const rows: ScheduleRow[] = Object.values(config.jobs).map((job) => {
    const timer = timers.get(jobUnitName(job.name, "timer")) ?? null;
    const row: ScheduleRow = {
      job: job.name,
      schedule: job.schedule ?? null,
      kind: null,
      normalized: null,
      on_calendar: [],
      time_zone: null,
      randomized_delay_ms: job.randomized_delay ?? null,
      next_run_at: null,
      timer_installed: timer !== null,
      timer,
      error: null,
    };
    if (job.schedule === undefined) return row;
    try {
      const schedule = parseSchedule(job.schedule);
      row.kind = schedule.kind;
      row.normalized = schedule.normalized;
      row.on_calendar = [...schedule.onCalendar];
      row.time_zone = schedule.timeZone;
      row.next_run_at = schedule.next(now)?.toISOString() ?? null;
    } catch (err) {
      if (!(err instanceof CalendarError)) throw err;
      row.error = { message: err.message, hint: err.hint };
    }
    return row;
  });
  const invalid = rows.some((r) => r.error !== null);
  if (flags.json) {
    printJson({ jobs: rows });
    return Promise.resolve(invalid ? 2 : 0);
  }
  const table = [["JOB", "SCHEDULE", "NORMALIZED", "NEXT RUN", "TIMER"]];
  for (const r of rows) {
    table.push([
      r.job,
      r.schedule ?? "-",
      r.error ? `invalid: ${r.error.hint}` : (r.normalized ?? "-"),
      r.next_run_at ?? "-",
      r.timer ? `installed (${r.timer.mode})` : r.schedule ? "not installed" : "-",
    ]);
  }
  process.stdout.write(`${formatTable(table)}\n`);
  return Promise.resolve(invalid ? 2 : 0);
}
