// `mirror`: an rsync mirror, the seed's `logseq` step (`mkdir -pv DST; rsync -ar SRC/ DST/`), with
// rsync's own statistics as the summary and rsync's exit codes mapped to success / warning / failure.
// The definition (options, checks, plan); the runner is mirror-run.ts.
import { z } from "zod";
import { defineStepKind, type StepProblem } from "../engine/step-kind.js";
import { pathOrRemoteSchema } from "../config/values.js";
import { boundedInt, countOrPercentSchema, pathSchema } from "../config/values.js";
import {
  checkMirrorGuard,
  effectiveTarget,
  readRsyncArgs,
  type MirrorGuardConfig,
  type Side,
} from "./mirror-guard.js";
import { quoteArgv } from "../util/shell-quote.js";
import { mirrorOverlap } from "./overlaps.js";

const REMOTE = /^([^/~$][^/:]*):(.*)$/;

// Without ssh_command: never prompt (there is no one to answer), and give up on a dead host in
// seconds instead of the TCP default of minutes.
export const DEFAULT_SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"];

export interface MirrorOptions {
  from: string;
  to: string;
  delete: boolean;
  exclude: string[];
  rsync_args: string[];
  ssh_command?: string[] | undefined;
  guard?: MirrorGuardConfig | undefined;
}

/** "user@host:path" → { host: "user@host", path }; null for a local path. */
export function splitRemote(spec: string): { host: string; path: string } | null {
  const m = REMOTE.exec(spec);
  return m ? { host: m[1] as string, path: m[2] as string } : null;
}

/**
 * Quotes an argv for rsync's -e, which rsync splits itself (no shell): whitespace separates words,
 * and inside '…' or "…" a doubled quote stands for one (rsync main.c, do_cmd). No backslash escapes.
 */
export function quoteForRsyncRsh(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "''")}'`))
    .join(" ");
}

/** The ssh argv rsync is given (and the guard uses) for a remote side; null for a local copy. */
export function sshArgvFor(o: Pick<MirrorOptions, "from" | "to" | "ssh_command">): string[] | null {
  const remote = splitRemote(o.from) ?? splitRemote(o.to);
  return o.ssh_command ?? (remote ? DEFAULT_SSH : null);
}

/** Deleting is what rsync will do: `delete: true`, or a deletion option in rsync_args. */
export function mirrorDeletes(o: Pick<MirrorOptions, "delete" | "rsync_args">): boolean {
  return o.delete || readRsyncArgs(o.rsync_args, o.delete).deletion !== null;
}

/** rsync's argv; `maxDelete` is the guard's limit (a number, or the plan's placeholder text). */
export function buildRsyncArgs(o: MirrorOptions, maxDelete?: number | string): string[] {
  const ssh = sshArgvFor(o);
  return [
    "-a",
    ...o.rsync_args,
    // After the user's arguments, so the statistics always come out in a form we can parse.
    "--stats",
    "--no-human-readable",
    ...(o.delete ? ["--delete"] : []),
    ...(mirrorDeletes(o) ? ["--info=del1"] : []),
    ...(maxDelete !== undefined ? [`--max-delete=${maxDelete}`] : []),
    ...o.exclude.map((pattern) => `--exclude=${pattern}`),
    ...(ssh ? ["-e", quoteForRsyncRsh(ssh)] : []),
    "--",
    o.from,
    o.to,
  ];
}

