// A small writer of the Prometheus text exposition format (version 0.0.4). holdfast's metrics are a
// snapshot of the history store, rendered once per `holdfast metrics`, textfile write or /metrics
// request; prom-client's process-global, mutable registry is built for long-lived instrumented
// processes and would only be reset and refilled here. Escaping rules are the format's:
// label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
import { HoldfastError } from "../errors.js";

export type MetricType = "gauge" | "counter" | "untyped";

export type Labels = Readonly<Record<string, string>>;

export interface MetricSample {
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export interface ExpositionBuilder {
  /** Declares a family (once); later calls with the same name return the same family. */
  family(name: string, help: string, type?: MetricType): FamilyWriter;
  families(): MetricFamily[];
  render(): string;
}

export interface FamilyWriter {
  /** Adds a sample; a second sample with the same label set replaces the first (the format forbids duplicates). */
  set(labels: Labels, value: number): void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A metric name holdfast itself got wrong: a bug (kind internal). */
export class MetricNameError extends HoldfastError {
  readonly metric: string;
  constructor(message: string, metric: string) {
    super(message, { kind: "internal" });
    this.name = "MetricNameError";
    this.metric = metric;
  }
}

export function createExposition(): ExpositionBuilder {
  const byName = new Map<string, { family: MetricFamily; index: Map<string, number> }>();
  return {
    family(name, help, type = "gauge") {
      if (!METRIC_NAME.test(name)) throw new MetricNameError(`invalid metric name "${name}"`, name);
      let entry = byName.get(name);
      if (!entry) {
        entry = { family: { name, help, type, samples: [] }, index: new Map() };
        byName.set(name, entry);
      }
      const { family, index } = entry;
      return {
        set(labels, value) {
          for (const label of Object.keys(labels)) {
            if (!LABEL_NAME.test(label) || label.startsWith("__")) {
              throw new MetricNameError(`invalid label name "${label}" on ${name}`, name);
            }
          }
          const key = renderLabels(labels);
          const existing = index.get(key);
          if (existing !== undefined) family.samples[existing] = { labels, value };
          else {
            index.set(key, family.samples.length);
            family.samples.push({ labels, value });
          }
        },
      };
    },
    families: () => [...byName.values()].map((e) => e.family),
    render() {
      return renderExposition([...byName.values()].map((e) => e.family));
    },
  };
}

/** Families without samples are left out: a HELP line with nothing under it tells a scraper nothing. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${renderLabels(sample.labels)} ${formatSampleValue(sample.value)}`);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

function renderLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  // String() never uses a thousands separator and writes large/small numbers as 1e+21 / 1e-7,
  // both of which the format's float parser accepts.
  return String(value);
}
