// Byte limits of the receivers (Healthchecks 100 KB, ntfy 4 KB), cut on UTF-8 boundaries with a marker.

/** Keeps the last maxBytes bytes of text (on a line boundary when there is one), marking the cut. */
export function truncateStart(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  const marker = "…[earlier output cut]\n";
  let kept = bytes.subarray(bytes.length - (maxBytes - Buffer.byteLength(marker))).toString("utf8");
  // A cut inside a multi-byte character decodes to U+FFFD; drop it with the rest of the partial line.
  const nl = kept.indexOf("\n");
  if (nl !== -1 && nl < kept.length - 1) kept = kept.slice(nl + 1);
  else kept = kept.replace(/^\uFFFD+/, "");
  return marker + kept;
}

/** Keeps the first maxBytes bytes of text, marking the cut. */
export function truncateEnd(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  const marker = "\n…[cut]";
  return (
    bytes
      .subarray(0, maxBytes - Buffer.byteLength(marker))
      .toString("utf8")
      .replace(/\uFFFD+$/, "") + marker
  );
}
