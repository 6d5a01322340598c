// The small pure pieces of the server: addresses, tokens, restore targets, the redundancy matrix.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatListenUrl, isLoopbackHost, parseListen } from "../../src/server/listen.js";
import { bearerToken, tokensEqual } from "../../src/server/auth.js";
import { RestoreTargetError, resolveRestoreTarget } from "../../src/server/restore-target.js";
import { computeRedundancy } from "../../src/server/redundancy.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import { makeTempDir } from "../helpers/tmp.js";
import { HOUR, makeFixture, recordRun } from "./fixture.js";

describe("parseListen / isLoopbackHost", () => {
  it("parses HOST:PORT, [IPv6]:PORT", () => {
    expect(parseListen("127.0.0.1:8760")).toEqual({ host: "127.0.0.1", port: 8760 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen("localhost:9000")).toEqual({ host: "localhost", port: 9000 });
    for (const bad of [
      "8760",
      "localhost",
      ":8760",
      "::1:8760",
      "[nothex]:1",
      "host:99999",
      "a b:1",
      "[::1]",
    ]) {
      expect(parseListen(bad), bad).toBeNull();
    }
  });

  it("knows loopback from the rest", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "::ffff:127.0.0.1"])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [
      "0.0.0.0",
      "::",
      "192.168.1.2",
      "10.0.0.1",
      "localhost.evil.example",
      "127.0.0.1.nip.io",
      "::ffff:10.0.0.1",
      "128.0.0.1",
    ]) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it("formats the URL people open", () => {
    expect(formatListenUrl("127.0.0.1", 8760)).toBe("http://127.0.0.1:8760/");
    expect(formatListenUrl("::1", 8760)).toBe("http://[::1]:8760/");
  });
});

describe("tokens", () => {
  it("compares whole tokens only", () => {
    const t = "0123456789abcdef0123";
    expect(tokensEqual(t, t)).toBe(true);
    for (const other of ["", t.slice(0, -1), `${t}0`, t.toUpperCase(), ` ${t}`])
      expect(tokensEqual(other, t), other).toBe(false);
  });

  it("reads only a well-formed Bearer header", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc ")).toBe("abc");
    for (const h of [undefined, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Token abc"])
      expect(bearerToken(h), String(h)).toBeNull();
  });
});

describe("resolveRestoreTarget", () => {
  it("resolves inside the root through real paths and refuses the rest", () => {
    const dir = makeTempDir();
    const root = path.join(dir, "root");
    fs.mkdirSync(path.join(root, "sub"), { recursive: true });
    fs.mkdirSync(path.join(dir, "elsewhere"));
    // A root reached through a symlink is fine: the comparison is between real paths.
    fs.symlinkSync(root, path.join(dir, "root-link"));
    fs.symlinkSync(path.join(root, "sub"), path.join(root, "sub-link"));
    fs.symlinkSync(path.join(dir, "elsewhere"), path.join(root, "out"));
    const real = fs.realpathSync(root);
    expect(resolveRestoreTarget(root, "a")).toBe(path.join(real, "a"));
    expect(resolveRestoreTarget(root, ".")).toBe(real);
    expect(resolveRestoreTarget(path.join(dir, "root-link"), "x/y")).toBe(path.join(real, "x", "y"));
    expect(resolveRestoreTarget(root, "sub-link/new")).toBe(path.join(real, "sub", "new"));
    expect(resolveRestoreTarget(root, "sub/../a")).toBe(path.join(real, "a"));
    for (const bad of ["..", "../root-evil", "out", "out/x", "/", dir, `${root}/../elsewhere`]) {
      expect(() => resolveRestoreTarget(root, bad), bad).toThrow(RestoreTargetError);
    }
  });
});

describe("computeRedundancy", () => {
  it("finds snapshots older than the scanned window, copies of all sources, and missing planned cells", async () => {
    const fx = makeFixture({
      extraYaml: "",
    });
    // Rewrite the jobs: a copy without `sources` carries every source backed up into `local`.
    const config = {
      ...fx.config,
      jobs: {
        nightly: {
          ...fx.config.jobs.nightly!,
          max_age: 26 * HOUR,
          steps: [
            { ...fx.config.jobs.nightly!.steps[1]!, name: "home", source: "home", repos: ["local"] },
            {
              ...fx.config.jobs.nightly!.steps[3]!,
              name: "offsite",
              from: "local",
              to: ["cloud"],
              sources: undefined,
            },
            { ...fx.config.jobs.nightly!.steps[2]!, name: "etc", source: "etc", repos: ["nas"] },
          ],
        },
      },
    };
    const store = createMemoryStore();
    const now = new Date("2026-11-26T12:00:00Z");
    const t = (h: number) => new Date(now.getTime() - h * HOUR);
    // The only successful backup of home is 200 h old, followed by 120 failed runs (beyond the window).
    await recordRun(store, {
      id: "01JOLD0000000000000000000",
      job: "nightly",
      startedAt: t(200),
      status: "succeeded",
      steps: [
        {
          name: "home",
          type: "backup",
          status: "succeeded",
          patch: {
            targets: [
              { repo: "local", status: "succeeded", duration_ms: 1, error: null, snapshot_id: "0123456789" },
            ],
          },
        },
        {
          name: "offsite",
          type: "copy",
          status: "succeeded",
          patch: { targets: [{ repo: "cloud", status: "succeeded", duration_ms: 1, error: null }] },
        },
        { name: "etc", type: "backup", status: "failed" },
      ],
    });
    for (let i = 0; i < 120; i++) {
      await recordRun(store, {
        id: `01JFAIL${String(i).padStart(18, "0")}`,
        job: "nightly",
        startedAt: t(199 - i),
        status: "failed",
        steps: [
          {
            name: "home",
            type: "backup",
            status: "failed",
            patch: { targets: [{ repo: "local", status: "failed", duration_ms: 1, error: null }] },
          },
          { name: "offsite", type: "copy", status: "skipped" },
          { name: "etc", type: "backup", status: "skipped" },
        ],
      });
    }
    await store.setState("drill:local:home", t(100).toISOString());
    const m = await computeRedundancy(config, store, now);
    const home = m.sources.find((s) => s.source === "home")!;
    expect(home.cells.map((c) => [c.repo, c.via, c.snapshot_id, c.stale])).toEqual([
      ["local", "backup", "0123456789", true],
      ["cloud", "copy", null, true],
      ["nas", null, null, false],
    ]);
    expect(home.cells[0]!.age_ms).toBe(200 * HOUR);
    expect(home.cells[0]!.last_verified_at).toBe(t(100).toISOString());
    expect(home).toMatchObject({ copies: 3, media: 2, offsite: 1, verdict: "ok" });
    const etc = m.sources.find((s) => s.source === "etc")!;
    expect(etc.cells[2]).toMatchObject({ repo: "nas", planned: true, latest_snapshot_at: null });
    // No snapshot yet: the source alone, on its own medium.
    expect(etc).toMatchObject({ copies: 1, media: 1, offsite: 0, verdict: "at_risk" });
    expect(etc.problems).toContain("no snapshot in nas yet, though the config writes it there");
    await store.close();
  });
});
