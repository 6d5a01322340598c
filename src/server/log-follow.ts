// GET /api/runs/:id/logs/follow?step=NAME&from=BYTE: one step's log as Server-Sent Events, from a byte
// offset on, following it while the step runs and ending with an `end` event when it has finished.
//
// Where the output is: the run process writes each line of a running step, redacted, to the plain file
// STATE/logs/RUN/NN-step.log (engine/step-log.ts) and gzips it when the step ends. This reads that
// file from the offset, every FOLLOW_POLL_MS while new bytes come (an fstat of an open descriptor; no
// database read or write per line), and re-reads the step's record only when the event bus says the
// step or run changed, or every STATUS_RECHECK_MS. The descriptor stays open, so the file's bytes stay
// readable after the run process has compressed and removed it; a follower that comes after that
// reads the .gz and skips `from` bytes of it (the offsets are the same: the .gz is the plain file).
//
// Redaction is the same as GET /api/runs/:id/logs: the file holds what the run's redactor let
// through, and every line is redacted again with the server's before it is sent. Only whole lines are
// sent while the step runs (a secret is never cut in two at a chunk's edge); the last unterminated
// bytes go with the end. Each `log` event's id is the offset after it, so a reconnect with
// Last-Event-ID (or ?from=) resumes without a gap or a repeat.
import fs from "node:fs";
import { createGunzip } from "node:zlib";
import type { ServerContext } from "./context.js";
import { ApiError } from "./http.js";
import type { LogEndEvent, LogEvent } from "./api-types.js";
import { findStepLog, stepLogRefusal } from "../engine/step-log.js";
import { isHoldfastProcessAlive } from "../engine/recover.js";
import { READ_NO_FOLLOW } from "../util/trusted-dir.js";
import type { RunRecord, RunStatus, StepRecord } from "../store/types.js";

/** How often a growing log is looked at for new bytes. */
export const FOLLOW_POLL_MS = 250;
/** How often the step's record is re-read when no event said it changed. */
const STATUS_RECHECK_MS = 2_000;
/** The most bytes one `log` event carries. */
const CHUNK_BYTES = 256 * 1024;
export const FOLLOW_KEEPALIVE_MS = 15_000;
/** Open follow streams at once (each is a socket, a descriptor and a timer). */
export const MAX_FOLLOWERS = 32;

let followers = 0;

const settled = (s: StepRecord["status"]) => s !== "running" && s !== "pending";

/** Parses ?from= / Last-Event-ID: a byte offset, 0 by default. */
export function followOffset(text: string | null | undefined): number {
  if (text === undefined || text === null || text === "") return 0;
  if (!/^\d{1,15}$/.test(text)) {
    throw new ApiError(
      400,
      "bad_request",
      `from=${text.slice(0, 40)} is not a byte offset`,
      "give the id of the last `log` event received (a whole number), or 0 for the start",
    );
  }
  return Number(text);
}

export interface FollowRequest {
  run: RunRecord;
  step: StepRecord;
  from: number;
  /** The request's abort signal (the client went away). */
  signal: AbortSignal;
}

