// `holdfast import TOOL FILE`: the one place that reads the other tool's file; the translations
// (autorestic.ts, resticprofile.ts) are pure functions of its text and the machine's facts.
import fs from "node:fs";
import { translateAutorestic } from "./autorestic.js";
import { ImportError } from "./errors.js";
import type { ImportContext, ImportResult } from "./model.js";
import { translateResticprofile } from "./resticprofile.js";

export const IMPORT_TOOLS = ["autorestic", "resticprofile"] as const;
export type ImportTool = (typeof IMPORT_TOOLS)[number];

export { ImportError };
export type { ImportContext, ImportResult };
export { renderConfig, reportLines } from "./render.js";

export function importFile(tool: ImportTool, ctx: ImportContext): ImportResult {
  let text: string;
  try {
    text = fs.readFileSync(ctx.file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImportError(
      `cannot read ${ctx.file}: ${code === "ENOENT" ? "no such file" : (code ?? String(err))}`,
      "pass the path of the other tool's config file",
    );
  }
  // resticprofile reads UTF-8 files with a byte order mark too.
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  return tool === "autorestic" ? translateAutorestic(text, ctx) : translateResticprofile(text, ctx);
}
