// `metrics.textfile`: the exposition written for node_exporter's textfile collector after every run
// and every `watch`. Written to a temp file in the same directory and renamed over the target, so the
// collector never reads half a file; the temp name does not end in .prom, so it is never collected.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { RunStore } from "../store/types.js";
import { renderMetrics } from "./render-metrics.js";
import { HoldfastError } from "../errors.js";

export class TextfileWriteError extends HoldfastError {
  readonly file: string;
  constructor(message: string, file: string, options?: { cause: unknown }) {
    super(message, { kind: "permission", cause: options?.cause });
    this.name = "TextfileWriteError";
    this.file = file;
  }
}

export async function writeTextfileAtomically(file: string, content: string): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
    // node_exporter usually runs as another user: the file must be world-readable (it holds no secrets).
    await fs.promises.writeFile(temp, content, { mode: 0o644 });
    await fs.promises.chmod(temp, 0o644);
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.rm(temp, { force: true }).catch(() => undefined);
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
