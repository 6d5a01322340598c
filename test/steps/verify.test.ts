// The restore drill through `holdfast run` against real restic repositories: a healthy repository
// passes (every sampled file matched byte for byte, the drill time recorded for status/metrics);
// a file changed since the snapshot is skipped, not a mismatch; the file-count tolerance; a planted
// corruption in the middle of a data pack fails the drill per file with restic's own error; and the
// pure parts (reservoir, precise mtime, include escaping, restic's per-file restore errors).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson } from "../helpers/cli.js";
import { expectExit, writeTestConfig, type TestConfig } from "../helpers/holdfast-env.js";
import {
  makeSharedDir,
  removeDir,
  resticInit,
  resticSnapshots,
  startRestServer,
  writePassword,
} from "../helpers/restic-backends.js";
import { decodeLikeGo } from "../../src/steps/manifest-format.js";
import {
  includePattern,
  parseNanoTime,
  parseRestoreError,
  Reservoir,
  reservoirCapacity,
  sampleSize,
  sourceUnchanged,
  withinTolerance,
} from "../../src/steps/verify-sample.js";
import { seededRandom } from "../../src/util/seeded-random.js";

interface Step {
  name: string;
  status: string;
  duration_ms: number;
  error: { kind: string; message: string } | null;
  summary: Record<string, unknown> | null;
  targets: Array<Record<string, unknown> & { repo: string; status: string }>;
}

let root: string;
let src: string;

function plantSource(dir: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, `d${i % 4}`);
    fs.mkdirSync(sub, { recursive: true });
    // Different sizes (a few bigger than one restic chunk would be too slow here; 2–70 KB is enough).
    const size = 2_000 + 4 * ((i * 7919) % 17_000);
    const bytes = Buffer.alloc(size);
    for (let j = 0; j < size; j += 4) bytes.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
    fs.writeFileSync(path.join(sub, `f${i}.bin`), bytes);
  }
  fs.writeFileSync(path.join(dir, "name with [brackets] and *.txt"), "odd names are paths too\n");
  fs.symlinkSync("d0", path.join(dir, "link"));
}

function config(
  dir: string,
  repoPath: string,
  passwordFile: string,
  verify: Record<string, unknown>,
): TestConfig {
  return writeTestConfig(dir, {
    repositories: { local: { url: repoPath, password_file: passwordFile } },
    sources: { home: { paths: [src] } },
    jobs: {
      nightly: {
        steps: [
          { name: "local", type: "backup", source: "home", repos: ["local"] },
          { name: "drill", type: "verify", source: "home", repos: ["local"], ...verify },
        ],
      },
    },
  });
}

function step(run: { steps: Step[] }, name: string): Step {
  const s = run.steps.find((x) => x.name === name);
  if (!s) throw new Error(`no step ${name}`);
  return s;
}

beforeAll(() => {
  root = makeSharedDir("holdfast-verify-");
  src = path.join(root, "src");
  plantSource(src, 40);
});

afterAll(() => removeDir(root));

