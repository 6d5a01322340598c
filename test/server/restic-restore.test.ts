// Restore and download through the API against a real restic repository (both restic versions):
// paths as an array (a comma is part of a name), a new directory under the restore root, bytes
// compared on disk, the result told truthfully, every restore and download in the history; downloads
// streamed from restic dump as the file itself, tar.gz and zip.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/app.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { RunStore } from "../../src/store/types.js";
import { restoreMessage } from "../../src/server/operations.js";
import { resticUnderTest } from "../helpers/restic-version.js";
import { makeSharedDir, removeDir, restic, resticSnapshots } from "../helpers/restic-backends.js";
import { makeBrowseFixture, type BrowseFixture } from "./browse-fixture.js";

const json = (res: Response): Promise<any> => res.json() as Promise<any>;
const POST = { method: "POST", headers: { "X-Holdfast-Request": "1", "Content-Type": "application/json" } };

let fx: BrowseFixture;
let store: RunStore;
let app: ReturnType<typeof createApp>;
let scratch: string;

beforeAll(() => {
  fx = makeBrowseFixture();
  store = createMemoryStore();
  scratch = makeSharedDir("holdfast-dl-");
  app = createApp({
    config: fx.config,
    store,
    token: null,
    resticHost: fx.resticHost,
    logError: () => undefined,
  });
}, 120_000);

afterAll(async () => {
  await store.close();
  removeDir(fx.dir);
  removeDir(scratch);
});

const post = (url: string, body: unknown) => app.request(url, { ...POST, body: JSON.stringify(body) });

async function finished(res: Response): Promise<any> {
  expect([200, 202]).toContain(res.status);
  let op = await json(res);
  const deadline = Date.now() + 60_000;
  while (op.state === "running" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    op = await json(await app.request(op.status_url));
  }
  return op;
}

describe(`restore through the API (${resticUnderTest.label})`, () => {
  it("restores two files and a folder with spaces and a comma into a new directory, byte for byte", async () => {
    const paths = [
      `${fx.src}/a.txt`,
      `${fx.src}/b, with comma.txt`,
      `${fx.src}/folder with spaces, and comma`,
      `${fx.src}/level 1/blob.bin`,
    ];
    const op = await finished(
      await post("/api/restore", { repo: "local", snapshot: fx.dataId.slice(0, 8), paths }),
    );
    expect(op).toMatchObject({
      state: "succeeded",
      error: null,
      summary: {
        kind: "restore",
        who: "loopback",
        repo: "local",
        snapshot_id: fx.dataId,
        paths,
        dry_run: false,
      },
    });
    const target = op.summary.target as string;
    expect(path.dirname(target)).toBe(fs.realpathSync(fx.restoreRoot));
    expect(path.basename(target)).toMatch(new RegExp(`^data-${fx.dataId.slice(0, 8)}-\\d{8}-\\d{6}$`));
    for (const p of [
      ...paths,
      `${fx.src}/folder with spaces, and comma/inner/y.txt`,
      `${fx.src}/folder with spaces, and comma/x.txt`,
    ]) {
      if (fs.statSync(p).isDirectory()) continue;
      expect(fs.readFileSync(path.join(target, p)).equals(fs.readFileSync(p)), p).toBe(true);
    }
    // Only what was asked: the other files of the source are not there.
    expect(fs.existsSync(path.join(target, fx.src, "big"))).toBe(false);
    expect(op.summary.files_restored).toBeGreaterThanOrEqual(6);
    expect(op.summary.message).toMatch(/^restored \d+ files and directories/);

    const [run] = await store.listRuns({ job: "@restore", limit: 1 });
    expect(run).toMatchObject({ id: op.id, job: "@restore", trigger: "api", status: "succeeded" });
    expect(run?.steps[0]?.summary).toMatchObject({ who: "loopback", target, paths });
  });

  it("refuses paths that are not in the snapshot, comma strings, and the original location unconfirmed", async () => {
    const missing = await post("/api/restore", {
      repo: "local",
      snapshot: fx.dataId,
      paths: [`${fx.src}/a.txt,${fx.src}/b.txt`],
    });
    expect(missing.status).toBe(400);
    const body = await json(missing);
    expect(body.error.message).toContain("not in snapshot");
    expect(body.missing).toEqual([`${fx.src}/a.txt,${fx.src}/b.txt`]);
    expect((await post("/api/restore", { repo: "local", paths: "/x" })).status).toBe(400);
    const original = await post("/api/restore", { repo: "local", snapshot: fx.dataId, to_original: true });
    expect(original.status).toBe(400);
    expect((await json(original)).error.message).toContain("confirm_original");
    expect(fs.readdirSync(fx.restoreRoot).length).toBe(1);
  });

  it("previews with a dry run on restic 0.17+, and says why not before", async () => {
    const op = await finished(
      await post("/api/restore", {
        repo: "local",
        snapshot: fx.dataId,
        paths: [`${fx.src}/a.txt`],
        dry_run: true,
      }),
    );
    if (resticUnderTest.version === "0.18") {
      expect(op.state).toBe("succeeded");
      expect(op.summary.would_restore).toContain(`${fx.src}/a.txt`);
      expect(op.summary.message).toMatch(/^dry run: would restore/);
    } else {
      expect(op.state).toBe("failed");
      expect(op.error.message).toContain("needs restic 0.17");
    }
    // Nothing was written by the dry run.
    expect(fs.readdirSync(fx.restoreRoot).length).toBe(1);
  });

  it("says 'nothing restored' for a restore that restored nothing", () => {
    const base = {
      kind: "restore",
      who: "x",
      repo: "r",
      snapshot_id: null,
      target: "/t",
      dry_run: false,
      files_skipped: null,
    } as const;
    expect(
      restoreMessage({ ...base, paths: ["/a"], files_restored: 0, bytes_restored: 0, message: "" }),
    ).toBe("nothing restored: the paths matched nothing in the snapshot");
  });
});

