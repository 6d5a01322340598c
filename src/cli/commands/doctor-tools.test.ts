// doctor checks the programs the step kinds declare (StepKind.tools) instead of knowing step types:
// a kind registered elsewhere gets its tool checked with no change to doctor.
import { describe, expect, it } from "vitest";
import { allStepKinds } from "../../registry.js";
import { toolsToCheck } from "./doctor.js";

const throwaway = {
  type: "throwaway-sync",
  tools: [{ tool: "throwaway-tool", versionArgs: ["-V"], hint: "install throwaway-tool" }],
};

describe("doctor's tool list comes from the step kinds", () => {
  it("lists rsync and git from the built-in kinds, needed only when a configured step runs them", () => {
    const none = toolsToCheck(["exec", "backup"], allStepKinds());
    expect(none.map((t) => [t.need.tool, t.needed])).toEqual([
      ["rsync", false],
      ["git", false],
    ]);
    const both = toolsToCheck(["mirror", "git"], allStepKinds());
    expect(both.map((t) => [t.need.tool, t.needed])).toEqual([
      ["rsync", true],
      ["git", true],
    ]);
    expect(both[0]?.need.hint).toMatch(/apt install rsync/);
  });

  it("a throwaway kind's tool is checked, and needed once a step of that kind is configured", () => {
    const kinds = [...allStepKinds(), throwaway];
    expect(toolsToCheck([], kinds).find((t) => t.need.tool === "throwaway-tool")?.needed).toBe(false);
    const needed = toolsToCheck(["throwaway-sync"], kinds).find((t) => t.need.tool === "throwaway-tool");
    expect(needed).toEqual({ need: throwaway.tools[0], needed: true });
  });

  it("two kinds declaring one tool give one check, needed if either is configured", () => {
    const twin = { type: "twin", tools: [{ tool: "git", versionArgs: ["--version"], hint: "other hint" }] };
    const tools = toolsToCheck(["twin"], [...allStepKinds(), twin]);
    expect(tools.filter((t) => t.need.tool === "git")).toHaveLength(1);
    expect(tools.find((t) => t.need.tool === "git")?.needed).toBe(true);
  });
});