describe("verify (restore drill)", () => {
  it("passes on a healthy repository, skips changed files, and records the drill", async () => {
    const dir = path.join(root, "healthy");
    fs.mkdirSync(dir);
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "drill-1"),
    };
    resticInit(target);
    // The whole tree (41 regular files), so the changed file is surely in the sample.
    const cfg = config(dir, target.repo, target.passwordFile, { sample: "100%" });
    // holdfast's own temp dir, to see that the drill's private restore dir is gone afterwards.
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(tmp);
    const first = await cfg.run(["run", "--json"], { env: { TMPDIR: tmp } });
    expectExit(first, 0);
    const drill = step(parseJson(first), "drill");
    expect(drill.status).toBe("succeeded");
    const t = drill.targets[0]!;
    const snap = resticSnapshots(target)[0]!;
    expect(t).toMatchObject({
      repo: "local",
      status: "succeeded",
      sampled: 41,
      matched: 41,
      mismatched: 0,
      skipped_changed: 0,
      snapshot_files: 41,
      source_files: 41,
      snapshot_id: snap.id,
      short_id: snap.short_id,
    });
    expect(drill.summary).toMatchObject({ sampled: 41, matched: 41, mismatched: 0, passed: ["local"] });
    expect(fs.readdirSync(tmp)).toEqual([]);
    const plan = await cfg.run(["run", "--dry-run", "--step", "drill"]);
    expectExit(plan, 0);
    expect(plan.stdout).toContain("snapshots --json --tag holdfast,source:home --host testhost");
    expect(plan.stdout).toContain("restore '<snapshot>' --target '<private temp dir>' --include");

    // The drill time is kept for status and metrics.
    const metrics = await cfg.run(["metrics"]);
    expectExit(metrics, 0);
    const drillLine = metrics.stdout
      .split("\n")
      .find((l) => l.startsWith("holdfast_repository_last_drill_timestamp_seconds{"));
    expect(drillLine).toContain('repo="local"');
    expect(drillLine).toContain('source="home"');
    expect(Math.abs(Number(drillLine?.split(" ").at(-1)) - Date.now() / 1000)).toBeLessThan(120);

    // A file changed after the snapshot (same size, new content, new mtime): skipped, not a mismatch.
    const changed = path.join(src, "d1", "f1.bin");
    const size = fs.statSync(changed).size;
    fs.writeFileSync(changed, Buffer.alloc(size, 0x55));
    const onlyDrill = await cfg.run(["run", "--json", "--step", "drill"]);
    expectExit(onlyDrill, 0);
    const d2 = step(parseJson(onlyDrill), "drill").targets[0]!;
    expect(d2).toMatchObject({
      status: "succeeded",
      sampled: 41,
      matched: 40,
      mismatched: 0,
      skipped_changed: 1,
    });
    expect(d2.skipped_paths).toEqual([changed]);
  }, 120_000);

  it("fails when the source's file count moved beyond count_tolerance, and passes within it", async () => {
    const dir = path.join(root, "counts");
    fs.mkdirSync(dir);
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "drill-2"),
    };
    resticInit(target);
    const strict = config(dir, target.repo, target.passwordFile, { sample: 3, count_tolerance: 2 });
    expectExit(await strict.run(["run", "--json", "--step", "local"]), 0);
    const extra = path.join(src, "extra");
    fs.mkdirSync(extra);
    try {
      for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(extra, `n${i}.txt`), `new ${i}\n`);
      const failing = await strict.run(["run", "--json", "--step", "drill"]);
      expectExit(failing, 1);
      const d = step(parseJson(failing), "drill");
      expect(d.status).toBe("failed");
      expect(d.error?.kind).toBe("anomaly");
      expect(d.error?.message).toMatch(/holds 41 files, the source now 44/);
      expect(d.targets[0]).toMatchObject({ snapshot_files: 41, source_files: 44, mismatched: 0, matched: 3 });

      const lenient = config(dir, target.repo, target.passwordFile, { sample: 3, count_tolerance: "10%" });
      const passing = await lenient.run(["run", "--json", "--step", "drill"]);
      expectExit(passing, 0);
    } finally {
      fs.rmSync(extra, { recursive: true, force: true });
    }
  }, 120_000);

  it("fails after a planted corruption of a data pack, per file, with restic's own error", async () => {
    const dir = path.join(root, "corrupt");
    fs.mkdirSync(dir);
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "drill-3"),
    };
    resticInit(target);
    const cfg = config(dir, target.repo, target.passwordFile, { sample: "100%" });
    expectExit(await cfg.run(["run", "--json", "--step", "local"]), 0);
    // Overwrite bytes in the middle of every data pack (restic's packs are 4+ MiB at most here: one or two).
    const dataDir = path.join(target.repo, "data");
    const packs = fs
      .readdirSync(dataDir)
      .flatMap((sub) => fs.readdirSync(path.join(dataDir, sub)).map((f) => path.join(dataDir, sub, f)));
    expect(packs.length).toBeGreaterThan(0);
    for (const pack of packs) {
      fs.chmodSync(pack, 0o600);
      const size = fs.statSync(pack).size;
      const fd = fs.openSync(pack, "r+");
      fs.writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, Math.floor(size / 2));
      fs.closeSync(fd);
    }
    const res = await cfg.run(["run", "--json", "--step", "drill"]);
    expectExit(res, 1);
    const d = step(parseJson(res), "drill");
    expect(d.status).toBe("failed");
    const t = d.targets[0]!;
    expect(t.status).toBe("failed");
    // Either restic refused the damaged blob (read error per file) or it returned wrong bytes (mismatch).
    const bad = (t.read_errors as number) + (t.mismatched as number);
    expect(bad).toBeGreaterThan(0);
    expect(bad).toBeLessThan(41);
    expect(t.matched as number).toBe(41 - bad);
    if ((t.read_errors as number) > 0) {
      const files = t.read_error_files as Array<{ path: string; reason: string }>;
      expect(files[0]!.path.startsWith(src)).toBe(true);
      expect(files[0]!.reason).toMatch(/ciphertext verification failed|restic/);
      expect(d.error?.message).toContain(files[0]!.path);
    } else {
      expect(d.error?.kind).toBe("anomaly");
    }
  }, 120_000);
});

