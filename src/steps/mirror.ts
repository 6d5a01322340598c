import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { pathOrRemoteSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const mirrorStep = defineStepKind({
  type: "mirror",
  summary: "rsync mirror of a directory to a path or host:path",
  options: {
    from: pathOrRemoteSchema,
    to: pathOrRemoteSchema,
    delete: z.boolean().default(false),
    exclude: z.array(z.string()).default([]),
    rsync_args: z.array(z.string()).default([]),
    ssh_command: z.array(z.string()).optional(),
  },
  plan: (ctx) => [`rsync -a --stats${ctx.options.delete ? " --delete" : ""} ${ctx.options.from} ${ctx.options.to}`],
  run: notBuilt("mirror"),
});
