// Which dump step dumps a database: restore --database and the restore drill (verify with
// `database:`) name a database and, when two dump steps dump one of that name, the source.
import type { StepConfig } from "../config/types.js";
import type { DumpOptions } from "./dump.js";
import { dumpUnits, type DumpUnit } from "../dump/drivers.js";
import { dumpSourceName, dumpTarget } from "../dump/naming.js";

export interface FoundDump {
  job: string;
  step: StepConfig;
  options: DumpOptions;
  unit: DumpUnit;
}

/** The dump steps of these jobs that dump `database` (as `source`, when given). */
export function findDumpSteps(
  jobs: Record<string, { steps: StepConfig[] }>,
  database: string,
  source: string | undefined,
): FoundDump[] {
  const found: FoundDump[] = [];
  for (const [job, { steps }] of Object.entries(jobs))
    for (const step of steps) {
      if (step.type !== "dump") continue;
      const options = step as unknown as DumpOptions;
      if (source !== undefined && dumpSourceName(options) !== source) continue;
      const unit = dumpUnits(dumpTarget(options), {}).find((u) => u.database === database);
      if (unit) found.push({ job, step, options, unit });
    }
  return found;
}

/** "shop (source pg)", for every database the dump steps dump. */
export function dumpedDatabases(jobs: Record<string, { steps: StepConfig[] }>): string[] {
  const names: string[] = [];
  for (const { steps } of Object.values(jobs))
    for (const step of steps)
      if (step.type === "dump") {
        const o = step as unknown as DumpOptions;
        for (const u of dumpUnits(dumpTarget(o), {}))
          names.push(`${u.database} (source ${dumpSourceName(o)})`);
      }
  return names;
}
