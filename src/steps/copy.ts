import { z } from "zod";
import { defineStepKind } from "../engine/step-kind.js";
import { nameSchema } from "../config/values.js";
import { notBuilt } from "./not-built.js";

export const copyStep = defineStepKind({
  type: "copy",
  summary: "restic copy of snapshots from one repository to others, without reading the source again",
  options: {
    from: nameSchema,
    to: z.array(nameSchema).min(1, "name at least one target repository"),
    snapshots: z.enum(["latest", "all"]).default("latest"),
    sources: z.array(nameSchema).optional(),
  },
  references: (o) => [
    { path: ["from"], kind: "repository", name: o.from },
    ...o.to.map((name, i) => ({ path: ["to", i], kind: "repository" as const, name })),
    ...(o.sources ?? []).map((name, i) => ({ path: ["sources", i], kind: "source" as const, name })),
  ],
  check: (o) =>
    o.to.includes(o.from) ? [{ path: ["to"], message: `cannot copy "${o.from}" into itself`, hint: "remove it from `to`" }] : [],
  plan: (ctx) => ctx.options.to.map((to) => `restic -r <${to}> copy --from-repo <${ctx.options.from}>`),
  run: notBuilt("copy"),
});
