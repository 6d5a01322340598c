// An import as the YAML file it becomes: a header naming the original, each part preceded by a
// comment saying where it came from, and the report as text (what did not map, templates left
// unresolved, secrets to put in place).
import { Document, isMap, isScalar, type Node } from "yaml";
import type { ConfigPath, ImportResult } from "./model.js";

export function renderConfig(result: ImportResult, generatedAt: string): string {
  const doc = new Document(result.config);
  for (const { path, text } of result.comments) attachComment(doc, path, text);
  const header = [
    ` holdfast config imported from ${result.tool} (${result.file}) on ${generatedAt}`,
    ` by \`holdfast import ${result.tool}\`. Check it with \`holdfast config validate\` and`,
    ` \`holdfast run --all --dry-run\`; what did not map is listed at the end of this file.`,
  ];
  if (result.secrets.length > 0)
    header.push(
      " Secrets are never copied: put each one in the file named for it (mode 0600), as listed below.",
    );
  doc.commentBefore = header.join("\n");
  const footer = reportLines(result).map((l) => ` ${l}`);
  if (footer.length > 0) doc.comment = footer.join("\n");
  return doc.toString({ lineWidth: 0 });
}

function attachComment(doc: Document, path: ConfigPath, text: string): void {
  const parentPath = path.slice(0, -1);
  const key = path.at(-1);
  const parent = parentPath.length === 0 ? doc.contents : (doc.getIn(parentPath, true) as Node | undefined);
  const lines = text
    .split("\n")
    .map((l) => ` ${l}`)
    .join("\n");
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key)) {
      pair.key.commentBefore = pair.key.commentBefore ? `${pair.key.commentBefore}\n${lines}` : lines;
      return;
    }
  }
  const node = doc.getIn(path, true) as Node | undefined;
  if (node && typeof node === "object" && "commentBefore" in node) {
    node.commentBefore = node.commentBefore ? `${node.commentBefore}\n${lines}` : lines;
  }
}

/** The report, one line each: what the user must do or know. */
export function reportLines(result: ImportResult): string[] {
  const lines: string[] = [];
  if (result.secrets.length > 0) {
    lines.push(`Secrets to put in place (${result.secrets.length}; holdfast never copies one):`);
    for (const s of result.secrets) {
      const keys = s.keys && s.keys.length > 0 ? ` as ${s.keys.map((k) => `${k}=…`).join(", ")}` : "";
      lines.push(`  ${s.what}: from ${s.from} → ${s.file} (mode 0600)${keys}`);
    }
  }
  if (result.notes.length > 0) {
    lines.push(`Notes (${result.notes.length}):`);
    for (const n of result.notes) lines.push(`  ${n}`);
  }
  if (result.unresolved.length > 0) {
    lines.push(`Templates not resolved (${result.unresolved.length}):`);
    for (const u of result.unresolved) lines.push(`  ${u.where}: ${u.why}`);
  }
  if (result.unmapped.length > 0) {
    lines.push(`Not mapped (${result.unmapped.length}):`);
    for (const u of result.unmapped) lines.push(`  ${u.where}: ${u.why}`);
  }
  return lines;
}
