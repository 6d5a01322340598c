// `holdfast serve` as users run it: the built CLI in a child process. Only ever connects to 127.0.0.1.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { collect, parseJson, runCli, startCli } from "../helpers/cli.js";
import { lockPaths } from "../../src/engine/job-lock.js";
import { redactorForConfig } from "../../src/engine/secrets.js";
import { redactDeep } from "../../src/server/http.js";
import { makeFixture } from "./fixture.js";
import { json, serve, waitFor } from "./serve-helper.js";

const POST = { method: "POST", headers: { "X-Holdfast-Request": "1" } };

describe("serve refuses unsafe addresses", () => {
  it("exits 2 on a non-loopback address without a token, with a hint", async () => {
    const fx = makeFixture();
    for (const listen of ["0.0.0.0:0", "[::]:0", "192.0.2.10:0"]) {
      const r = await runCli(["--config", fx.configFile, "serve", "--listen", listen]);
      expect(r.code, listen).toBe(2);
      expect(r.stderr).toContain("without an API token");
      expect(r.stderr).toContain("token_file");
      expect(r.stdout).not.toContain("http://");
    }
  });

  it("exits 2 when server.listen in the config is non-loopback and there is no token", async () => {
    const fx = makeFixture({ extraYaml: "  listen: 0.0.0.0:0\n" });
    const r = await runCli(["--config", fx.configFile, "serve"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to listen on 0.0.0.0:0");
  });

  it("exits 2 on a malformed --listen or a weak token", async () => {
    const fx = makeFixture();
    const bad = await runCli(["--config", fx.configFile, "serve", "--listen", "localhost"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not HOST:PORT");
    const weak = makeFixture({ token: true });
    fs.writeFileSync(weak.config.server.token_file as string, "short\n");
    const r = await runCli(["--config", weak.configFile, "serve", "--listen", "0.0.0.0:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("at least 16 characters");
  });
});

describe("serve on 127.0.0.1", () => {
  it("serves /healthz and the API, starts runs, and stops cleanly on SIGTERM", async () => {
    const fx = makeFixture();
    const s = await serve(fx.configFile, "127.0.0.1:0");
    const health = await fetch(`${s.base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    expect(health.headers.get("x-frame-options")).toBe("DENY");

    const metrics = await fetch(`${s.base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("holdfast_");

    expect((await fetch(`${s.base}/api/jobs/quick/run`, { method: "POST" })).status).toBe(403);
    const res = await fetch(`${s.base}/api/jobs/quick/run`, POST);
    expect(res.status).toBe(202);
    const started = (await json(res)) as { pid: number; run_id: string | null };
    expect(started.pid).toBeGreaterThan(0);
    const runId = await waitFor("the run id", async () => {
      if (started.run_id) return started.run_id;
      const { runs } = (await json(await fetch(`${s.base}/api/runs?job=quick&limit=1`))) as {
        runs: Array<{ id: string }>;
      };
      return runs[0]?.id ?? null;
    });
    const run = await waitFor("the run to finish", async () => {
      const r = (await json(await fetch(`${s.base}/api/runs/${runId}`))) as {
        status: string;
        trigger: string;
      };
      return r.status === "running" ? null : r;
    });
    expect(run).toMatchObject({ status: "succeeded", trigger: "api" });

    s.child.kill("SIGTERM");
    const result = await s.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("SIGTERM received, stopping the server");
  });

  it("answers with the same JSON as status/history/show/config show --json", async () => {
    const fx = makeFixture();
    expect((await runCli(["--config", fx.configFile, "run", "quick"])).code).toBe(0);
    expect((await runCli(["--config", fx.configFile, "run", "nightly"])).code).toBe(1); // backup needs restic repos
    const s = await serve(fx.configFile, "127.0.0.1:0");
    const redactor = redactorForConfig(fx.config);
    const api = async (p: string) => json(await fetch(`${s.base}${p}`));
    const cli = async (...args: string[]) => {
      const r = await runCli(["--config", fx.configFile, ...args]);
      expect(r.code, args.join(" ")).toBe(0);
      return redactDeep(parseJson(r), redactor);
    };

    expect(await api("/api/runs?limit=50")).toEqual({
      ...((await cli("history", "--json", "--limit", "50")) as object),
      next_before: null,
      next_before_run: null,
    });
    expect(await api("/api/runs?job=quick")).toMatchObject(
      (await cli("history", "quick", "--json")) as object,
    );
    expect(await api("/api/runs/latest")).toEqual(await cli("show", "latest", "--json"));
    expect(await api("/api/config")).toEqual(await cli("config", "show", "--json"));
    // Timing fields move between the two calls; everything else must match. The API adds the
    // server's freshness verdict (freshness, due_at, grace_ms) to each job.
    const norm = (v: unknown) =>
      JSON.parse(JSON.stringify(v), (k, val: unknown) =>
        k === "stale_for_ms" || k === "next_run_at"
          ? "…"
          : k === "freshness" || k === "due_at" || k === "grace_ms"
            ? undefined
            : val,
      ) as unknown;
    const status = await api("/api/status");
    expect(status.jobs.map((j: { freshness: string }) => j.freshness)).toEqual(
      status.jobs.map(() => expect.any(String)),
    );
    expect(norm(status)).toEqual(norm(await cli("status", "--json")));
  });

  it("409 while another run of the job holds its lock — by the holder file, and by the child's exit 4", async () => {
    const fx = makeFixture();
    const s = await serve(fx.configFile, "127.0.0.1:0");
    const holder = startCli(["--config", fx.configFile, "run", "slow"]);
    const holderDone = collect(holder);
    const paths = lockPaths(fx.config.state_dir, "slow");
    await waitFor("the lock holder", () => (fs.existsSync(paths.holder) ? true : null));

    const res = await fetch(`${s.base}/api/jobs/slow/run`, POST);
    expect(res.status).toBe(409);
    const body = (await json(res)) as { error: { kind: string }; holder: { pid: number } };
    expect(body.error.kind).toBe("conflict");
    expect(body.holder.pid).toBe(holder.pid);

    // Without the holder file the server cannot tell; the child it starts finds the lock taken.
    fs.rmSync(paths.holder);
    const again = await fetch(`${s.base}/api/jobs/slow/run`, POST);
    expect(again.status).toBe(409);
    const againBody = (await json(again)) as { error: { message: string }; holder: unknown };
    expect(againBody.error.message).toContain('job "slow" is already running');
    expect(againBody.holder).toBeNull(); // the exit-4 path, not the holder file

    expect((await holderDone).code).toBe(0);
    const { runs } = (await json(await fetch(`${s.base}/api/runs?job=slow`))) as { runs: unknown[] };
    expect(runs).toHaveLength(1);
  });
});

describe("cancel a running job (POST /api/runs/:id/cancel)", () => {
  it("SIGTERMs the run's own process: recorded cancelled, exit 143; a finished run is 409", async () => {
    const fx = makeFixture();
    const s = await serve(fx.configFile, "127.0.0.1:0");
    const holder = startCli(["--config", fx.configFile, "run", "slow"]);
    const holderDone = collect(holder);
    const runId = await waitFor("the slow run to be recorded running", async () => {
      const { runs } = (await json(await fetch(`${s.base}/api/runs?job=slow&limit=1`))) as {
        runs: Array<{ id: string; status: string; steps: Array<{ status: string }> }>;
      };
      const r = runs[0];
      return r && r.status === "running" && r.steps[0]?.status === "running" ? r.id : null;
    });
    // Without the header every POST is refused (CSRF), cancel included.
    expect((await fetch(`${s.base}/api/runs/${runId}/cancel`, { method: "POST" })).status).toBe(403);
    const res = await fetch(`${s.base}/api/runs/${runId}/cancel`, POST);
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await json(res)).toMatchObject({ run_id: runId, pid: holder.pid, state: "cancelling" });
    const ended = await holderDone;
    expect(ended.code, ended.stderr).toBe(143);
    const run = (await json(await fetch(`${s.base}/api/runs/${runId}`))) as {
      status: string;
      steps: Array<{ status: string }>;
    };
    expect(run.status).toBe("cancelled");
    expect(run.steps[0]?.status).toBe("cancelled");

    const again = await fetch(`${s.base}/api/runs/${runId}/cancel`, POST);
    expect(again.status).toBe(409);
    expect(((await json(again)) as { error: { message: string } }).error.message).toContain("is not running");
    expect((await fetch(`${s.base}/api/runs/01ZZZZZZZZZZZZZZZZZZZZZZZZ/cancel`, POST)).status).toBe(404);
  });
});

describe("serve with a token", () => {
  it("may listen on 0.0.0.0; every API call needs the token", async () => {
    const fx = makeFixture({ token: true });
    const s = await serve(fx.configFile, "0.0.0.0:0");
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.base}/`)).status).toBe(200);
    for (const p of ["/api/status", "/api/runs", "/api/config", "/metrics"]) {
      expect((await fetch(`${s.base}${p}`)).status, p).toBe(401);
      expect(
        (await fetch(`${s.base}${p}`, { headers: { Authorization: "Bearer wrong-token-0123456789" } }))
          .status,
        p,
      ).toBe(401);
      const ok = await fetch(`${s.base}${p}`, { headers: { Authorization: `Bearer ${fx.token}` } });
      expect(ok.status, p).toBe(200);
      expect(await ok.text()).not.toContain(fx.token);
    }
    expect((await fetch(`${s.base}/api/jobs/quick/run`, POST)).status).toBe(401);
  });
});
