// Which of holdfast's snapshots a retention or copy step is about: the sources of its job (or the
// ones it names) and the hosts their backups are made under. Snapshots are found by holdfast's tags
// (`holdfast`, `source:NAME`), so snapshots made by anything else are never touched.
import type { Config, JobConfig } from "../config/schema.js";

export interface SourceScope {
  source: string;
  hosts: string[];
}

/**
 * The step's `sources` when given; else the sources the job's backup and copy steps handle; else
 * (a retention-only job) every source in the config. Hosts: the `host` of each backup step of that
 * source in the job, else the config's host.
 */
export function sourceScopes(
  config: Config,
  job: JobConfig,
  named: readonly string[] | undefined,
  defaultHost: string,
): SourceScope[] {
  const hostsBySource = new Map<string, Set<string>>();
  const add = (source: string, host: string | null) => {
    const set = hostsBySource.get(source) ?? new Set<string>();
    if (host) set.add(host);
    hostsBySource.set(source, set);
  };
  for (const step of job.steps) {
    if (step.type === "backup" && typeof step.source === "string") {
      add(step.source, typeof step.host === "string" ? step.host : defaultHost);
    } else if (step.type === "copy" && Array.isArray(step.sources)) {
      for (const s of step.sources) if (typeof s === "string") add(s, null);
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
