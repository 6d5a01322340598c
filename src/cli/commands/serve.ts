// `holdfast serve [--listen HOST:PORT]`: the dashboard and HTTP API (S4: loopback by default; any other
// address only with a token). Runs and restores it starts are child processes of the built CLI, so
// stopping the server never stops a backup.
import fs from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { UsageError } from "../../errors.js";
import type { Config } from "../../config/types.js";
import type { HubReader } from "../../fleet/hub.js";
import { createApp } from "../../server/app.js";
import { createCliLauncher } from "../../server/launcher.js";
import { createServerResticHost, type ServerResticHost } from "../../server/restic-host.js";
import { formatListenUrl, isLoopbackHost, parseListen } from "../../server/listen.js";
import { recoverInterruptedRuns } from "../../engine/recover.js";
import { renderMetrics } from "../../metrics/render-metrics.js";
import { HOLDFAST_TAG, snapshots, sourceTag } from "../../restic/commands.js";
import { resticHostForCli } from "../../restic/host.js";
import type { SnapshotList } from "../../server/context.js";
import { redactorForConfig } from "../../engine/secrets.js";
import { readTokens, tokensFileOf } from "../../server/tokens.js";
import { holdfastMainPath } from "../../scheduler/holdfast-command.js";
import { cliResticEnv, jsonError } from "./restic-shared.js";
import { snapshotJson } from "./snapshots.js";
import { isMetaSnapshot } from "../../sources/adopt.js";
import { loadCliConfig, openStore, type GlobalOptions } from "../context.js";

const MIN_TOKEN_LENGTH = 16;
/** A snapshots listing that takes longer than this (a backend that stopped answering) is given up. */
const SNAPSHOTS_TIMEOUT_MS = 120_000;
const TOKEN_HINT =
  "put a long random token in a file and name it in the config: `openssl rand -hex 32 > /etc/holdfast/secrets/server.token && chmod 600 /etc/holdfast/secrets/server.token`, then `server: { token_file: /etc/holdfast/secrets/server.token }`";

export function readServerToken(config: Config): string | null {
  const file = config.server.token_file;
  if (!file) return null;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read server.token_file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      TOKEN_HINT,
    );
  }
  const token = text.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new UsageError(
      `server.token_file ${file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters, without spaces`,
      TOKEN_HINT,
    );
  }
  try {
    if ((fs.statSync(file).mode & 0o077) !== 0) {
      process.stderr.write(`holdfast: warning: ${file} is readable by other users; chmod 600 it\n`);
    }
  } catch {
    /* read above; a stat failure here changes nothing */
  }
  return token;
}

/** `restic snapshots` for GET /api/snapshots, in the JSON of `holdfast snapshots --json`. */
function createSnapshotLister(config: Config, stopping: AbortSignal) {
  const redactor = redactorForConfig(config);
  return async (repoName: string, filter: { source: string | null }): Promise<SnapshotList> => {
    const repo = config.repositories[repoName];
    if (!repo)
      return {
        snapshots: [],
        error: { kind: "config", message: `no repository named "${repoName}"`, hint: null },
      };
    let env: Record<string, string>;
    try {
      env = cliResticEnv(config);
    } catch (err) {
      return { snapshots: [], error: { kind: "config", message: (err as Error).message, hint: null } };
    }
    const host = resticHostForCli(config, {
      env,
      signal: AbortSignal.any([stopping, AbortSignal.timeout(SNAPSHOTS_TIMEOUT_MS)]),
      deadline: Date.now() + SNAPSHOTS_TIMEOUT_MS,
    });
    const result = await snapshots(
      host,
      repo,
      filter.source !== null ? { tags: [[HOLDFAST_TAG, sourceTag(filter.source)]] } : {},
    );
    return {
      // holdfast's recovery snapshots (holdfast-meta) are not the user's: the dashboard leaves them out.
      snapshots: result.snapshots
        .filter((s) => !isMetaSnapshot(s))
        .map((s) => snapshotJson(s, config.sources)),
      error: result.outcome.ok
        ? null
        : (jsonError(result.outcome.error, redactor) ?? {
            kind: "internal",
            message: "restic failed",
            hint: null,
          }),
    };
  };
}

