import { formatBytes, formatDuration } from "../../util/units.js";
import { addPendingRecordsQuietly, openStore } from "../open-store.js";
import { loadConfigForReading, type GlobalOptions } from "../read-config.js";
import { color, formatTable, printJson, statusColor } from "../output.js";
import { resolveRun } from "./resolve-run.js";

export default async function show(
  global: GlobalOptions,
  ref: string,
  flags: { json?: boolean },
): Promise<number> {
  const { config } = await loadConfigForReading(global, { allowEmbedded: true });
  await addPendingRecordsQuietly(config);
  const store = openStore(config);
  try {
    const run = await resolveRun(store, ref);
    if (flags.json) {
      printJson(run);
      return 0;
    }
    const out: string[] = [];
    out.push(
      `${color.bold(`run ${run.id}`)}  job ${run.job}  ${statusColor(run.status)}  exit ${run.exit_code ?? "-"}`,
    );
    out.push(
      `host ${run.host}  trigger ${run.trigger}  started ${run.started_at}  finished ${run.finished_at ?? "-"}  duration ${run.duration_ms !== null ? formatDuration(run.duration_ms) : "-"}`,
    );
    out.push("");
    const rows = [["#", "STEP", "TYPE", "STATUS", "DURATION", "EXIT", "TRIES"]];
    for (const s of run.steps) {
      rows.push([
        String(s.index + 1),
        s.name,
        s.type,
        statusColor(s.status),
        s.duration_ms !== null ? formatDuration(s.duration_ms) : "-",
        s.exit_code !== null ? String(s.exit_code) : "-",
        String(s.attempts),
      ]);
    }
    out.push(formatTable(rows));
    for (const s of run.steps) {
      const lines: string[] = [];
      if (s.error)
        lines.push(
          `    ${color.red(s.error.kind)}: ${s.error.message}${s.error.hint ? `\n    hint: ${s.error.hint}` : ""}`,
        );
      for (const t of s.targets) {
        const figures = Object.entries(t)
          .filter(
            ([k, v]) =>
              !["repo", "status", "error", "duration_ms"].includes(k) && v !== null && v !== undefined,
          )
          .map(
            ([k, v]) =>
              `${k}=${typeof v === "number" && (k.includes("bytes") || k.startsWith("data_added")) ? formatBytes(v) : String(v)}`,
          );
        lines.push(
          `    ${t.repo}: ${statusColor(t.status)} ${figures.join(" ")}${t.error ? `\n      ${t.error.kind}: ${t.error.message}` : ""}`,
        );
      }
      if (s.summary) {
        lines.push(
          `    ${Object.entries(s.summary)
            .filter(([, v]) => typeof v !== "object")
            .map(
              ([k, v]) =>
                `${k}=${typeof v === "number" && k.startsWith("data_added") ? formatBytes(v) : String(v)}`,
            )
            .join(" ")}`,
        );
      }
      if (lines.length) out.push("", `  ${color.bold(s.name)}`, ...lines);
    }
    if (run.notifications.length) {
      out.push("", "  notifications");
      for (const n of run.notifications)
        out.push(`    ${n.notifier} ${n.event}: ${n.ok ? "sent" : color.red(`failed: ${n.error ?? ""}`)}`);
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
