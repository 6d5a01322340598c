// GET /api/events: one Server-Sent Events stream with everything that changes — runs and steps (from
// the run processes' live files, server/live-runs.ts), backup progress at ≤ 1 Hz, and the server's own
// restores and downloads. Ids are EPOCH.N: a client that reconnects with Last-Event-ID gets what it
// missed from the in-memory ring (events.ts), or `reset` + `hello` when that is gone or the server
// restarted. A comment every 15 s keeps proxies from closing an idle stream.
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { ApiError, redactedJson } from "../http.js";
import type { HelloEvent } from "../api-types.js";
import type { LiveEvent } from "../events.js";

export const KEEPALIVE_MS = 15_000;
/** More streams than this at once are refused (each is a socket and a listener). */
export const MAX_STREAMS = 64;
/** A client that reads nothing while this much is queued for it is dropped (it reconnects and resumes). */
const MAX_QUEUED = 1 << 20;

export function eventRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const { events } = ctx;
  let open = 0;

  app.get("/api/events", (c) => {
    if (open >= MAX_STREAMS) {
      throw new ApiError(
        503,
        "busy",
        `${MAX_STREAMS} event streams are open already`,
        "close some dashboard tabs, or poll GET /api/status instead",
        {},
        { "Retry-After": "10" },
      );
    }
    ctx.live?.start();
    const lastId = c.req.header("Last-Event-ID") ?? c.req.query("last_event_id") ?? null;
    const encoder = new TextEncoder();
    const format = (ev: { id?: string; name: string; data: unknown }) =>
      `${ev.id ? `id: ${ev.id}\n` : ""}event: ${ev.name}\ndata: ${redactedJson(ev.data, ctx.redactor)}\n\n`;
    const idOf = (ev: LiveEvent) => `${events.epoch}.${ev.id}`;
    let cleanup = () => {};

    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        open++;
        let closed = false;
        const send = (text: string) => {
          if (closed) return;
          if ((controller.desiredSize ?? 0) < -MAX_QUEUED) {
            cleanup();
            controller.close();
            return;
          }
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            cleanup();
          }
        };
        const hello = () => {
          const data: HelloEvent = {
            now: ctx.now().toISOString(),
            running: ctx.live?.running() ?? [],
            operations: ctx.operations?.running() ?? [],
          };
          const last = events.lastId;
          send(format({ ...(last > 0 ? { id: `${events.epoch}.${last}` } : {}), name: "hello", data }));
          // The latest progress of what runs, so a new tab shows the figures at once (no id: they are
          // a picture of now, not part of the series).
          for (const p of ctx.live?.progress() ?? []) send(format({ name: "progress", data: p }));
        };

        send(`retry: 3000\n\n`);
        let replay: LiveEvent[] | null = null;
        if (lastId !== null) {
          const m = /^([0-9a-z]+)\.(\d+)$/.exec(lastId);
          if (m?.[1] === events.epoch) replay = events.since(Number(m[2]));
          if (replay === null) {
            send(
              format({
                name: "reset",
                data: {
                  reason:
                    m?.[1] === events.epoch
                      ? "the events since Last-Event-ID are no longer kept"
                      : "the server restarted since Last-Event-ID",
                },
              }),
            );
          }
        }
        if (replay) for (const ev of replay) send(format({ id: idOf(ev), name: ev.name, data: ev.data }));
        else hello();

        const unsubscribe = events.subscribe((ev) =>
          send(format({ id: idOf(ev), name: ev.name, data: ev.data })),
        );
        const keepalive = setInterval(() => send(": keep-alive\n\n"), KEEPALIVE_MS);
        keepalive.unref();
        cleanup = () => {
          if (closed) return;
          closed = true;
          open--;
          clearInterval(keepalive);
          unsubscribe();
        };
      },
      cancel() {
        cleanup();
      },
    });
    c.req.raw.signal.addEventListener("abort", () => cleanup(), { once: true });
    return c.body(body, 200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      // nginx: pass each event through as it comes.
      "X-Accel-Buffering": "no",
    });
  });
  return app;
}
