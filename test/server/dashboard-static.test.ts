// The built dashboard (web/dist/, from `npm run build`) as `holdfast serve` serves it: every view URL
// answers the same index.html, assets come compressed and cacheable, nothing is inline (the CSP has no
// 'unsafe-inline') and nothing points off the server.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp, PACKAGE_ROOT } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { makeFixture, type Fixture } from "./fixture.js";
import { makeTempDir } from "../helpers/tmp.js";

let fx: Fixture;
let store: RunStore;
beforeEach(() => {
  fx = makeFixture();
  store = createMemoryStore();
});
afterEach(async () => {
  await store.close();
});

const app = (webDir?: string) =>
  createApp({
    config: fx.config,
    store,
    token: null,
    logError: () => undefined,
    ...(webDir ? { webDir } : {}),
  });

describe("the built dashboard", () => {
  it("answers every view URL with index.html, and nothing in it is inline or external", async () => {
    const a = app();
    const home = await (await a.request("/")).text();
    for (const url of [
      "/jobs/nightly",
      "/runs/01JABCDEF",
      "/repos/local",
      "/repos/local/snapshots/abcdef12",
      "/repos/local/snapshots/abcdef12/restore",
      "/index.html",
    ]) {
      const res = await a.request(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await res.text()).toBe(home);
    }
    expect(home).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
    expect(home).not.toMatch(/<style|\sstyle=/); // no inline style
    const assets = [...home.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const text = await (await a.request(asset)).text();
      expect(text, asset).not.toMatch(/(?:fetch|import)\(\s*["'`]https?:/);
      expect(text, asset).not.toMatch(/url\(\s*["']?https?:/);
    }
  });

  it("serves assets compressed when asked, with long caching for hashed names", async () => {
    const a = app();
    const home = await (await a.request("/")).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(home)?.[1] as string;
    const plain = await a.request(script);
    const raw = Buffer.from(await plain.arrayBuffer());
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("cache-control")).toContain("immutable");

    const gz = await a.request(script, { headers: { "Accept-Encoding": "gzip, deflate" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    const gzBody = Buffer.from(await gz.arrayBuffer());
    expect(gzBody.length).toBeLessThan(raw.length / 2);
    expect(zlib.gunzipSync(gzBody).equals(raw)).toBe(true);

    const br = await a.request(script, { headers: { "Accept-Encoding": "gzip, deflate, br" } });
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(zlib.brotliDecompressSync(Buffer.from(await br.arrayBuffer())).equals(raw)).toBe(true);
    expect(br.headers.get("vary")).toBe("Accept-Encoding");

    expect((await a.request("/")).headers.get("cache-control")).toBe("no-cache");
  });

  it("refuses names that are not built files, and says how to build when web/dist is missing", async () => {
    const a = app();
    for (const p of [
      "/assets/nope.js",
      "/assets/..%2F..%2Fpackage.json",
      "/src/main.tsx",
      "/web/dist/index.html",
    ]) {
      expect((await a.request(p)).status, p).toBe(404);
    }
    const empty = makeTempDir("holdfast-web-missing-");
    const res = await app(path.join(empty, "dist")).request("/jobs/x");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string; hint: string } };
    expect(body.error.hint).toContain("npm run build");
    expect(fs.existsSync(path.join(PACKAGE_ROOT, "web", "dist", "index.html"))).toBe(true);
  });
});