describe("verify: the source's count is what the source backs up", () => {
  it("counts with the source's excludes, exclude_file and exclude_if_present, as restic backed it up", async () => {
    const dir = makeSharedDir("holdfast-verify-excludes-");
    try {
      const source = path.join(dir, "src");
      for (const rel of [
        "a.txt",
        "b.txt",
        "cache/1",
        "cache/2",
        "cache/3",
        "tagged/.nobackup",
        "tagged/x",
        "scratch/y",
      ]) {
        fs.mkdirSync(path.dirname(path.join(source, rel)), { recursive: true });
        fs.writeFileSync(path.join(source, rel), `${rel}\n`);
      }
      const excludeFile = path.join(dir, "excludes.txt");
      fs.writeFileSync(excludeFile, "# from the file\nscratch\n");
      const target = {
        repo: path.join(dir, "repo"),
        passwordFile: writePassword(path.join(dir, "pw"), "drill-ex"),
      };
      resticInit(target);
      const cfg = writeTestConfig(dir, {
        repositories: { local: { url: target.repo, password_file: target.passwordFile } },
        sources: {
          ex: {
            paths: [source],
            exclude: ["cache"],
            exclude_file: [excludeFile],
            exclude_if_present: [".nobackup"],
          },
        },
        jobs: {
          nightly: {
            steps: [
              { name: "local", type: "backup", source: "ex", repos: ["local"] },
              {
                name: "drill",
                type: "verify",
                source: "ex",
                repos: ["local"],
                sample: "100%",
                count_tolerance: 0,
              },
            ],
          },
        },
      });
      const result = await cfg.run(["run", "--json"]);
      expectExit(result, 0);
      // a.txt, b.txt and the tag file itself (restic keeps it; the tagged directory's other files go).
      expect(step(parseJson(result), "drill").targets[0]).toMatchObject({
        snapshot_files: 3,
        source_files: 3,
      });
    } finally {
      removeDir(dir);
    }
  });
});

