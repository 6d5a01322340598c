// Snapshots and the file browser against a real restic repository (both restic versions): the paged,
// filtered listing, one directory per `restic ls`, three levels deep, names with spaces and commas,
// the per-snapshot cache (a second open runs no restic and is fast for 10,000 entries).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import type { ServerResticHost } from "../../src/server/restic-host.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { removeDir } from "../helpers/restic-backends.js";
import { LISTING_TTL_MS, SnapshotService } from "../../src/server/snapshot-service.js";
import { createRedactor } from "../../src/util/redact.js";
import { BIG_DIR_FILES, makeBrowseFixture, type BrowseFixture } from "./browse-fixture.js";

const json = (res: Response): Promise<any> => res.json() as Promise<any>;

let fx: BrowseFixture;
let store: RunStore;
let resticCalls: string[][];
let app: ReturnType<typeof createApp>;

beforeAll(() => {
  fx = makeBrowseFixture();
  store = createMemoryStore();
  resticCalls = [];
  // The real host, with every restic command it starts noted (to see what the cache saves).
  const counting: ServerResticHost = (options) => {
    const host = fx.resticHost(options);
    return {
      ...host,
      exec: (command, args, o) => {
        resticCalls.push([command, ...args]);
        return host.exec(command, args, o);
      },
    };
  };
  app = createApp({ config: fx.config, store, token: null, resticHost: counting, logError: () => undefined });
}, 120_000);

afterAll(async () => {
  await store.close();
  removeDir(fx.dir);
});

const lsCalls = () => resticCalls.filter((c) => c.includes("ls")).length;

