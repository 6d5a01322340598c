// restic command lines that steps also need for `--dry-run` plans. Kept apart from commands.ts (and
// free of the parsers) so that loading the config — which loads every step kind — stays cheap.

/** Tags every snapshot holdfast makes carries, so retention never touches snapshots made by others. */
export const HOLDFAST_TAG = "holdfast";
export const sourceTag = (source: string) => `source:${source}`;
export const jobTag = (job: string) => `job:${job}`;

/** restic's --tag filter: each entry is an AND-list ("holdfast,source:home"); entries are OR-ed. */
export type TagFilter = string[][];

export function filterArgs(filter: {
  tags?: TagFilter;
  hosts?: readonly string[];
  paths?: readonly string[];
}): string[] {
  const args: string[] = [];
  for (const group of filter.tags ?? []) if (group.length > 0) args.push("--tag", group.join(","));
  for (const host of filter.hosts ?? []) args.push("--host", host);
  for (const p of filter.paths ?? []) args.push("--path", p);
  return args;
}

export interface BackupArgsOptions {
  paths: readonly string[];
  tags: readonly string[];
  host: string;
  exclude?: readonly string[];
  excludeIfPresent?: readonly string[];
  excludeFile?: readonly string[];
  oneFileSystem?: boolean;
  /** restic 0.17+: make no snapshot when nothing changed since the parent snapshot. */
  skipIfUnchanged?: boolean;
  extraArgs?: readonly string[];
}

export function backupArgs(options: BackupArgsOptions): string[] {
  const args = ["backup", "--json", "--host", options.host];
  for (const tag of options.tags) args.push("--tag", tag);
  for (const e of options.exclude ?? []) args.push("--exclude", e);
  for (const e of options.excludeIfPresent ?? []) args.push("--exclude-if-present", e);
  for (const e of options.excludeFile ?? []) args.push("--exclude-file", e);
  if (options.oneFileSystem) args.push("--one-file-system");
  if (options.skipIfUnchanged) args.push("--skip-if-unchanged");
  args.push(...(options.extraArgs ?? []));
  // `--` so that a path starting with "-" is never read as a flag.
  args.push("--", ...options.paths);
  return args;
}

export interface KeepPolicy {
  last?: number | undefined;
  hourly?: number | undefined;
  daily?: number | undefined;
  weekly?: number | undefined;
  monthly?: number | undefined;
  yearly?: number | undefined;
  within?: string | undefined;
  within_hourly?: string | undefined;
  within_daily?: string | undefined;
  within_weekly?: string | undefined;
  within_monthly?: string | undefined;
  within_yearly?: string | undefined;
}

export function keepArgs(keep: KeepPolicy): string[] {
  const args: string[] = [];
  const add = (flag: string, value: number | string | undefined) => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add("--keep-last", keep.last);
  add("--keep-hourly", keep.hourly);
  add("--keep-daily", keep.daily);
  add("--keep-weekly", keep.weekly);
  add("--keep-monthly", keep.monthly);
  add("--keep-yearly", keep.yearly);
  add("--keep-within", keep.within);
  add("--keep-within-hourly", keep.within_hourly);
  add("--keep-within-daily", keep.within_daily);
  add("--keep-within-weekly", keep.within_weekly);
  add("--keep-within-monthly", keep.within_monthly);
  add("--keep-within-yearly", keep.within_yearly);
  return args;
}

export interface ForgetOptions {
  keep: KeepPolicy;
  tags: TagFilter;
  hosts: readonly string[];
  /** restic --path: snapshots holding all of these (a source's adopt.paths). */
  paths?: readonly string[];
  groupBy: string;
  prune: boolean;
}

export function forgetArgs(options: ForgetOptions): string[] {
  return [
    "forget",
    "--json",
    "--group-by",
    options.groupBy,
    ...filterArgs({ tags: options.tags, hosts: options.hosts, paths: options.paths ?? [] }),
    ...keepArgs(options.keep),
    ...(options.prune ? ["--prune"] : []),
  ];
}
