// Compile-time only: the server's own record types must fit the API's published types
// (api-types.ts), so a change to a record that the dashboard would not understand fails
// `npm run typecheck` here instead of in a browser. Nothing in this module exists at run time.
import type * as Api from "./api-types.js";
import type { JobStatus } from "../engine/job-status.js";
import type { RunRecord, StepRecord, RunStatus, StepStatus, RunTrigger } from "../store/types.js";
import type { RedundancyMatrix } from "./redundancy.js";
import type { ApiErrorKind } from "./http.js";

/** Resolves to T when T is assignable to U; a compile error otherwise. */
type Fits<T extends U, U> = T;

export type Checks = [
  Fits<RunRecord, Api.RunRecord>,
  Fits<StepRecord, Api.StepRecord>,
  Fits<RunStatus, Api.RunStatus>,
  Fits<Api.RunStatus, RunStatus>,
  Fits<StepStatus, Api.StepStatus>,
  Fits<Api.StepStatus, StepStatus>,
  Fits<RunTrigger, Api.RunTrigger>,
  Fits<Api.RunTrigger, RunTrigger>,
  Fits<JobStatus, Api.JobStatus>,
  Fits<RedundancyMatrix, Api.RedundancyMatrix>,
  Fits<ApiErrorKind, Api.ApiErrorKind>,
  Fits<Api.ApiErrorKind, ApiErrorKind>,
];