describe(`browsing snapshots (${resticUnderTest.label})`, () => {
  it("lists repositories and a repository's snapshots, paged and filtered, newest first", async () => {
    const repos = await json(await app.request("/api/repositories"));
    expect(repos.repositories).toEqual([{ name: "local", backend: "local", offsite: false }]);

    const all = await json(await app.request("/api/repositories/local/snapshots"));
    expect(all.total).toBe(2);
    expect(all.snapshots.map((s: { id: string }) => s.id)).toEqual([fx.otherId, fx.dataId]);
    expect(all.facets).toEqual({
      sources: ["data", "other"],
      hosts: [expect.any(String)],
      tags: ["holdfast", "job:nightly", "source:data", "source:other"],
    });
    const data = all.snapshots[1];
    expect(data).toMatchObject({ source: "data", job: "nightly", holdfast: true, paths: [fx.src] });
    if (resticUnderTest.has("programVersion")) expect(data.program_version).toMatch(/^restic 0\.\d+/);
    else expect(data.program_version).toBeNull();
    // restic 0.17+ records the size in the snapshot; 0.14 does not and holdfast's history has no run.
    if (resticUnderTest.version === "0.18") expect(data.size).toBeGreaterThan(300_000);
    else expect(data.size).toBeNull();

    const bySource = await json(await app.request("/api/repositories/local/snapshots?source=data"));
    expect(bySource.snapshots.map((s: { id: string }) => s.id)).toEqual([fx.dataId]);
    const byTag = await json(
      await app.request("/api/repositories/local/snapshots?tag=source:other&tag=holdfast"),
    );
    expect(byTag.total).toBe(1);
    const page = await json(await app.request("/api/repositories/local/snapshots?limit=1&offset=1"));
    expect(page).toMatchObject({ total: 2, offset: 1, limit: 1 });
    expect(page.snapshots.map((s: { id: string }) => s.id)).toEqual([fx.dataId]);
    const q = await json(await app.request(`/api/repositories/local/snapshots?q=${fx.dataId.slice(0, 6)}`));
    expect(q.total).toBe(1);

    const one = await json(await app.request(`/api/repositories/local/snapshots/${fx.dataId.slice(0, 8)}`));
    expect(one.id).toBe(fx.dataId);
    const latest = await json(await app.request("/api/repositories/local/snapshots/latest?source=data"));
    expect(latest.id).toBe(fx.dataId);

    expect((await app.request("/api/repositories/nope/snapshots")).status).toBe(404);
    expect((await app.request("/api/repositories/local/snapshots/deadbeef")).status).toBe(404);
    expect((await app.request("/api/repositories/local/snapshots/not-hex")).status).toBe(400);
    expect((await app.request("/api/repositories/local/snapshots?limit=x")).status).toBe(400);
  });

  it("opens directories one by one, three levels deep, with spaces and commas in names", async () => {
    const base = `/api/repositories/local/snapshots/${fx.dataId}/ls`;
    const open = async (dir: string) => {
      const res = await app.request(`${base}?path=${encodeURIComponent(dir)}`);
      expect(res.status, dir).toBe(200);
      return json(res);
    };
    // From the root of the snapshot down to the source.
    let dir = "/";
    for (const part of fx.src.split("/").filter(Boolean)) {
      const listing = await open(dir);
      expect(listing.entries.map((e: { name: string }) => e.name)).toContain(part);
      dir = dir === "/" ? `/${part}` : `${dir}/${part}`;
    }
    const top = await open(fx.src);
    expect(top.entries.map((e: { name: string; type: string }) => [e.name, e.type])).toEqual([
      ["big", "dir"],
      ["folder with spaces, and comma", "dir"],
      ["level 1", "dir"],
      ["a.txt", "file"],
      ["b, with comma.txt", "file"],
    ]);
    const l1 = await open(`${fx.src}/level 1`);
    expect(l1.entries.find((e: { name: string }) => e.name === "blob.bin")).toMatchObject({
      type: "file",
      size: 300_000,
    });
    const l2 = await open(`${fx.src}/level 1/level, 2`);
    expect(l2.entries.map((e: { name: string }) => e.name)).toEqual(["level 3"]);
    const l3 = await open(`${fx.src}/level 1/level, 2/level 3/`);
    expect(l3).toMatchObject({ path: `${fx.src}/level 1/level, 2/level 3`, count: 1, cached: false });
    expect(l3.entries[0]).toMatchObject({
      name: "deep file.txt",
      path: `${fx.src}/level 1/level, 2/level 3/deep file.txt`,
      size: 18,
    });

    expect((await app.request(`${base}?path=${encodeURIComponent(`${fx.src}/nope`)}`)).status).toBe(404);
    expect((await app.request(`${base}?path=${encodeURIComponent(`${fx.src}/a.txt`)}`)).status).toBe(400);
    expect((await app.request(`${base}?path=relative`)).status).toBe(400);
  });

  it("answers a cached directory of 10,000 entries without restic, in well under 200 ms", async () => {
    const url = `/api/repositories/local/snapshots/${fx.dataId.slice(0, 8)}/ls?path=${encodeURIComponent(`${fx.src}/big`)}`;
    const first = await json(await app.request(url));
    expect(first).toMatchObject({ cached: false, count: BIG_DIR_FILES });
    expect(first.entries[0].name).toBe("f00000");
    const before = lsCalls();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await app.request(url, { headers: { "Accept-Encoding": "br, gzip" } });
      const body = await res.text();
      times.push(performance.now() - t0);
      expect(JSON.parse(body)).toMatchObject({ cached: true, count: BIG_DIR_FILES });
    }
    expect(lsCalls()).toBe(before);
    times.sort((a, b) => a - b);
    process.stderr.write(
      `cached 10k-entry directory: median ${times[2]?.toFixed(1)} ms (${resticUnderTest.label})\n`,
    );
    expect(times[2]).toBeLessThan(200);
  });

  it("resolves a snapshot listed before by its full id without restic, also once the listing is old", async () => {
    let clock = 1_000_000;
    const calls: string[][] = [];
    const host: ServerResticHost = (options) => {
      const h = fx.resticHost(options);
      return {
        ...h,
        exec: (command, args, o) => {
          calls.push([command, ...args]);
          return h.exec(command, args, o);
        },
      };
    };
    const svc = new SnapshotService({
      config: fx.config,
      store,
      redactor: createRedactor(),
      resticHost: host,
      now: () => clock,
    });
    const listings = () => calls.filter((c) => c.includes("snapshots")).length;
    await svc.list("local");
    expect(listings()).toBe(1);
    clock += LISTING_TTL_MS + 1;
    // Opening a cached folder of a snapshot by its full id (the dashboard's links) runs no restic.
    expect((await svc.resolve("local", fx.dataId)).id).toBe(fx.dataId);
    expect(listings()).toBe(1);
    await expect(svc.resolve("nope", fx.dataId)).rejects.toThrow(/no repository named "nope"/);
    // A prefix or `latest` is looked up in a listing as fresh as before …
    expect((await svc.resolve("local", fx.dataId.slice(0, 8))).id).toBe(fx.dataId);
    expect(listings()).toBe(2);
    // … and `fresh` (a restore or download of latest) always lists anew.
    expect((await svc.resolve("local", fx.dataId, null, true)).id).toBe(fx.dataId);
    expect(listings()).toBe(3);
  });
});