export function followStepLog(ctx: ServerContext, req: FollowRequest): Response {
  if (followers >= MAX_FOLLOWERS) {
    throw new ApiError(
      503,
      "busy",
      `${MAX_FOLLOWERS} log streams are open already`,
      "close some log views, or read GET /api/runs/:id/logs?step= instead",
      {},
      { "Retry-After": "10" },
    );
  }
  const encoder = new TextEncoder();
  const { run } = req;
  const index = req.step.index;
  const stateDir = ctx.config.state_dir;
  const local = run.host === ctx.config.host;

  let step = req.step;
  let runStatus: RunStatus = run.status;
  let sent = req.from;
  let fd: fs.promises.FileHandle | null = null;
  let closed = false;
  let wake: (() => void) | null = null;
  let statusDirty = false;
  let lastStatusRead = Date.now();
  let unsubscribe = () => {};
  let keepalive: NodeJS.Timeout | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let pulled: (() => void) | null = null;

  /** Waits while the client has not taken what was sent (a slow reader of a long log). */
  const room = async () => {
    while (!closed && (controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((resolve) => {
        pulled = resolve;
      });
    }
  };
  const redactLines = (text: string) =>
    text
      .split("\n")
      .map((line) => ctx.redactor.redact(line))
      .join("\n");
  const send = (text: string) => {
    if (closed) return;
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      finish();
    }
  };
  const sendLog = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    const from = sent;
    sent += bytes.length;
    const data: LogEvent = { from, to: sent, text: redactLines(bytes.toString("utf8")) };
    send(`id: ${sent}\nevent: log\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sendNote = (text: string) => {
    const data: LogEvent = { from: sent, to: sent, text: `${ctx.redactor.redact(text)}\n` };
    send(`event: log\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    followers--;
    unsubscribe();
    if (keepalive) clearInterval(keepalive);
    wake?.();
    pulled?.();
    void fd?.close().catch(() => undefined);
    fd = null;
    try {
      controller.close();
    } catch {
      /* already closed by the client */
    }
  };

  const plainPath = () => {
    const p = step.log_path;
    if (!p) return null;
    return p.endsWith(".gz") ? p.slice(0, -3) : p;
  };

  /** Reads what the open descriptor has from `sent` on; whole lines only unless `all`. */
  const drain = async (all: boolean): Promise<void> => {
    if (!fd) return;
    for (;;) {
      await room();
      if (closed || !fd) return;
      const { size } = await fd.stat();
      if (size < sent) return; // truncated (a full disk): nothing more to follow here
      const want = Math.min(CHUNK_BYTES, size - sent);
      if (want === 0) return;
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fd.read(buf, 0, want, sent);
      if (bytesRead === 0) return;
      const got = buf.subarray(0, bytesRead);
      const nl = got.lastIndexOf(0x0a);
      if (nl >= 0 && !(all && bytesRead < CHUNK_BYTES)) sendLog(got.subarray(0, nl + 1));
      // The end of a finished log, or one line longer than a chunk: as it is.
      else if (all || bytesRead === CHUNK_BYTES) sendLog(got);
      else return; // half a line: the rest is on its way
      if (bytesRead < want) return;
    }
  };

  /** After the step ended and no descriptor was open: the rest from the kept log (plain or .gz). */
  const sendRestFromFile = async (): Promise<void> => {
    const refusal = step.log_path ? stepLogRefusal(stateDir, step.log_path) : null;
    if (refusal) {
      sendNote(`(${refusal})`);
      return;
    }
    const file = step.log_path ? findStepLog(stateDir, step.log_path) : null;
    if (!file) {
      if (sent === 0 && step.status !== "skipped" && step.status !== "pending")
        sendNote("(no output captured)");
      return;
    }
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, READ_NO_FOLLOW);
    } catch (err) {
      sendNote(`(the log could not be read: ${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return;
    }
    if (!file.endsWith(".gz")) {
      fd = handle;
      await drain(true);
      return;
    }
    const input = handle.createReadStream();
    const gunzip = createGunzip();
    input.on("error", (err) => gunzip.destroy(err));
    let skip = sent;
    let rest: Buffer = Buffer.alloc(0);
    try {
      for await (const chunk of input.pipe(gunzip) as AsyncIterable<Buffer>) {
        if (closed) break;
        let c = chunk;
        if (skip > 0) {
          const n = Math.min(skip, c.length);
          skip -= n;
          c = c.subarray(n);
        }
        rest = rest.length ? Buffer.concat([rest, c]) : c;
        // Whole lines per event, so no character or secret is cut in two.
        while (rest.length >= CHUNK_BYTES) {
          const nl = rest.subarray(0, CHUNK_BYTES).lastIndexOf(0x0a);
          const cut = nl >= 0 ? nl + 1 : CHUNK_BYTES;
          sendLog(rest.subarray(0, cut));
          rest = rest.subarray(cut);
          await room();
        }
      }
      sendLog(rest);
    } catch (err) {
      sendNote(`(the log could not be read: ${(err as Error).message})`);
    } finally {
      input.destroy();
      gunzip.destroy();
      await handle.close().catch(() => undefined);
    }
  };

  const refreshStep = async (): Promise<void> => {
    statusDirty = false;
    lastStatusRead = Date.now();
    const fresh = await ctx.store.getRun(run.id);
    const s = fresh?.steps[index];
    if (!fresh || !s) {
      runStatus = "interrupted";
      return;
    }
    step = s;
    runStatus = fresh.status;
    // A run whose process is gone without recording its end (SIGKILL, power cut): the step will
    // never finish (`holdfast status` records the run interrupted); nothing more will be written.
    if (runStatus === "running" && fresh.pid !== process.pid && !isHoldfastProcessAlive(fresh.pid)) {
      runStatus = "interrupted";
    }
  };

  const loop = async (): Promise<void> => {
    try {
      for (;;) {
        if (closed) return;
        if (statusDirty || Date.now() - lastStatusRead >= STATUS_RECHECK_MS) await refreshStep();
        // Done when the step has its result, or the run ended without one (a step never started),
        // or the run is another host's (its log is not on this disk to follow).
        const done = settled(step.status) || runStatus !== "running" || !local;
        if (!fd && step.status === "running") {
          const plain = plainPath();
          const refusal = plain ? stepLogRefusal(stateDir, plain) : null;
          if (plain && refusal === null) {
            try {
              fd = await fs.promises.open(plain, READ_NO_FOLLOW);
            } catch {
              fd = null; // not created yet, or already compressed: looked at again below / at the end
            }
          }
        }
        if (done) {
          // Everything the step wrote is in the file now (the log is flushed before the record says so).
          if (fd) await drain(true);
          else await sendRestFromFile();
          const end: LogEndEvent = { status: step.status, run_status: runStatus, to: sent };
          send(`event: end\ndata: ${JSON.stringify(end)}\n\n`);
          finish();
          return;
        }
        await drain(false);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FOLLOW_POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    } catch (err) {
      if (!closed) {
        sendNote(`(the log could not be read: ${(err as Error).message})`);
        finish();
      }
    }
  };

  followers++;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      send("retry: 3000\n\n");
      unsubscribe = ctx.events.subscribe((ev) => {
        const d = ev.data as { run_id?: string; index?: number };
        if (d.run_id !== run.id) return;
        if (ev.name === "run" || (ev.name === "step" && d.index === index)) {
          statusDirty = true;
          wake?.();
        }
      });
      keepalive = setInterval(() => send(": keep-alive\n\n"), FOLLOW_KEEPALIVE_MS);
      keepalive.unref();
      void loop();
    },
    pull() {
      pulled?.();
      pulled = null;
    },
    cancel() {
      finish();
    },
  });
  req.signal.addEventListener("abort", () => finish(), { once: true });
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    },
  });
}
