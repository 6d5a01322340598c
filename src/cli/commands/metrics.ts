import { UsageError } from "../../errors.js";
import { recoverInterruptedRuns } from "../../engine/recover.js";
import { renderMetrics } from "../../metrics/render-metrics.js";
import { writeTextfileAtomically } from "../../metrics/textfile.js";
import { addPendingRecordsQuietly, openStore } from "../open-store.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";

interface MetricsFlags {
  write?: boolean;
}

export default async function metrics(global: GlobalOptions, flags: MetricsFlags): Promise<number> {
  const { config } = await loadConfigForReading(global, { allowEmbedded: true });
  await addPendingRecordsQuietly(config);
  const store = openStore(config);
  try {
    await recoverInterruptedRuns(store, { host: config.host });
    const text = await renderMetrics(config, store, new Date());
    if (flags.write) {
      const file = config.metrics.textfile;
      if (!file) {
        throw new UsageError(
          "metrics.textfile is not set in the config; nothing written",
          "add `metrics: { textfile: /var/lib/prometheus/node-exporter/holdfast.prom }`, or print with `holdfast metrics`",
        );
      }
      await writeTextfileAtomically(file, text);
      process.stderr.write(`holdfast: wrote ${file}\n`);
      return 0;
    }
    process.stdout.write(text);
    return 0;
  } finally {
    await store.close();
  }
}
