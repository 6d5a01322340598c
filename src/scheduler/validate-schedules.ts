// Checks every job's `schedule` with the calendar engine and reports the ones that do not parse as
// config issues with file:line:col, like the loader's own errors.
import fs from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { Config } from "../config/schema.js";
import type { ConfigIssue } from "../errors.js";
import { CalendarError, parseSchedule } from "./calendar.js";

export function findScheduleIssues(config: Pick<Config, "jobs" | "file">): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  let locate: (job: string) => { line: number; col: number } = () => ({ line: 0, col: 0 });
  for (const job of Object.values(config.jobs)) {
    if (job.schedule === undefined) continue;
    try {
      parseSchedule(job.schedule);
    } catch (err) {
      if (!(err instanceof CalendarError)) throw err;
      if (issues.length === 0 && config.file) locate = createLocator(config.file);
      issues.push({
        file: config.file ?? "<config>",
        ...locate(job.name),
        path: `jobs.${job.name}.schedule`,
        message: err.message,
        hint: err.hint,
      });
    }
  }
  return issues;
}

function createLocator(file: string): (job: string) => { line: number; col: number } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return () => ({ line: 0, col: 0 });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return (job) => {
    const node = doc.getIn(["jobs", job, "schedule"], true) as
      { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 1, col: 1 };
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
}
