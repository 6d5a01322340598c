// How a dump step's options become a driver target, a source name and restic tags (shared by the
// step's definition, its runner and restore --database).
import { HOLDFAST_TAG, jobTag, sourceTag } from "../restic/args.js";
import type { DumpOptions } from "../steps/dump.js";
import { dumpUnits, type DumpTarget } from "./drivers.js";

/** The source a dump step's snapshots belong to: `source:` or the step's name. */
export function dumpSourceName(o: DumpOptions): string {
  return o.source ?? (o as unknown as { name: string }).name;
}

export function dumpTarget(o: DumpOptions): DumpTarget {
  return {
    engine: o.engine,
    databases: o.databases,
    database: o.database,
    path: o.path,
    command: o.command,
    host: o.host,
    socket: o.socket,
    port: o.port,
    user: o.user,
    password_file: o.password_file,
    globals: o.globals,
    dump_args: o.dump_args,
  };
}

export function dumpTags(o: DumpOptions, job: string, database: string): string[] {
  return [
    HOLDFAST_TAG,
    sourceTag(dumpSourceName(o)),
    jobTag(job),
    `dump:${o.engine}`,
    `db:${database}`,
    ...o.tags,
  ];
}

/** The databases a dump step dumps, in order, with what each is ("postgresql:shop", "sqlite:/srv/app.db"). */
export function dumpedDatabasesOf(o: DumpOptions): Array<{ name: string; what: string; file?: string }> {
  return dumpUnits(dumpTarget(o), {}).map((u) =>
    o.engine === "sqlite" && o.path !== undefined
      ? { name: u.database, what: `sqlite:${o.path}`, file: o.path }
      : { name: u.database, what: `${o.engine}:${u.database}` },
  );
}
