// `metrics.textfile`: the exposition written for node_exporter's textfile collector after every run
// and every `watch`. Written to a temp file in the same directory and renamed over the target, so the
// collector never reads half a file; the temp name does not end in .prom, so it is never collected.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/types.js";
import type { RunStore } from "../store/types.js";
import { renderMetrics } from "./render-metrics.js";
import { HoldfastError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic-write.js";

export class TextfileWriteError extends HoldfastError {
  readonly file: string;
  constructor(message: string, file: string, options?: { cause: unknown }) {
    super(message, { kind: "permission", cause: options?.cause });
    this.name = "TextfileWriteError";
    this.file = file;
  }
}

export async function writeTextfileAtomically(file: string, content: string): Promise<void> {
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    // node_exporter usually runs as another user: the file must be world-readable (it holds no secrets).
    await writeFileAtomic(file, content, { mode: 0o644 });
  } catch (err) {
    throw new TextfileWriteError(
      `cannot write the metrics textfile ${file}: ${(err as Error).message}`,
      file,
      { cause: err },
    );
  }
}

/** Renders and writes the configured textfile; returns its path, or null when none is configured. */
export async function writeMetricsTextfile(
  config: Config,
  store: RunStore,
  now: Date,
): Promise<string | null> {
  const file = config.metrics.textfile;
  if (!file) return null;
  await writeTextfileAtomically(file, await renderMetrics(config, store, now));
  return file;
}
