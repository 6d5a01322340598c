// Which of holdfast's snapshots a retention or copy step is about: the sources of its job (or the
// ones it names) and the hosts their backups are made under. Snapshots are found by holdfast's tags
// (`holdfast`, `source:NAME`), so snapshots made by anything else are never touched.
import type { PlanContext } from "../engine/step-kind.js";

export interface SourceScope {
  source: string;
  hosts: string[];
}

/**
 * The step's `sources` when given; else the sources the job's backup and copy steps handle (read from
 * their declared data flow); else (a retention-only job) every source in the config. Hosts: the
 * `host` of each backup step of that source in the job, else the config's host.
 */
export function sourceScopes(
  ctx: Pick<PlanContext<unknown>, "config" | "job" | "host" | "dataFlowOf">,
  named: readonly string[] | undefined,
): SourceScope[] {
  const { config, job, host: defaultHost } = ctx;
  const hostsBySource = new Map<string, Set<string>>();
  const add = (source: string, host: string | null) => {
    const set = hostsBySource.get(source) ?? new Set<string>();
    if (host) set.add(host);
    hostsBySource.set(source, set);
  };
  for (const step of job.steps) {
    const flow = ctx.dataFlowOf(step);
    if ((flow?.how === "backup" || flow?.how === "dump") && flow.source !== undefined) {
      add(flow.source, flow.host ?? defaultHost);
    } else if (flow?.how === "copy" && flow.sources !== undefined) {
      for (const s of flow.sources) add(s, null);
    }
  }
  let names: string[];
  if (named && named.length > 0) names = [...named];
  else if (hostsBySource.size > 0) names = [...hostsBySource.keys()];
  else names = Object.keys(config.sources);
  return names.map((source) => {
    const hosts = [...(hostsBySource.get(source) ?? [])];
    return { source, hosts: hosts.length > 0 ? hosts : [defaultHost] };
  });
}