describe(`downloads (${resticUnderTest.label})`, () => {
  const download = async (p: string, format?: string) => {
    const res = await post("/api/downloads", {
      repo: "local",
      snapshot: fx.dataId,
      path: p,
      ...(format ? { format } : {}),
    });
    expect(res.status, p).toBe(201);
    const ticket = await json(res);
    const got = await app.request(ticket.url);
    expect(got.status).toBe(200);
    const bytes = Buffer.from(await got.arrayBuffer());
    // A link works once.
    expect((await app.request(ticket.url)).status).toBe(404);
    return { ticket, got, bytes };
  };

  it("streams a file as itself, a folder as tar.gz and as zip, and records each", async () => {
    const file = await download(`${fx.src}/level 1/blob.bin`);
    expect(file.got.headers.get("content-disposition")).toContain('filename="blob.bin"');
    expect(file.bytes.equals(fs.readFileSync(`${fx.src}/level 1/blob.bin`))).toBe(true);

    const folder = `${fx.src}/folder with spaces, and comma`;
    const tgz = await download(folder);
    expect(tgz.ticket.file_name).toBe("folder with spaces, and comma.tar.gz");
    const tgzFile = path.join(scratch, "f.tar.gz");
    fs.writeFileSync(tgzFile, tgz.bytes);
    const out = path.join(scratch, "untar");
    fs.mkdirSync(out);
    const untar = spawnSync("tar", ["-xzf", tgzFile, "-C", out], { encoding: "utf8" });
    expect(untar.status, untar.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, folder, "inner", "y.txt"), "utf8")).toBe("y content\n");
    expect(fs.readFileSync(path.join(out, folder, "x.txt"), "utf8")).toBe("x content\n");

    const zip = await download(folder, "zip");
    expect(zip.bytes.subarray(0, 2).toString("latin1")).toBe("PK");
    const zipFile = path.join(scratch, "f.zip");
    fs.writeFileSync(zipFile, zip.bytes);
    const unzipped = spawnSync("unzip", ["-p", zipFile, `${folder.slice(1)}/inner/y.txt`], {
      encoding: "utf8",
    });
    expect(unzipped.status, unzipped.stderr).toBe(0);
    expect(unzipped.stdout).toBe("y content\n");

    const runs = await store.listRuns({ job: "@download", limit: 10 });
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(runs[2]?.steps[0]?.summary).toMatchObject({
      kind: "download",
      who: "loopback",
      format: "raw",
      bytes_restored: 300_000,
    });
  });

  it("refuses what is not there, and a folder as raw", async () => {
    expect(
      (await post("/api/downloads", { repo: "local", snapshot: fx.dataId, path: `${fx.src}/nope` })).status,
    ).toBe(404);
    expect(
      (await post("/api/downloads", { repo: "local", snapshot: fx.dataId, path: fx.src, format: "raw" }))
        .status,
    ).toBe(400);
    expect((await app.request(`/api/downloads/${"0".repeat(48)}`)).status).toBe(404);
  });
});

describe(`latest is the latest, not the cached listing's (${resticUnderTest.label})`, () => {
  const file = () => path.join(fx.other, "o.txt");
  const target = () => ({
    repo: path.join(fx.dir, "repo"),
    passwordFile: path.join(fx.dir, "secrets", "repo.pass"),
  });
  /** The server lists (and caches, 20 s) the snapshots; then a new snapshot of `other` is made. */
  async function newSnapshotAfterListing(content: string): Promise<string> {
    expect((await app.request("/api/repositories/local/snapshots")).status).toBe(200);
    const before = new Set(resticSnapshots(target()).map((s) => s.id));
    fs.writeFileSync(file(), content);
    const backup = restic(target(), ["backup", "-q", "--tag", "holdfast,source:other,job:nightly", fx.other]);
    expect(backup.code, backup.stderr).toBe(0);
    const made = resticSnapshots(target()).find((s) => !before.has(s.id))?.id;
    expect(made).toMatch(/^[0-9a-f]{64}$/);
    return made as string;
  }

  it("a download of latest", async () => {
    await newSnapshotAfterListing("other source, version 2\n");
    const res = await post("/api/downloads", { repo: "local", snapshot: "latest", path: file() });
    expect(res.status).toBe(201);
    const got = await app.request((await json(res)).url);
    expect(await got.text()).toBe("other source, version 2\n");
  });

  it("a restore of latest", async () => {
    const made = await newSnapshotAfterListing("other source, version 3\n");
    const op = await finished(
      await post("/api/restore", { repo: "local", snapshot: "latest", source: "other", paths: [file()] }),
    );
    expect(op.state, JSON.stringify(op.error)).toBe("succeeded");
    expect(op.summary.snapshot_id).toBe(made);
    expect(fs.readFileSync(path.join(op.summary.target as string, file()), "utf8")).toBe(
      "other source, version 3\n",
    );
  });
});
