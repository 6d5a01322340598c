import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  createExposition,
  escapeHelp,
  escapeLabelValue,
  formatSampleValue,
  MetricNameError,
} from "../../src/metrics/exposition.js";

describe("the exposition writer", () => {
  it("escapes backslash, double quote and newline in label values, and nothing else", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue("tab\there {braces} = ,comma é")).toBe("tab\there {braces} = ,comma é");
  });

  it("escapes backslash and newline in HELP text but leaves quotes", () => {
    expect(escapeHelp('say "hi"\\\nthen')).toBe('say "hi"\\\\\\nthen');
  });

  it("writes special float values the way the format spells them", () => {
    expect(formatSampleValue(NaN)).toBe("NaN");
    expect(formatSampleValue(Infinity)).toBe("+Inf");
    expect(formatSampleValue(-Infinity)).toBe("-Inf");
    expect(formatSampleValue(1795687360.034)).toBe("1795687360.034");
    expect(formatSampleValue(1e21)).toBe("1e+21");
  });

  it("renders HELP, TYPE and samples; replaces a duplicate label set; leaves out empty families", () => {
    const x = createExposition();
    const g = x.family("holdfast_test_bytes", "Bytes.\nTwo lines.");
    x.family("holdfast_empty", "never set");
    g.set({ repo: 'we"ird\\name\n' }, 1);
    g.set({ repo: "plain" }, 2);
    g.set({ repo: "plain" }, 3);
    expect(x.render()).toBe(
      [
        "# HELP holdfast_test_bytes Bytes.\\nTwo lines.",
        "# TYPE holdfast_test_bytes gauge",
        'holdfast_test_bytes{repo="we\\"ird\\\\name\\n"} 1',
        'holdfast_test_bytes{repo="plain"} 3',
        "",
      ].join("\n"),
    );
  });

  it("refuses invalid metric and label names", () => {
    const x = createExposition();
    expect(() => x.family("holdfast-bad", "x")).toThrow(MetricNameError);
    expect(() => x.family("holdfast_ok", "x").set({ "bad-label": "v" }, 1)).toThrow(MetricNameError);
    expect(() => x.family("holdfast_ok", "x").set({ __reserved: "v" }, 1)).toThrow(MetricNameError);
  });

  it("produces text that promtool accepts, hostile label values included", () => {
    const x = createExposition();
    const g = x.family("holdfast_hostile_info", "Label values with every character that needs escaping.");
    g.set({ value: 'quote " backslash \\ newline \n end' }, 1);
    g.set({ value: "unicode ✓ and } and =" }, 1);
    x.family("holdfast_generated_timestamp_seconds", "When.").set({}, Date.now() / 1000);
    const out = execFileSync("promtool", ["check", "metrics"], { input: x.render(), encoding: "utf8" });
    expect(out).toBe("");
  });
});
