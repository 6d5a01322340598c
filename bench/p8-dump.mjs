// P8 (targets.md): the `dump` step on a generated PostgreSQL database (2 GiB in the full run):
// holdfast's peak RSS ≤ 100 MB, and the step's wall time ≤ 1.1× of the same dump piped into restic by
// a shell, run bare in the same run:
//   bare:     bash -o pipefail -c 'pg_dump --format=custom … | nice -n 10 ionice -c3 restic backup --json --stdin …'
//   holdfast: node dist/cli/main.js run p8 --step pg   (one dump step, one local repository)
// Each run starts from an empty repository (a copy of one made by `restic init`, so init's key
// derivation is not timed) and an empty restic cache on both sides; bare and holdfast alternate.
//
// Also measured: two repositories, one dump teed into both (fan_out: tee, what holdfast does by
// default) against one dump per repository (fan_out: per_repo), with how many times pg_dump ran.
//
// The PostgreSQL server is private to the bench (initdb as the `postgres` user in a temp dir, a unix
// socket only); the generated cluster is kept in HOLDFAST_BENCH_P8_DIR (default
// /tmp/holdfast-bench-p8) for the next run of the same size.
//   HOLDFAST_BENCH_P8_MB=256     a quick run (default 2048: 2 GiB as pg_database_size)
//   HOLDFAST_BENCH_P8_RUNS=3     runs per side (median)
//   HOLDFAST_BENCH_P8_FAN_RUNS=0 skip the two-repository comparison (default: min(RUNS, 2) runs)
//   HOLDFAST_BENCH_P8_RESTIC=/opt/holdfast-tools/restic-0.18/usr/bin/restic   another restic
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const PG_BIN = process.env.HOLDFAST_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const MB = Number(process.env.HOLDFAST_BENCH_P8_MB ?? 2048);
const RUNS = Number(process.env.HOLDFAST_BENCH_P8_RUNS ?? 3);
const RESTIC = process.env.HOLDFAST_BENCH_P8_RESTIC ?? "restic";
const BASE = process.env.HOLDFAST_BENCH_P8_DIR ?? "/tmp/holdfast-bench-p8";
const TARGET_RATIO = 1.1;
const TARGET_RSS_MB = 100;