export default async function serve(
  global: GlobalOptions,
  flags: { listen?: string; store?: string },
): Promise<number> {
  const { config } = loadCliConfig(global, { allowEmbedded: true });
  const storeKind = flags.store ?? "sqlite";
  if (storeKind !== "sqlite" && storeKind !== "postgres")
    throw new UsageError(
      `--store ${storeKind} is not a store`,
      "use --store postgres for the fleet hub (docs/fleet.md), or leave it out",
    );
  const listenText = flags.listen ?? config.server.listen;
  const address = parseListen(listenText);
  if (!address) {
    throw new UsageError(
      `--listen ${listenText} is not HOST:PORT`,
      "e.g. --listen 127.0.0.1:8760 or --listen [::1]:8760",
    );
  }
  const token = readServerToken(config);
  const tokensFile = tokensFileOf(config.state_dir);
  const named = readTokens(tokensFile).length;
  if (token === null && named === 0 && !isLoopbackHost(address.host)) {
    throw new UsageError(
      `refusing to listen on ${listenText} without an API token: anyone who can reach it could read the backup history and start runs`,
      `${TOKEN_HINT}; or make named tokens with \`holdfast serve token add NAME --role operator\`; or listen on 127.0.0.1`,
    );
  }

  // The fleet hub (issue 18): the fleet database through the viewer role; checked before listening.
  const fleet = storeKind === "postgres" ? await openFleetForServe(config) : undefined;
  const store = openStore(config);
  const stopping = new AbortController();
  const launcher = createCliLauncher({
    cliPath: holdfastMainPath(),
    configFile: config.file,
    stateDir: config.state_dir,
    store,
  });
  let resticHost: ServerResticHost | undefined;
  try {
    resticHost = createServerResticHost(config, cliResticEnv(config), stopping.signal);
  } catch (err) {
    process.stderr.write(
      `holdfast: warning: snapshots cannot be browsed or restored: ${redactorForConfig(config).redact((err as Error).message)}\n`,
    );
  }
  const app = createApp({
    config,
    ...(resticHost ? { resticHost } : {}),
    store,
    token,
    tokensFile,
    watchRuns: true,
    runJob: launcher.runJob,
    snapshots: createSnapshotLister(config, stopping.signal),
    renderMetrics: fleet
      ? async () => (await import("../../fleet/fleet-metrics.js")).renderFleetMetrics(await fleet.view())
      : async () => {
          await recoverInterruptedRuns(store, { host: config.host });
          return renderMetrics(config, store, new Date());
        },
    ...(fleet ? { fleet } : {}),
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address.port, address.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    await fleet?.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot listen on ${listenText}: ${code === "EADDRINUSE" ? "the address is in use" : (err as Error).message}`,
      code === "EADDRINUSE"
        ? "stop the other server or pick another port with --listen"
        : "check the address (server.listen or --listen)",
    );
  }

  // The dashboard's files are read and compressed (brotli 11) at the first request for one; do it now,
  // after the socket is up, so the first visitor does not wait for it.
  setImmediate(() => void Promise.resolve(app.request("/index.html")).catch(() => undefined));
  const bound = server.address() as AddressInfo;
  const url = formatListenUrl(address.host, bound.port);
  process.stdout.write(
    `holdfast: dashboard and API on ${url}${fleet ? ` (fleet hub: ${fleet.where})` : ""} (${token !== null || named > 0 ? `API token required${named > 0 ? `; ${named} named token${named === 1 ? "" : "s"}` : ""}` : "loopback only; POSTs need the header X-Holdfast-Request: 1"})\n`,
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  process.stdout.write(`holdfast: ${signal} received, stopping the server (runs it started go on)\n`);
  stopping.abort(signal);
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections from browsers would hold close() open.
    server.closeAllConnections();
  });
  await store.close();
  await fleet?.close();
  return 0;
}

async function openFleetForServe(config: Config): Promise<HubReader> {
  const { openHubReader } = await import("../../fleet/hub.js");
  const reader = openHubReader(config, { max: 4 });
  try {
    await reader.view();
  } catch (err) {
    await reader.close();
    throw err;
  }
  return reader;
}
