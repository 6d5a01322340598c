// S1 for the HTTP API: unique secrets are planted in the config's secret files, in history records
// (as if a step had failed to redact) and in a raw log file; no response of any endpoint may hold one.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { redactDeep } from "../../src/server/http.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { renderMetrics } from "../../src/metrics/render-metrics.js";
import { createRedactor } from "../../src/util/redact.js";
import { makeFixture, seedHistory, type Fixture } from "./fixture.js";

const NOW = new Date("2026-11-26T12:00:00.000Z");

let fx: Fixture;
let store: RunStore;
let runIds: string[];

beforeEach(async () => {
  fx = makeFixture({ token: true });
  store = createMemoryStore();
  const ids = await seedHistory(store, fx, NOW);
  runIds = [...ids.nightly, ids.quick];
});

afterEach(async () => {
  await store.close();
});

function variants(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")];
}

describe("S1: no API response holds a secret", () => {
  it("GET endpoints, error responses and POST answers", async () => {
    const token = fx.token as string;
    const auth = { Authorization: `Bearer ${token}` };
    const app = createApp({
      config: fx.config,
      store,
      token,
      now: () => NOW,
      logError: () => undefined,
      renderMetrics: () => renderMetrics(fx.config, store, NOW),
      // A child that failed at once and printed secrets: the 500 quotes its output.
      runJob: () =>
        Promise.resolve({
          pid: 1,
          run_id: null,
          exit_code: 2,
          output_tail: `error: cannot read ${fx.secrets.join(" ")}`,
        }),
    });

    const gets = [
      "/",
      "/app.js",
      "/healthz",
      "/metrics",
      "/api/info",
      "/api/status",
      "/api/runs",
      "/api/runs?limit=100",
      "/api/runs?job=nightly",
      "/api/config",
      "/api/redundancy",
      "/api/runs/latest",
      ...runIds.flatMap((id) => [`/api/runs/${id}`, `/api/runs/${id}/logs`]),
      `/api/runs/${runIds[1]}/logs?step=home`,
      `/api/runs/${runIds[2]}/logs?step=leak`,
      // Error paths that echo what was asked.
      `/api/runs/${fx.secrets[0]}`,
      `/api/runs?job=${fx.secrets[0]}`,
      `/api/runs?before=${fx.secrets[0]}`,
      `/api/runs/${runIds[2]}/logs?step=${fx.secrets[0]}`,
    ];
    const bodies: Array<[string, string]> = [];
    for (const p of gets) {
      const res = await app.request(p, { headers: auth });
      bodies.push([p, await res.text()]);
    }
    const posts: Array<[string, unknown]> = [
      ["/api/jobs/nightly/run", undefined],
      ["/api/restore", { repo: "local", target: "fine" }],
      ["/api/restore", { repo: "local", target: `../${fx.secrets[1]}` }],
      ["/api/restore", { repo: fx.secrets[2], target: "x" }],
      ["/api/restore", { repo: "local", target: "x", include: [`-${fx.secrets[3]}`] }],
    ];
    for (const [p, body] of posts) {
      const res = await app.request(p, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      bodies.push([`POST ${p} ${JSON.stringify(body)}`, await res.text()]);
    }
    // Unauthorised answers must not echo a wrong token either.
    const wrong = await app.request("/api/status", { headers: { Authorization: `Bearer ${fx.secrets[0]}` } });
    bodies.push(["wrong token", await wrong.text()]);

    // The planted values really are in the history and the log, so the checks below can fail.
    const raw = JSON.stringify(await store.listRuns({ limit: 10 }));
    expect(raw).toContain(fx.secrets[0]);
    expect(raw).toContain(fx.secrets[3]);
    expect(bodies.find(([p]) => p.endsWith("logs?step=home"))?.[1]).toContain("wrong password ***");
    expect(bodies.find(([p]) => p.startsWith("POST /api/jobs"))?.[1]).toContain("cannot read ***");

    for (const [where, text] of bodies) {
      for (const secret of fx.secrets) {
        for (const v of variants(secret)) expect(text.includes(v), `${where} contains ${v}`).toBe(false);
      }
    }
  });
});

describe("redactDeep", () => {
  it("masks secrets that JSON would escape, and keys", () => {
    const secret = 'pa"ss\\wo\nrd-1234';
    const redactor = createRedactor([secret]);
    const json = JSON.stringify(
      redactDeep({ [secret]: [`x ${secret} y`, { deep: secret }], n: 1, z: null }, redactor),
    );
    expect(json).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(JSON.parse(json)).toEqual({ "***": ["x *** y", { deep: "***" }], n: 1, z: null });
  });
});