describe("verify: names that are not UTF-8, and a drill that compared nothing", () => {
  // restic's JSON gives a name with byte 0xff as "bad\ufffdname" (0.14.0 and 0.18.0 alike), so the
  // drill finds the real bytes in the source and restores them with a `?` in the include pattern.
  const bytesPath = (dir: string, ...parts: Buffer[]) =>
    Buffer.concat([Buffer.from(dir), ...parts.flatMap((p) => [Buffer.from("/"), p])]);

  function drillConfig(dir: string, source: string, verify: Record<string, unknown> = {}) {
    const target = {
      repo: path.join(dir, "repo"),
      passwordFile: writePassword(path.join(dir, "pw"), "drill-utf8"),
    };
    resticInit(target);
    return writeTestConfig(dir, {
      repositories: { local: { url: target.repo, password_file: target.passwordFile } },
      sources: { odd: { paths: [source] } },
      jobs: {
        nightly: {
          steps: [
            { name: "local", type: "backup", source: "odd", repos: ["local"] },
            { name: "drill", type: "verify", source: "odd", repos: ["local"], sample: "100%", ...verify },
          ],
        },
      },
    });
  }

  it("files whose names (or directories' names) are not UTF-8 are compared by their bytes", async () => {
    const dir = path.join(root, "not-utf8");
    const source = path.join(dir, "src");
    fs.mkdirSync(source, { recursive: true });
    const badDir = bytesPath(source, Buffer.from([0x64, 0xfe]));
    fs.mkdirSync(badDir);
    const files = [
      bytesPath(source, Buffer.from([0x62, 0x61, 0x64, 0xff, 0x6e])),
      bytesPath(source, Buffer.from([0x64, 0xfe]), Buffer.from([0x63, 0x61, 0x66, 0xe9])),
      Buffer.from(path.join(source, "plain.txt")),
    ];
    // Whole-second mtimes, so the tampering below can put the exact mtime back.
    files.forEach((f, i) => {
      fs.writeFileSync(f, `content ${i}\n`.repeat(50));
      fs.utimesSync(f, 1_700_000_000, 1_700_000_000);
    });
    const cfg = drillConfig(dir, source);
    const first = await cfg.run(["run", "--json"]);
    expectExit(first, 0);
    const t = step(parseJson(first), "drill").targets[0]!;
    expect(t).toMatchObject({ status: "succeeded", sampled: 3, matched: 3, skipped_changed: 0 });

    // Same size and mtime, other bytes: a real comparison of the non-UTF-8 file finds it.
    const victim = files[0]!;
    const st = fs.statSync(victim);
    expect(st.mtimeMs).toBe(1_700_000_000_000);
    fs.writeFileSync(victim, "X".repeat(st.size));
    fs.utimesSync(victim, 1_700_000_000, 1_700_000_000);
    const second = await cfg.run(["run", "--json", "--step", "drill"]);
    expectExit(second, 1);
    const d = step(parseJson(second), "drill");
    expect(d.targets[0]).toMatchObject({ status: "failed", matched: 2, mismatched: 1 });
    expect(d.error?.kind).toBe("anomaly");
  }, 120_000);

  it("a drill that compared none of its sampled files fails (anomaly), it is no pass", async () => {
    const dir = path.join(root, "compared-nothing");
    const source = path.join(dir, "src");
    fs.mkdirSync(source, { recursive: true });
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(source, `f${i}.txt`), `v1 ${i}\n`);
    const cfg = drillConfig(dir, source);
    expectExit(await cfg.run(["run", "--step", "local"]), 0);
    // Every file changed after the snapshot: nothing can be compared.
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(source, `f${i}.txt`), `v2 ${i} longer\n`);
    const drilled = await cfg.run(["run", "--json", "--step", "drill"]);
    expectExit(drilled, 1);
    const d = step(parseJson(drilled), "drill");
    expect(d.status).toBe("failed");
    expect(d.error?.kind).toBe("anomaly");
    expect(d.error?.message).toMatch(/compared none of the 5 sampled files/);
    expect(d.targets[0]).toMatchObject({ sampled: 5, matched: 0, skipped_changed: 5 });
    expect(d.summary).toMatchObject({ passed: [] });
  }, 120_000);

  it("two names that read the same after restic's replacement are skipped, not guessed", async () => {
    const dir = path.join(root, "ambiguous");
    const source = path.join(dir, "src");
    fs.mkdirSync(source, { recursive: true });
    fs.writeFileSync(bytesPath(source, Buffer.from([0x78, 0xff])), "one\n");
    fs.writeFileSync(bytesPath(source, Buffer.from([0x78, 0xfe])), "two\n");
    fs.writeFileSync(path.join(source, "plain.txt"), "three\n");
    const cfg = drillConfig(dir, source);
    const run = await cfg.run(["run", "--json"]);
    expectExit(run, 0);
    const t = step(parseJson(run), "drill").targets[0]!;
    expect(t).toMatchObject({ status: "succeeded", sampled: 3, matched: 1, skipped_changed: 2 });
  }, 120_000);
});

describe("verify against a REST repository", () => {
  it("passes, then fails with restic's own classified kind (network) when the server is gone", async () => {
    const dir = path.join(root, "rest");
    fs.mkdirSync(dir);
    const rest = await startRestServer(dir);
    try {
      const target = {
        repo: `${rest.base}drill`,
        passwordFile: writePassword(path.join(dir, "pw"), "drill-4"),
      };
      resticInit(target);
      const urlFile = path.join(dir, "drill.url");
      fs.writeFileSync(urlFile, `${target.repo}\n`, { mode: 0o600 });
      const cfg = writeTestConfig(dir, {
        // A short open_timeout: restic 0.17+ retries a dead backend for 15 minutes, holdfast stops it
        // at open_timeout and classifies it `network` (the default 60 s would only make this wait).
        repositories: {
          offsite: {
            url_file: urlFile,
            password_file: target.passwordFile,
            offsite: true,
            open_timeout: "5s",
          },
        },
        sources: { home: { paths: [src] } },
        jobs: {
          nightly: {
            steps: [
              { name: "offsite", type: "backup", source: "home", repos: ["offsite"] },
              {
                name: "drill",
                type: "verify",
                source: "home",
                repos: ["offsite"],
                sample: 5,
                timeout: "60s",
              },
            ],
          },
        },
      });
      const ok = await cfg.run(["run", "--json"]);
      expectExit(ok, 0);
      expect(step(parseJson(ok), "drill").targets[0]).toMatchObject({ status: "succeeded", matched: 5 });
      await rest.stop();
      const down = await cfg.run(["run", "--json", "--step", "drill"]);
      expectExit(down, 1);
      const d = step(parseJson(down), "drill");
      expect(d.status).toBe("failed");
      expect(d.error?.kind).toBe("network");
      expect(d.targets[0]).toMatchObject({ repo: "offsite", status: "failed" });
      expect(d.duration_ms).toBeLessThan(5_000 + 10_000);
    } finally {
      await rest.stop();
    }
  }, 120_000);
});

