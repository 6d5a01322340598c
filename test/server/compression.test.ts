// The API's answers are compressed (brotli, else gzip) and a GET of unchanged JSON with If-None-Match
// is a body-less 304 — what keeps an idle dashboard's polling to a few hundred bytes a minute.
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { makeFixture, seedHistory, type Fixture } from "./fixture.js";

const NOW = new Date("2026-11-26T12:00:00.000Z");
let fx: Fixture;
let store: RunStore;

beforeEach(async () => {
  fx = makeFixture();
  store = createMemoryStore();
  await seedHistory(store, fx, NOW);
});
afterEach(async () => {
  await store.close();
});

const app = () =>
  createApp({ config: fx.config, store, token: null, now: () => NOW, logError: () => undefined });
const bytes = async (res: Response) => Buffer.from(await res.arrayBuffer());

describe("compressed answers and ETags", () => {
  it("brotli or gzip as the client takes it, the same JSON inside", async () => {
    const a = app();
    const plain = await a.request("/api/runs?limit=20");
    expect(plain.headers.get("content-encoding")).toBeNull();
    const text = await plain.text();
    expect(text.length).toBeGreaterThan(4096);

    const br = await a.request("/api/runs?limit=20", { headers: { "Accept-Encoding": "gzip, deflate, br" } });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(br.headers.get("vary")).toMatch(/Accept-Encoding/i);
    const brBody = await bytes(br);
    expect(zlib.brotliDecompressSync(brBody).toString("utf8")).toBe(text);
    expect(brBody.length).toBeLessThan(text.length / 4);

    const gz = await a.request("/api/runs?limit=20", { headers: { "Accept-Encoding": "gzip" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(zlib.gunzipSync(await bytes(gz)).toString("utf8")).toBe(text);

    // A tiny answer (an error body) goes as it is.
    const small = await a.request("/api/runs/nope", { headers: { "Accept-Encoding": "br" } });
    expect(small.status).toBe(404);
    expect(small.headers.get("content-encoding")).toBeNull();
    expect(((await small.json()) as { error: { kind: string } }).error.kind).toBe("not_found");
  });

  it("304 without a body for unchanged JSON; a change makes a new ETag", async () => {
    const a = app();
    const first = await a.request("/api/status");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^W\/"[\w-]{27}"$/);
    const again = await a.request("/api/status", { headers: { "If-None-Match": etag ?? "" } });
    expect(again.status).toBe(304);
    expect((await bytes(again)).length).toBe(0);
    expect(again.headers.get("etag")).toBe(etag);
    // The same ETag whatever the encoding (it names the JSON, not the bytes).
    const br = await a.request("/api/status", { headers: { "Accept-Encoding": "br" } });
    expect(br.headers.get("etag")).toBe(etag);

    await store.createRun({
      id: "01M8Z000000000000000000000",
      job: "nightly",
      host: "testhost",
      trigger: "manual",
      pid: 1,
      started_at: NOW.toISOString(),
      steps: [{ name: "home", type: "backup" }],
    });
    const changed = await a.request("/api/status", { headers: { "If-None-Match": etag ?? "" } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    // Errors and POSTs carry no ETag.
    expect((await a.request("/api/runs/nope")).headers.get("etag")).toBeNull();
  });
});
