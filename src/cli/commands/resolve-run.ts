import { UsageError } from "../../errors.js";
import type { RunRecord, RunStore } from "../../store/types.js";

/** A run by full id, unique prefix, or `latest`. */
export async function resolveRun(store: RunStore, ref: string): Promise<RunRecord> {
  if (ref === "latest" || ref === "last") {
    const [run] = await store.listRuns({ limit: 1 });
    if (!run) throw new UsageError("there are no runs yet", "start one with `holdfast run`");
    return run;
  }
  const exact = await store.getRun(ref);
  if (exact) return exact;
  const ids = await store.findRunIds(ref.toUpperCase(), 2);
  if (ids.length === 1 && ids[0]) {
    const run = await store.getRun(ids[0]);
    if (run) return run;
  }
  if (ids.length > 1)
    throw new UsageError(`run id prefix "${ref}" is ambiguous`, "give more characters of the id");
  throw new UsageError(`no run "${ref}"`, "see the ids with `holdfast history`");
}
