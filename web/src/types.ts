// The API's JSON, typed from the server's own record types (one source of truth): the front end
// imports only types from src/, never code, except the dependency-free formatter in src/util/units.ts.
export type { JobStatus, JobState } from "../../src/engine/job-status.js";
export type {
  RunRecord,
  StepRecord,
  TargetRecord,
  RunStatus,
  StepStatus,
  RunTrigger,
} from "../../src/store/types.js";
export type { RedundancyMatrix, RedundancyRow, RedundancyCell } from "../../src/server/redundancy.js";
export type { SnapshotList } from "../../src/server/routes/snapshots.js";

export interface ApiErrorBody {
  error: { kind: string; message: string; hint: string | null };
}

export interface Info {
  version: string;
  host: string;
  now: string;
  token_required: boolean;
  restore_root: string;
  capabilities: Record<string, boolean | undefined>;
  endpoints: string[];
}

export interface RunsPage<R> {
  runs: R[];
  next_before: string | null;
  next_before_run: string | null;
}