export const mirrorStep = defineStepKind({
  type: "mirror",
  summary: "rsync mirror of a directory to a path or host:path",
  tools: [
    {
      tool: "rsync",
      versionArgs: ["--version"],
      hint: "install rsync (apt install rsync); mirror steps need it",
    },
  ],
  options: {
    from: pathOrRemoteSchema.describe("what to mirror; a trailing / means its contents, as for rsync"),
    to: pathOrRemoteSchema.describe("where the copy goes: a path or host:path"),
    delete: z
      .boolean()
      .default(false)
      .describe("delete what is gone from `from` at `to` too (rsync --delete; see guard.max_delete)"),
    exclude: z.array(z.string()).default([]).describe("rsync exclude patterns (--exclude)"),
    rsync_args: z
      .array(z.string())
      .default([])
      .describe("more rsync arguments (deletion options here count as delete: true)"),
    ssh_command: z
      .array(z.string())
      .min(1, "needs at least the program, e.g. [ssh, -p, '2222']")
      .optional()
      .describe("the ssh argv for a host:path (default: ssh -o BatchMode=yes -o ConnectTimeout=30)"),
    guard: z
      .strictObject({
        exists: z
          .array(pathSchema)
          .default([])
          .describe("files that are only there when the source is really there (a mount's sentinel)"),
        min_files: boundedInt(1_000_000_000)
          .optional()
          .describe("fail when the source holds fewer files than this (directories do not count)"),
        max_delete: countOrPercentSchema
          .optional()
          .describe(
            "with deletions: at most this many deletions per run, a count (100) or a share of the mirror (10%)",
          ),
      })
      .default({ exists: [] })
      .describe("checks before the mirror runs (docs/guards.md)"),
  },
  // From a path to a path: no config source, no repository.
  dataFlow: { how: "mirror", of: () => ({ repos: [] }) },
  checkWithConfig: (o) => (splitRemote(o.from) || splitRemote(o.to) ? [] : mirrorOverlap(o)),
  check: (o) => {
    const problems: StepProblem[] = [];
    const from = splitRemote(o.from);
    const to = splitRemote(o.to);
    if (from && to) {
      problems.push({
        path: ["to"],
        message: "rsync cannot copy from one remote host to another",
        hint: "make `from` or `to` a local path",
      });
    }
    for (const [key, remote] of [
      ["from", from],
      ["to", to],
    ] as const) {
      // A host starting with "-" would reach ssh as an option (e.g. -oProxyCommand=…).
      if (remote && (remote.host.startsWith("-") || !/^[A-Za-z0-9_.@[\]:%-]+$/.test(remote.host))) {
        problems.push({
          path: [key],
          message: `"${remote.host}" is not a valid host name`,
          hint: "write host:path or user@host:path",
        });
      }
    }
    const raw = o as unknown as Record<string, unknown>;
    const args = Array.isArray(raw.rsync_args) ? (raw.rsync_args as unknown[]) : [];
    problems.push(...readRsyncArgs(args, raw.delete === true).problems);
    problems.push(...checkMirrorGuard(raw, typeof raw.from === "string" && splitRemote(raw.from) !== null));
    return problems;
  },
  plan: (ctx) => {
    const o = ctx.options;
    const lines: string[] = [];
    const deleting = mirrorDeletes(o);
    const guard = o.guard ?? { exists: [] };
    if (deleting || guard.exists.length > 0 || guard.min_files !== undefined)
      lines.push(`mirror guard: ${describeGuardPlan(o, deleting)}`);
    const maxDelete = guard.max_delete;
    // A share becomes a count only when the step runs (the mirror is counted first): N in the plan.
    const placeholder = maxDelete === undefined ? undefined : "count" in maxDelete ? maxDelete.count : "N";
    lines.push(`rsync ${quoteArgv(buildRsyncArgs(o, placeholder))}`);
    return lines;
  },
});

export function sideOf(spec: string): Side {
  const remote = splitRemote(spec);
  return remote ? { kind: "remote", host: remote.host, path: remote.path } : { kind: "local", path: spec };
}

function describeGuardPlan(o: MirrorOptions, deleting: boolean): string {
  const guard = o.guard ?? { exists: [] };
  const parts: string[] = [];
  const where = splitRemote(o.from) ? ` over ${quoteArgv(sshArgvFor(o) ?? [])}` : "";
  if (guard.exists.length) parts.push(`sentinels ${guard.exists.join(", ")}`);
  if (guard.min_files !== undefined) parts.push(`at least ${guard.min_files} files`);
  if (deleting) parts.push("a source with no files never empties a mirror that has some");
  const share = guard.max_delete && "fraction" in guard.max_delete ? guard.max_delete.fraction : null;
  if (deleting && share !== null) {
    const mirror = effectiveTarget(sideOf(o.from).path, sideOf(o.to).path);
    const over = splitRemote(o.to) ? " (over ssh)" : "";
    parts.push(`--max-delete=N, N = ${Number((share * 100).toFixed(2))}% of the entries of ${mirror}${over}`);
  }
  return `count the files of ${o.from}${where}: ${parts.join("; ")}`;
}