const log = (m) => process.stderr.write(`bench: P8 ${m}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function ids() {
  const u = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (u.status !== 0) throw new Error("the postgres system user is missing (install postgresql)");
  return { uid: Number(u.stdout), gid: Number(g.stdout) };
}

function must(r, what) {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** A private server on a unix socket over a data directory kept between runs of the same size. */
async function startServer() {
  const { uid, gid } = ids();
  const dir = path.join(BASE, `pg-${MB}`);
  const data = path.join(dir, "data");
  const sock = path.join(dir, "sock");
  const fresh = !fs.existsSync(path.join(dir, "ready"));
  if (fresh) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(sock, { recursive: true });
    fs.chmodSync(BASE, 0o755);
    fs.chmodSync(dir, 0o755);
    fs.chownSync(dir, uid, gid);
    fs.chownSync(sock, uid, gid);
    must(
      spawnSync(path.join(PG_BIN, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync"], {
        uid,
        gid,
        encoding: "utf8",
        cwd: "/",
      }),
      "initdb",
    );
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  const logFile = path.join(dir, "postgres.log");
  const child = spawn(
    path.join(PG_BIN, "postgres"),
    ["-D", data, "-k", sock, "-p", String(port), "-c", "listen_addresses=", "-c", "fsync=off"],
    { uid, gid, cwd: "/", stdio: ["ignore", fs.openSync(logFile, "a"), fs.openSync(logFile, "a")] },
  );
  const env = { PGHOST: sock, PGPORT: String(port), PGUSER: "postgres", PATH: process.env.PATH };
  const psql = (sql, db = "postgres") =>
    must(
      spawnSync(path.join(PG_BIN, "psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", db, "-c", sql], {
        env,
        encoding: "utf8",
      }),
      `psql ${sql.slice(0, 60)}`,
    ).trim();
  for (let i = 0; ; i++) {
    if (spawnSync(path.join(PG_BIN, "pg_isready"), ["-q"], { env }).status === 0) break;
    if (i > 300) throw new Error(`postgres did not start: ${fs.readFileSync(logFile, "utf8").slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (fresh) {
    log(`generating a ${MB} MiB database (kept in ${dir} for the next run) …`);
    const t0 = Date.now();
    psql("CREATE DATABASE bench");
    psql("CREATE TABLE rows (id bigint PRIMARY KEY, a text, b text, n numeric, t timestamptz)", "bench");
    // ~190 bytes a row on disk; md5 hex compresses about 2:1 in pg_dump's custom format.
    let next = 1;
    const chunk = Math.max(50_000, Math.min(1_000_000, Math.floor((MB * 2 ** 20) / 190 / 4)));
    while (Number(psql("SELECT pg_database_size('bench')")) < MB * 2 ** 20) {
      psql(
        `INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text), md5((g * 13)::text) || '-' || (g % 977), g * 0.37, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(${next}, ${next + chunk - 1}) g`,
        "bench",
      );
      next += chunk;
    }
    psql("VACUUM ANALYZE rows", "bench");
    fs.writeFileSync(path.join(dir, "ready"), "");
    log(`generated ${next - 1} rows in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  const size = Number(psql("SELECT pg_database_size('bench')"));
  return {
    sock,
    port,
    size,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGINT");
      }),
  };
}

/** Peak RSS (VmHWM, kB) of a process, sampled from /proc until it exits; with its wall time. */
function runSampled(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let peak = 0;
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, 20);
    child.on("exit", (code) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${out.slice(-2000)}`));
      else resolve({ ms, peakKb: peak, out });
    });
  });
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
  fs.mkdirSync(BASE, { recursive: true });
  const server = await startServer();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-bench-p8-run-"));
  try {
    const resticVersion = spawnSync(RESTIC, ["version"], { encoding: "utf8" }).stdout.trim();
    const pw = path.join(work, "pw");
    fs.writeFileSync(pw, "p8-bench-password\n", { mode: 0o600 });
    const env = { PATH: process.env.PATH, HOME: os.homedir(), LANG: "C.UTF-8" };
    const template = path.join(work, "template");
    must(
      spawnSync(RESTIC, ["init", "-q"], {
        env: {
          ...env,
          RESTIC_PASSWORD_FILE: pw,
          RESTIC_REPOSITORY: template,
          RESTIC_CACHE_DIR: path.join(work, "c0"),
        },
        encoding: "utf8",
      }),
      "restic init",
    );
    let n = 0;
    const fresh = () => {
      const repo = path.join(work, `repo-${++n}`);
      spawnSync("cp", ["-a", template, repo]);
      return repo;
    };
    const conn = `--no-password --host ${server.sock} --port ${server.port} --username postgres`;
    // restic 0.18.0 cannot save a --stdin-filename with a directory (restic #5324): holdfast's name there.
    const filename = resticVersion.startsWith("restic 0.18.0 ")
      ? "postgresql_localhost_bench.dump"
      : "postgresql/localhost/bench.dump";
    const tags = "--tag holdfast --tag source:pg --tag job:p8 --tag dump:postgresql --tag db:bench";

    const bare = async () => {
      const repo = fresh();
      const cache = path.join(work, `cache-${n}`);
      const line = `pg_dump --format=custom ${conn} --dbname=bench | nice -n 10 ionice -c3 ${RESTIC} backup --json --host p8 ${tags} --stdin --stdin-filename ${filename} > /dev/null`;
      const r = await runSampled("bash", ["-o", "pipefail", "-c", line], {
        ...env,
        RESTIC_REPOSITORY: repo,
        RESTIC_PASSWORD_FILE: pw,
        RESTIC_CACHE_DIR: cache,
      });
      fs.rmSync(repo, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
      return r;
    };
    const holdfast = async (repos, fanOut) => {
      const made = repos.map(() => fresh());
      const state = path.join(work, `state-${n}`);
      const config = path.join(work, `p8-${n}.yaml`);
      fs.writeFileSync(
        config,
        [
          "version: 1",
          `state_dir: ${state}`,
          "host: p8",
          `restic: { binary: ${RESTIC} }`,
          // The bare pipeline stores no holdfast-meta snapshot; the dump step's cost is what is measured.
          "recovery: { meta: false }",
          "repositories:",
          ...made.map((repo, i) => `  r${i}: { url: ${repo}, password_file: ${pw} }`),
          "jobs:",
          "  p8:",
          "    steps:",
          "      - name: pg",
          "        type: dump",
          "        engine: postgresql",
          `        host: ${server.sock}`,
          `        port: ${server.port}`,
          "        user: postgres",
          "        databases: [bench]",
          "        globals: false",
          `        fan_out: ${fanOut}`,
          `        repos: [${made.map((_, i) => `r${i}`).join(", ")}]`,
        ].join("\n"),
      );
      const r = await runSampled(process.execPath, [CLI, "--config", config, "run", "p8", "--json"], env);
      const run = JSON.parse(r.out.slice(r.out.indexOf("{")));
      const step = run.steps[0];
      if (step.status !== "succeeded")
        throw new Error(`dump step ${step.status}: ${JSON.stringify(step.error)}`);
      for (const repo of made) fs.rmSync(repo, { recursive: true, force: true });
      fs.rmSync(state, { recursive: true, force: true });
      return {
        ...r,
        mode: step.targets[0]?.mode,
        dumpSize: step.targets[0]?.dump_size,
        targets: step.targets,
      };
    };

    // One repository: the P8 target.
    const bareMs = [];
    const holdMs = [];
    const peaks = [];
    let mode = null;
    let dumpSize = null;
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? ["bare", "holdfast"] : ["holdfast", "bare"];
      for (const side of order) {
        if (side === "bare") {
          const r = await bare();
          bareMs.push(r.ms);
          log(`run ${i + 1}/${RUNS} bare: ${Math.round(r.ms)} ms`);
        } else {
          const r = await holdfast(["r0"], "auto");
          holdMs.push(r.ms);
          peaks.push(r.peakKb);
          mode = r.mode;
          dumpSize = r.dumpSize;
          log(
            `run ${i + 1}/${RUNS} holdfast (${r.mode}): ${Math.round(r.ms)} ms, peak RSS ${Math.round(r.peakKb / 1024)} MB`,
          );
        }
      }
    }
    const ratios = holdMs.map((h, i) => h / bareMs[i]);
    const ratio = median(holdMs) / median(bareMs);
    const peakMb = Math.max(...peaks) / 1024;

    // Two repositories: one dump teed into both, against one dump per repository.
    const fanRuns = Number(process.env.HOLDFAST_BENCH_P8_FAN_RUNS ?? Math.max(1, Math.min(RUNS, 2)));
    const tee = [];
    const perRepo = [];
    const teePeaks = [];
    for (let i = 0; i < fanRuns; i++) {
      const order = i % 2 === 0 ? ["tee", "per_repo"] : ["per_repo", "tee"];
      for (const f of order) {
        const r = await holdfast(["r0", "r1"], f);
        (f === "tee" ? tee : perRepo).push(r.ms);
        if (f === "tee") teePeaks.push(r.peakKb);
        log(
          `two repositories, fan_out ${f} (${r.mode}): ${Math.round(r.ms)} ms, peak RSS ${Math.round(r.peakKb / 1024)} MB`,
        );
      }
    }
    const teeRatio = fanRuns > 0 ? median(tee) / median(perRepo) : null;

    const result = {
      id: "P8",
      what: `dump step, a generated PostgreSQL database of ${Math.round(server.size / 2 ** 20)} MiB (pg_database_size; the custom-format dump is ${dumpSize === null ? "?" : Math.round(dumpSize / 2 ** 20)} MiB), one local repository, ${resticVersion}`,
      command: "node bench/p8-dump.mjs",
      baseline:
        "bash -o pipefail -c 'pg_dump --format=custom … | nice -n 10 ionice -c3 restic backup --json --stdin …' (the pipeline holdfast runs), same environment, empty repository each run",
      database_mb: round(server.size / 2 ** 20, 1),
      dump_mb: dumpSize === null ? null : round(dumpSize / 2 ** 20, 1),
      runs: RUNS,
      restic: resticVersion,
      mode,
      cases: [
        {
          case: `wall time, holdfast's mode: ${mode}`,
          ratio_median: round(ratio),
          ratio_min: round(Math.min(...ratios)),
          ratio_max: round(Math.max(...ratios)),
          holdfast_ms_median: Math.round(median(holdMs)),
          bare_ms_median: Math.round(median(bareMs)),
          target: `≤ ${TARGET_RATIO}×`,
          met: ratio <= TARGET_RATIO,
        },
        {
          case: "peak RSS of holdfast (VmHWM of the CLI process, sampled every 20 ms)",
          figure: `${round(peakMb, 1)} MB (max of ${peaks.length} runs; ${peaks.map((k) => Math.round(k / 1024)).join(", ")})`,
          baseline: "–",
          target: `≤ ${TARGET_RSS_MB} MB`,
          met: peakMb <= TARGET_RSS_MB,
        },
        ...(fanRuns === 0
          ? []
          : [
              {
                case: "two local repositories: one dump teed into both (fan_out: tee, the default) vs one dump per repository (fan_out: per_repo)",
                figure: `tee ${Math.round(median(tee))} ms vs per_repo ${Math.round(median(perRepo))} ms: ${round(teeRatio)}× (pg_dump ran once vs twice); tee peak RSS ${Math.round(Math.max(...teePeaks) / 1024)} MB`,
                baseline: "fan_out: per_repo, same data",
                target: "report (issue 16: measure and say which)",
                met: true,
              },
            ]),
      ],
      raw: {
        bare_ms: bareMs.map(Math.round),
        holdfast_ms: holdMs.map(Math.round),
        peak_kb: peaks,
        tee_ms: tee.map(Math.round),
        per_repo_ms: perRepo.map(Math.round),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