describe("verify helpers", () => {
  it("reservoir samples are uniform and replayable from the seed", () => {
    const counts = new Array<number>(20).fill(0);
    for (let round = 0; round < 2_000; round++) {
      const r = new Reservoir<number>(5, seededRandom(round));
      for (let i = 0; i < 20; i++) r.offer(i);
      for (const x of r.take(5)) counts[x]!++;
    }
    // Each item is in 5/20 of the samples: 500 of 2000, give or take.
    for (const c of counts) {
      expect(c).toBeGreaterThan(400);
      expect(c).toBeLessThan(600);
    }
    const a = new Reservoir<number>(3, seededRandom(7));
    const b = new Reservoir<number>(3, seededRandom(7));
    for (let i = 0; i < 1000; i++) {
      a.offer(i);
      b.offer(i);
    }
    expect(a.take(3)).toEqual(b.take(3));
    expect(a.seen).toBe(1000);
    expect(a.items).toHaveLength(3);
  });

  it("a source file is unchanged only with the snapshot's size and exact mtime", async () => {
    const file = path.join(root, "mtime-probe.txt");
    fs.writeFileSync(file, "twelve bytes");
    // The snapshot's view: restic's RFC 3339 mtime with nanoseconds.
    const ns = fs.statSync(file, { bigint: true }).mtimeNs;
    const iso = (n: bigint) =>
      `${new Date(Number(n / 1_000_000n)).toISOString().slice(0, 19)}.${String(n % 1_000_000_000n).padStart(9, "0")}Z`;
    const snap = { path: file, size: 12, mtime: iso(ns) };
    expect(await sourceUnchanged(snap)).toEqual({ changed: false });
    expect(await sourceUnchanged({ ...snap, size: 13 })).toMatchObject({ changed: true });
    // 1 µs later: a change (compared at the precision both sides have, nanoseconds here).
    expect(await sourceUnchanged({ ...snap, mtime: iso(ns + 1_000n) })).toMatchObject({ changed: true });
    // restic without a fraction: seconds are compared.
    const seconds = (ns / 1_000_000_000n) * 1_000_000_000n;
    expect(await sourceUnchanged({ ...snap, mtime: iso(seconds).replace(/\.\d+Z$/, "Z") })).toEqual({
      changed: false,
    });
    fs.rmSync(file);
    expect(await sourceUnchanged(snap)).toEqual({ changed: true, reason: "removed" });
  });

  it("sample sizes, tolerance, nanosecond times, include escaping, restore errors", () => {
    expect(sampleSize({ count: 25 }, 10)).toBe(10);
    expect(sampleSize({ count: 1e12 }, 50_000)).toBe(10_000);
    expect(reservoirCapacity({ count: 1e12 })).toBe(10_000);
    expect(sampleSize({ fraction: 0.02 }, 1000)).toBe(20);
    expect(sampleSize({ fraction: 0.02 }, 10)).toBe(1);
    expect(sampleSize({ fraction: 0.5 }, 0)).toBe(0);
    expect(withinTolerance({ count: 2 }, 100, 102)).toBe(true);
    expect(withinTolerance({ count: 2 }, 100, 97)).toBe(false);
    expect(withinTolerance({ fraction: 0.01 }, 1000, 1010)).toBe(true);
    expect(withinTolerance({ fraction: 0.01 }, 1000, 1011)).toBe(false);
    expect(parseNanoTime("2026-11-26T10:42:28.998189623Z")).toBe(1795689748998189623n);
    expect(parseNanoTime("2026-11-26T11:42:28.998189623+01:00")).toBe(1795689748998189623n);
    expect(parseNanoTime("2026-11-26T10:42:28Z")).toBe(1795689748000000000n);
    expect(parseNanoTime("yesterday")).toBeNull();
    expect(includePattern("/a/b [1]*?.txt")).toBe("/a/b \\[1\\]\\*\\?.txt");
    // U+FFFD (one byte that is not UTF-8, in restic's JSON) matches one byte: `?`.
    expect(includePattern("/a/bad\uFFFDname?")).toBe("/a/bad?name\\?");
    expect(decodeLikeGo(Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0xa9, 0xe2, 0x82]))).toBe(
      "a\uFFFD\uFFFDé\uFFFD\uFFFD",
    );
    expect(parseRestoreError("ignoring error for /src/f20.bin: ciphertext verification failed")).toEqual({
      path: "/src/f20.bin",
      message: "ciphertext verification failed",
    });
    expect(parseRestoreError("Fatal: There were 2 errors")).toBeNull();
  });
});
