// `mirror`: an rsync mirror, the seed's `logseq` step (`mkdir -pv DST; rsync -ar SRC/ DST/`), with
// rsync's own statistics as the summary and rsync's exit codes mapped to success / warning / failure.
import fs from "node:fs";
import { z } from "zod";
import { stepError } from "../errors.js";
import { defineStepKind, type StepOutcome, type StepProblem } from "../engine/step-kind.js";
import { pathOrRemoteSchema } from "../config/values.js";
import { describeExit } from "../util/process.js";
import { quoteArgv } from "../util/shell-quote.js";
import { createRsyncCollector, judgeRsyncExit } from "./rsync-stats.js";

const REMOTE = /^([^/~$][^/:]*):(.*)$/;

// Without ssh_command: never prompt (there is no one to answer), and give up on a dead host in
// seconds instead of the TCP default of minutes.
const DEFAULT_SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"];

interface MirrorOptions {
  from: string;
  to: string;
  delete: boolean;
  exclude: string[];
  rsync_args: string[];
  ssh_command?: string[] | undefined;
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

export function buildRsyncArgs(o: MirrorOptions): string[] {
  const remote = splitRemote(o.from) ?? splitRemote(o.to);
  const ssh = o.ssh_command ?? (remote ? DEFAULT_SSH : undefined);
  return [
    "-a",
    ...o.rsync_args,
    // After the user's arguments, so the statistics always come out in a form we can parse.
    "--stats",
    "--no-human-readable",
    ...(o.delete ? ["--delete", "--info=del1"] : []),
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
  options: {
    from: pathOrRemoteSchema,
    to: pathOrRemoteSchema,
    delete: z.boolean().default(false),
    exclude: z.array(z.string()).default([]),
    rsync_args: z.array(z.string()).default([]),
    ssh_command: z.array(z.string()).min(1, "needs at least the program, e.g. [ssh, -p, '2222']").optional(),
  },
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
    return problems;
  },
  plan: (ctx) => [`rsync ${quoteArgv(buildRsyncArgs(ctx.options))}`],
  async run(ctx): Promise<StepOutcome> {
    const o = ctx.options;
    const fromRemote = splitRemote(o.from);
    const toRemote = splitRemote(o.to);

    if (!fromRemote) {
      const problem = await checkLocalSource(o.from, o.delete, toRemote ? null : o.to);
      if (problem) return { status: "failed", error: problem };
    }
    if (!toRemote) {
      // The seed's `mkdir -pv`: rsync itself creates only the last component of the destination.
      try {
        const created = await fs.promises.mkdir(o.to, { recursive: true });
        if (created) ctx.log.info(`created directory ${o.to}`);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return {
          status: "failed",
          error: stepError(
            e.code === "EACCES" || e.code === "EPERM" ? "permission" : "not_found",
            `cannot create the destination ${o.to}: ${e.message}`,
            "check that the destination's parent exists and is writable (a mounted disk?)",
          ),
        };
      }
    }

    const collector = createRsyncCollector();
    const result = await ctx.exec("rsync", buildRsyncArgs(o), {
      onLine: (line, stream) => {
        collector.push(line, stream);
        ctx.log.output(line, stream);
      },
    });
    if (result.spawnError) {
      return {
        status: "failed",
        error: stepError(
          "not_found",
          describeExit(result),
          result.spawnError.code === "ENOENT"
            ? `install rsync, or put it on the step's PATH (${ctx.env.PATH ?? ""})`
            : null,
        ),
      };
    }
    const summary = { ...collector.stats(), from: o.from, to: o.to, delete: o.delete };
    if (result.exitCode === null) {
      return {
        status: "failed",
        summary,
        error: stepError("exit_code", `rsync ${describeExit(result)}`, null),
      };
    }
    const verdict = judgeRsyncExit(result.exitCode, collector, (fromRemote ?? toRemote)?.host ?? null);
    const vanished = collector.vanished();
    return {
      status: verdict.status,
      exitCode: result.exitCode,
      summary: vanished.length ? { ...summary, vanished } : summary,
      error: verdict.kind ? stepError(verdict.kind, ctx.redact(verdict.message ?? ""), verdict.hint) : null,
    };
  },
});

/**
 * A missing source would make rsync exit 23 ("partial transfer") — not a warning but a failure. And
 * with `delete`, an empty source (an unmounted mount point) would wipe the mirror: refuse that.
 */
async function checkLocalSource(from: string, deleting: boolean, localTo: string | null) {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(from);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return stepError(
      e.code === "EACCES" ? "permission" : "not_found",
      `the source ${from} ${e.code === "ENOENT" ? "does not exist" : `cannot be read: ${e.message}`}`,
      "check the path, and that its disk is mounted",
    );
  }
  if (!deleting || !stat.isDirectory() || localTo === null) return null;
  const [fromHasEntries, toHasEntries] = await Promise.all([hasEntries(from), hasEntries(localTo)]);
  if (!fromHasEntries && toHasEntries) {
    return stepError(
      "guard",
      `the source ${from} is empty while the mirror ${localTo} is not; with delete: true rsync would empty the mirror`,
      "check that the source's disk is mounted; if it really is empty now, empty the mirror by hand",
    );
  }
  return null;
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    const handle = await fs.promises.opendir(dir);
    try {
      return (await handle.read()) !== null;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}
